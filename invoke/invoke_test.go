package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// fakeStore keeps invocations in memory. Methods the invoke path does not
// call panic through the nil embedded interface.
type fakeStore struct {
	orc.InvocationService

	mu           sync.Mutex
	rows         map[string]*orc.Invocation
	byKey        map[string]string
	createErr    error
	deleteErr    error
	deleted      []string
	marked       []string
	rejected     []*orc.Invocation
	unqueued     []*orc.Invocation
	unqueuedAt   time.Time
	forgotten    []string
	forgetBefore time.Time
	// markHold, when set, holds MarkPublished until it is closed.
	markHold chan struct{}
}

func newFakeStore() *fakeStore {
	return &fakeStore{rows: map[string]*orc.Invocation{}, byKey: map[string]string{}}
}

func (f *fakeStore) CreateInvocation(ctx context.Context, inv *orc.Invocation) (*orc.Invocation, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, false, f.createErr
	}
	if inv.IdempotencyKey != "" {
		if id, ok := f.byKey[inv.IdempotencyKey]; ok {
			cp := *f.rows[id]
			return &cp, false, nil
		}
		f.byKey[inv.IdempotencyKey] = inv.ID
	}
	cp := *inv
	cp.Status = orc.StatusQueued
	f.rows[inv.ID] = &cp
	out := cp
	return &out, true, nil
}

func (f *fakeStore) RecordRejected(ctx context.Context, inv *orc.Invocation, logs []orc.LogLine) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = append(f.rejected, inv)
	return nil
}

func (f *fakeStore) DeleteInvocation(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleteErr != nil {
		return f.deleteErr
	}
	f.deleted = append(f.deleted, id)
	delete(f.rows, id)
	return nil
}

func (f *fakeStore) MarkPublished(ctx context.Context, ids ...string) error {
	if f.markHold != nil {
		<-f.markHold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.marked = append(f.marked, id)
		if r := f.rows[id]; r != nil {
			r.Published = true
		}
	}
	return nil
}

func (f *fakeStore) FindInvocation(ctx context.Context, id string) (*orc.Invocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rows[id]
	if r == nil {
		return nil, orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	cp := *r
	return &cp, nil
}

func (f *fakeStore) CancelInvocation(ctx context.Context, id string, at time.Time) (*orc.Invocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rows[id]
	if r == nil {
		return nil, orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	if r.Status.Terminal() {
		return nil, orc.Errorf(orc.ECONFLICT, "invocation is already %s", r.Status)
	}
	r.Status = orc.StatusCanceled
	cp := *r
	return &cp, nil
}

func (f *fakeStore) ForgetDroppedTasks(ctx context.Context, before time.Time, ids ...string) error {
	f.forgotten, f.forgetBefore = append(f.forgotten, ids...), before
	return nil
}

func (f *fakeStore) UnpublishedInvocations(ctx context.Context, before time.Time, limit int) ([]*orc.Invocation, error) {
	f.unqueuedAt = before
	return f.unqueued, nil
}

// row returns a copy of a stored invocation, or nil.
func (f *fakeStore) row(id string) *orc.Invocation {
	inv, _ := f.FindInvocation(context.Background(), id)
	return inv
}

// finish makes a row final, as a worker's commit would.
func (f *fakeStore) finish(id string, status orc.Status, output string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows[id].Status, f.rows[id].Output = status, json.RawMessage(output)
}

// fakeBroker records tasks; onPublish, when set, runs inside Publish (a
// worker that answers before the confirm returns).
type fakeBroker struct {
	mu         sync.Mutex
	tasks      []*orc.Task
	publishErr error
	readyErr   error
	onPublish  func(*orc.Task)
	canceled   []string
}

func (b *fakeBroker) Publish(ctx context.Context, t *orc.Task) error {
	if b.onPublish != nil {
		b.onPublish(t)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.publishErr != nil {
		return b.publishErr
	}
	b.tasks = append(b.tasks, t)
	return nil
}

func (b *fakeBroker) published() []*orc.Task {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*orc.Task(nil), b.tasks...)
}

func (b *fakeBroker) ReplyQueue() string { return "orc.reply.gw" }
func (b *fakeBroker) Ready() error       { return b.readyErr }
func (b *fakeBroker) BroadcastCancel(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.canceled = append(b.canceled, id)
	return nil
}

type fakePlugins struct{ versions map[string]*orc.Version }

func (p fakePlugins) FindPlugin(ctx context.Context, name string) (*orc.Plugin, error) {
	v := p.versions[name]
	if v == nil {
		return nil, orc.Errorf(orc.ENOTFOUND, "plugin %q not found", name)
	}
	return &orc.Plugin{Name: name, OwnerID: 1, Latest: v}, nil
}

func (p fakePlugins) FindVersion(ctx context.Context, plugin, version string) (*orc.Version, error) {
	if v := p.versions[plugin]; v != nil && (version == "" || version == v.Version) {
		return v, nil
	}
	return nil, orc.Errorf(orc.ENOTFOUND, "version not found")
}

func (p fakePlugins) PoolExists(ctx context.Context, pool string) (bool, error) { return true, nil }

type acceptAll struct{}

func (acceptAll) ValidateInput(v *orc.Version, doc []byte) error { return nil }

// denyHook refuses every invocation.
type denyHook struct{}

func (denyHook) HasHooks(phase orc.HookPhase, v *orc.Version) bool { return phase == orc.HookPre }
func (denyHook) Run(ctx context.Context, req *orc.HookRequest, v *orc.Version) (*orc.HookOutcome, error) {
	return &orc.HookOutcome{Logs: []orc.LogLine{{Stream: "hook:deny", Line: "no"}}},
		&orc.Error{Code: orc.EDENIED, Message: "not today", Status: 451}
}

func newTestService(t *testing.T) (*Service, *fakeStore, *fakeBroker) {
	t.Helper()
	exec := &orc.Version{ID: 1, Plugin: "echo", Version: "1.0.0", Image: "echo:1"}
	exec.SetDefaults()
	warm := &orc.Version{ID: 2, Plugin: "warm", Version: "1.0.0", Image: "warm:1", Protocol: orc.ProtocolHTTP}
	warm.SetDefaults()
	store, broker := newFakeStore(), &fakeBroker{}
	s := New(Config{PollInterval: 10 * time.Millisecond, SyncGrace: time.Second}, nil)
	s.Plugins = fakePlugins{versions: map[string]*orc.Version{"echo": exec, "warm": warm}}
	s.Invocations, s.Broker, s.Schemas = store, broker, acceptAll{}
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { s.Flush(context.Background()) })
	return s, store, broker
}

func alice() context.Context {
	return orc.NewContextWithPrincipal(context.Background(), &orc.Principal{UserID: 1, Email: "a@x", Role: orc.RoleDeveloper})
}

func TestSubmitAsyncRecordsBeforePublishing(t *testing.T) {
	s, store, broker := newTestService(t)
	var rowAtPublish *orc.Invocation
	broker.onPublish = func(task *orc.Task) { rowAtPublish = store.row(task.InvocationID) }
	tk, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{"a":1}`), Async: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	if !tk.Created || tk.Invocation.Status != orc.StatusQueued {
		t.Fatalf("ticket = %+v", tk)
	}
	if rowAtPublish == nil {
		t.Fatal("an asynchronous invocation was published before it was recorded")
	}
	tasks := broker.published()
	if len(tasks) != 1 || tasks[0].ReplyTo != "" || tasks[0].Input != nil {
		t.Fatalf("tasks = %+v; want one, without reply queue, without input (exec version)", tasks)
	}
}

func TestSubmitTaskCarriesSmallInputOfWarmVersions(t *testing.T) {
	for _, async := range []bool{false, true} {
		s, _, broker := newTestService(t)
		tk, err := s.Submit(alice(), Request{Plugin: "warm", Input: []byte(`{"a":1}`), Async: async})
		if err != nil {
			t.Fatal(err)
		}
		tk.Close()
		tasks := broker.published()
		if len(tasks) != 1 || string(tasks[0].Input) != `{"a":1}` || tasks[0].VersionID != 2 {
			t.Fatalf("async %v: tasks = %+v; want the input on the task", async, tasks)
		}
	}
}

func TestSubmitSyncWaitsBeforePublishing(t *testing.T) {
	s, store, broker := newTestService(t)
	// The worker answers inside Publish, before its confirm: the reply
	// must find the waiter.
	broker.onPublish = func(task *orc.Task) {
		s.Deliver(&orc.Reply{InvocationID: task.InvocationID, Status: orc.StatusSucceeded, Output: json.RawMessage(`{"ok":1}`)})
	}
	tk, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	ctx, cancel := context.WithTimeout(alice(), 100*time.Millisecond)
	defer cancel()
	reply, err := s.Await(ctx, tk)
	if err != nil || string(reply.Output) != `{"ok":1}` {
		t.Fatalf("reply %+v, %v; want the worker's reply", reply, err)
	}
	if store.row(tk.Invocation.ID) == nil {
		t.Fatal("the invocation was not recorded")
	}
	if tasks := broker.published(); len(tasks) != 1 || tasks[0].ReplyTo != "orc.reply.gw" {
		t.Fatalf("tasks = %+v", tasks)
	}
}

func TestSubmitWithdrawsWhatTheBrokerRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   Request
		delEr error
		ok    bool
	}{
		{name: "async", req: Request{Plugin: "echo", Input: []byte(`{}`), Async: true}},
		{name: "sync", req: Request{Plugin: "echo", Input: []byte(`{}`)}},
		{name: "keyed", req: Request{Plugin: "echo", Input: []byte(`{}`), IdempotencyKey: "k"}},
		// A worker started it: the refusal was only a lost confirm.
		{name: "started meanwhile", req: Request{Plugin: "echo", Input: []byte(`{}`), Async: true},
			delEr: orc.Errorf(orc.ECONFLICT, "started"), ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, store, broker := newTestService(t)
			broker.publishErr = errors.New("channel closed")
			store.deleteErr = tc.delEr
			tk, err := s.Submit(alice(), tc.req)
			if tc.ok {
				if err != nil {
					t.Fatalf("err = %v, want the invocation counted as queued", err)
				}
				tk.Close()
				return
			}
			if orc.ErrorCode(err) != orc.EUNAVAILABLE {
				t.Fatalf("err = %v, want EUNAVAILABLE", err)
			}
			if len(store.deleted) != 1 || len(store.rows) != 0 {
				t.Fatalf("deleted %v, rows left %d; want the row withdrawn", store.deleted, len(store.rows))
			}
			if len(s.waiters.m) != 0 {
				t.Fatalf("a refused call is still waiting: %v", s.waiters.m)
			}
		})
	}
}

func TestSubmitSyncInsertFailureIsTold(t *testing.T) {
	s, store, broker := newTestService(t)
	store.createErr = orc.Errorf(orc.EUNAVAILABLE, "database down")
	_, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{}`)})
	if orc.ErrorCode(err) != orc.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	// The task went out with the insert; it finds no row and is dropped.
	if len(broker.published()) != 1 || len(store.rows) != 0 {
		t.Fatalf("tasks %d, rows %d", len(broker.published()), len(store.rows))
	}
}

func TestSubmitIdempotentReplay(t *testing.T) {
	s, store, broker := newTestService(t)
	store.markHold = make(chan struct{})
	req := Request{Plugin: "echo", Input: []byte(`{"n":1}`), IdempotencyKey: "k1", Async: true}
	first, err := s.Submit(alice(), req)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	// Before its publish mark: in progress.
	if _, err := s.Submit(alice(), req); orc.ErrorCode(err) != orc.ECONFLICT {
		t.Fatalf("retry before the mark: %v, want ECONFLICT", err)
	}
	close(store.markHold)
	deadline := time.Now().Add(2 * time.Second)
	for !store.row(first.Invocation.ID).Published && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	again, err := s.Submit(alice(), req)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if again.Created || again.Invocation.ID != first.Invocation.ID || len(broker.published()) != 1 {
		t.Fatalf("retry: created %v, id %s (first %s), tasks %d", again.Created, again.Invocation.ID, first.Invocation.ID, len(broker.published()))
	}
	other := req
	other.Input = []byte(`{"n":2}`)
	if _, err := s.Submit(alice(), other); orc.ErrorCode(err) != orc.ECONFLICT {
		t.Fatalf("same key, other body: %v, want ECONFLICT", err)
	}
	// A synchronous retry of a finished invocation answers at once.
	store.finish(first.Invocation.ID, orc.StatusSucceeded, `{"done":true}`)
	req.Async = false
	sync, err := s.Submit(alice(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer sync.Close()
	reply, err := s.Await(alice(), sync)
	if err != nil || string(reply.Output) != `{"done":true}` {
		t.Fatalf("reply %+v, %v", reply, err)
	}
}

// An asynchronous call with an idempotency key asks for the reply, so
// that a synchronous retry with the key, made while it runs, is answered
// when the result lands rather than at the next poll of the database.
func TestKeyedRetryIsWokenByTheReply(t *testing.T) {
	s, store, broker := newTestService(t)
	s.cfg.PollInterval = time.Hour
	req := Request{Plugin: "echo", Input: []byte(`{"n":1}`), IdempotencyKey: "k1", Async: true}
	first, err := s.Submit(alice(), req)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	tasks := broker.published()
	if len(tasks) != 1 || tasks[0].ReplyTo != "orc.reply.gw" {
		t.Fatalf("tasks = %+v, want one that asks for the reply", tasks)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !store.row(first.Invocation.ID).Published && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	req.Async = false
	retry, err := s.Submit(alice(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer retry.Close()
	go s.Deliver(&orc.Reply{InvocationID: first.Invocation.ID, Status: orc.StatusSucceeded, Output: json.RawMessage(`{"n":1}`)})
	ctx, cancel := context.WithTimeout(alice(), 2*time.Second)
	defer cancel()
	reply, err := s.Await(ctx, retry)
	if err != nil || reply.Status != orc.StatusSucceeded {
		t.Fatalf("reply %+v, %v", reply, err)
	}
}

func TestSubmitRefusals(t *testing.T) {
	s, store, broker := newTestService(t)
	viewer := orc.NewContextWithPrincipal(context.Background(), &orc.Principal{UserID: 2, Role: orc.RoleViewer})
	cases := []struct {
		name string
		ctx  context.Context
		req  Request
		code string
	}{
		{"viewer", viewer, Request{Plugin: "echo", Input: []byte(`{}`)}, orc.EFORBIDDEN},
		{"unknown plugin", alice(), Request{Plugin: "nope", Input: []byte(`{}`)}, orc.ENOTFOUND},
		{"unknown version", alice(), Request{Plugin: "echo", Version: "9", Input: []byte(`{}`)}, orc.ENOTFOUND},
		{"malformed", alice(), Request{Plugin: "echo", Input: []byte(`{`)}, orc.EINVALID},
		{"too deep", alice(), Request{Plugin: "echo", Input: []byte(strings.Repeat("[", 600) + strings.Repeat("]", 600))}, orc.EINVALID},
		{"long key", alice(), Request{Plugin: "echo", Input: []byte(`{}`), IdempotencyKey: string(make([]byte, 256))}, orc.EINVALID},
		{"key not UTF-8", alice(), Request{Plugin: "echo", Input: []byte(`{}`), IdempotencyKey: "k\xff"}, orc.EINVALID},
		{"key with NUL", alice(), Request{Plugin: "echo", Input: []byte(`{}`), IdempotencyKey: "k\x00"}, orc.EINVALID},
		{"too deep for a decoder", alice(), Request{Plugin: "echo", Input: []byte(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000))}, orc.EINVALID},
	}
	for _, tc := range cases {
		if _, err := s.Submit(tc.ctx, tc.req); orc.ErrorCode(err) != tc.code {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
	broker.readyErr = orc.Errorf(orc.EUNAVAILABLE, "broker down")
	if _, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{}`)}); orc.ErrorCode(err) != orc.EUNAVAILABLE {
		t.Errorf("broker down: err = %v", err)
	}
	if len(store.rows) != 0 || len(broker.published()) != 0 {
		t.Fatalf("refused requests left %d rows, %d tasks", len(store.rows), len(broker.published()))
	}
}

func TestSubmitHookRefusalIsRecordedAndNamed(t *testing.T) {
	s, store, broker := newTestService(t)
	s.Hooks = denyHook{}
	_, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{}`)})
	var refused *Refused
	if !errors.As(err, &refused) || orc.ErrorCode(err) != orc.EDENIED || orc.ErrorStatus(err) != 451 {
		t.Fatalf("err = %#v, want a refusal with the hook's status", err)
	}
	if len(store.rejected) != 1 || store.rejected[0].ID != refused.InvocationID || store.rejected[0].Status != orc.StatusRejected {
		t.Fatalf("recorded %+v, want the refused invocation", store.rejected)
	}
	if len(broker.published()) != 0 {
		t.Fatal("a refused invocation was queued")
	}
}

func TestAwaitReadsTheStoreWhenTheReplyIsLost(t *testing.T) {
	s, store, _ := newTestService(t)
	tk, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	time.AfterFunc(30*time.Millisecond, func() { store.finish(tk.Invocation.ID, orc.StatusFailed, "") })
	reply, err := s.Await(alice(), tk)
	if err != nil || reply.Status != orc.StatusFailed {
		t.Fatalf("reply %+v, %v; want the stored final state", reply, err)
	}
}

func TestAwaitTimesOut(t *testing.T) {
	s, _, _ := newTestService(t)
	s.cfg.SyncGrace = 50 * time.Millisecond
	v := &orc.Version{ID: 1, Plugin: "echo", Version: "1.0.0", TimeoutS: 0}
	tk := &Ticket{Invocation: &orc.Invocation{ID: "never", Status: orc.StatusQueued}, Version: v}
	tk.wait(&s.waiters)
	defer tk.Close()
	if _, err := s.Await(alice(), tk); orc.ErrorCode(err) != orc.ETIMEOUT {
		t.Fatalf("err = %v, want ETIMEOUT", err)
	}
}

func TestRepublishQueuesWhatAGatewayLeftUnqueued(t *testing.T) {
	s, store, broker := newTestService(t)
	store.unqueued = []*orc.Invocation{{ID: "lost", VersionID: 4, Pool: "gpu", Priority: 3}}
	now := time.Now()
	s.Republish(context.Background())
	tasks := broker.published()
	if len(tasks) != 1 || tasks[0].InvocationID != "lost" || tasks[0].Pool != "gpu" || tasks[0].ReplyTo != "" || tasks[0].Priority != 3 {
		t.Fatalf("tasks = %+v", tasks)
	}
	if len(store.marked) != 1 || store.unqueuedAt.After(now.Add(-unpublishedAfter+time.Second)) {
		t.Fatalf("marked %v, looked before %v", store.marked, store.unqueuedAt)
	}
	if len(store.forgotten) != 1 || store.forgotten[0] != "lost" || store.forgetBefore.After(now.Add(-droppedKept+time.Second)) {
		t.Fatalf("forgot %v before %v; want the drop record of what was queued, and old ones", store.forgotten, store.forgetBefore)
	}
}

func TestCancelEndsTheWaitingCall(t *testing.T) {
	s, _, broker := newTestService(t)
	tk, err := s.Submit(alice(), Request{Plugin: "echo", Input: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	s.cfg.PollInterval = time.Hour // the reply, not the store, must end the wait
	time.AfterFunc(20*time.Millisecond, func() {
		if _, err := s.Cancel(alice(), tk.Invocation.ID); err != nil {
			t.Error(err)
		}
	})
	reply, err := s.Await(alice(), tk)
	if err != nil || reply.Status != orc.StatusCanceled {
		t.Fatalf("reply %+v, %v; want canceled", reply, err)
	}
	if len(broker.canceled) != 1 {
		t.Fatalf("broadcasts %v, want one", broker.canceled)
	}
	if _, err := s.Cancel(alice(), tk.Invocation.ID); orc.ErrorCode(err) != orc.ECONFLICT {
		t.Fatalf("second cancel: %v, want ECONFLICT", err)
	}
}
