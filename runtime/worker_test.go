package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/registry"
)

// fakeStore keeps one invocation and one version in memory. Methods the
// worker does not call panic through the nil embedded interfaces.
type fakeStore struct {
	orc.InvocationService
	orc.PluginService

	inv       *orc.Invocation
	version   *orc.Version
	startErrs []error // returned by the first calls of StartAttempt
	results   []*orc.Result
	logs      []orc.LogLine
	dropped   []string // tasks dropped for want of a row
}

func (f *fakeStore) StartAttempt(ctx context.Context, id, worker, node string, at time.Time) (*orc.Invocation, error) {
	if len(f.startErrs) > 0 {
		err := f.startErrs[0]
		f.startErrs = f.startErrs[1:]
		return nil, err
	}
	if f.inv == nil || f.inv.ID != id {
		return nil, orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	if f.inv.Status.Terminal() {
		cp := *f.inv
		return &cp, orc.Errorf(orc.ECONFLICT, "invocation is %s", f.inv.Status)
	}
	f.inv.Status, f.inv.Worker = orc.StatusRunning, worker
	f.inv.Attempts++
	cp := *f.inv
	return &cp, nil
}

func (f *fakeStore) FinishInvocation(ctx context.Context, id string, r *orc.Result) (bool, error) {
	if f.inv.Status.Terminal() {
		return false, nil
	}
	f.results = append(f.results, r)
	f.logs = append(f.logs, r.Logs...)
	f.inv.Status, f.inv.Output, f.inv.Error = r.Status, r.Output, r.Error
	return true, nil
}

func (f *fakeStore) DropTask(ctx context.Context, id string, at time.Time) error {
	f.dropped = append(f.dropped, id)
	return nil
}

func (f *fakeStore) FindInvocation(ctx context.Context, id string) (*orc.Invocation, error) {
	cp := *f.inv
	return &cp, nil
}

func (f *fakeStore) AppendLogs(ctx context.Context, id string, lines []orc.LogLine) error {
	f.logs = append(f.logs, lines...)
	return nil
}

func (f *fakeStore) FindVersionByID(ctx context.Context, id int64) (*orc.Version, error) {
	if f.version == nil {
		return nil, orc.Errorf(orc.ENOTFOUND, "plugin version not found")
	}
	return f.version, nil
}

type fakeDriver struct {
	res   *orc.ContainerResult
	errs  []error       // returned by the first calls of Run
	block chan struct{} // when set, Run waits for it to close
	specs []*orc.ContainerSpec
}

func (d *fakeDriver) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	if d.block != nil {
		<-d.block
	}
	d.specs = append(d.specs, spec)
	if len(d.errs) > 0 {
		err := d.errs[0]
		d.errs = d.errs[1:]
		return nil, err
	}
	return d.res, nil
}

type fakeReplier struct{ replies []*orc.Reply }

func (r *fakeReplier) Reply(ctx context.Context, to string, reply *orc.Reply) error {
	r.replies = append(r.replies, reply)
	return nil
}

func newTestWorker(res *orc.ContainerResult) (*Worker, *fakeStore, *fakeDriver, *fakeReplier) {
	v := &orc.Version{ID: 3, Plugin: "p", Version: "1.0.0", Image: "p:1",
		OutputSchema: json.RawMessage(`{"type":"object","required":["label"]}`)}
	v.SetDefaults()
	store := &fakeStore{version: v, inv: &orc.Invocation{ID: "inv-1", Plugin: "p", Version: "1.0.0", VersionID: 3,
		Status: orc.StatusQueued, Input: json.RawMessage(`{"x":1}`)}}
	drv := &fakeDriver{res: res}
	rep := &fakeReplier{}
	w := NewWorker(Config{ID: "w1", Node: "n1", RetryMax: time.Millisecond}, nil)
	w.Invocations, w.Plugins, w.Driver, w.Replier = store, store, drv, rep
	w.Schemas = &registry.Schemas{}
	w.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return w, store, drv, rep
}

var task = &orc.Task{InvocationID: "inv-1", VersionID: 3, Pool: "default", ReplyTo: "gw-1"}

func TestHandleOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		res    *orc.ContainerResult
		status orc.Status
		code   string
		msgHas string
		output string
		logHas string
	}{
		{name: "success", res: &orc.ContainerResult{Stdout: []byte("loading\n{\"label\":\"cat\"}\n"), Stderr: []byte("warm\n")},
			status: orc.StatusSucceeded, output: `{"label":"cat"}`, logHas: "loading"},
		{name: "last json line wins", res: &orc.ContainerResult{Stdout: []byte("{\"label\":\"a\"}\n{\"label\":\"b\"}\nbye\n")},
			status: orc.StatusSucceeded, output: `{"label":"b"}`, logHas: "bye"},
		{name: "exit code", res: &orc.ContainerResult{ExitCode: 3, Stderr: []byte("Traceback\n  File \"/app/main.py\"\nValueError: bad shape\n")},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "ValueError: bad shape", logHas: "Traceback"},
		{name: "exit code without stderr", res: &orc.ContainerResult{ExitCode: 9},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "exited with code 9"},
		{name: "no json", res: &orc.ContainerResult{Stdout: []byte("hello\n")},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "no JSON line"},
		{name: "output schema", res: &orc.ContainerResult{Stdout: []byte(`{"labl":"cat"}`)},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "does not match the schema"},
		{name: "timeout", res: &orc.ContainerResult{TimedOut: true, ExitCode: 137},
			status: orc.StatusTimedOut, code: orc.ETIMEOUT, msgHas: "within 60s"},
		{name: "oom", res: &orc.ContainerResult{OOMKilled: true, ExitCode: 137},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "out of memory"},
		{name: "truncated", res: &orc.ContainerResult{StdoutTruncated: true, Stdout: []byte(`{"label":`)},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "larger than"},
		{name: "too deep", res: &orc.ContainerResult{Stdout: []byte(`{"label":"x","deep":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + "}\n")},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "nests deeper than 512"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, store, drv, rep := newTestWorker(tc.res)
			if err := w.Handle(context.Background(), task); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(store.results) != 1 {
				t.Fatalf("%d results committed, want 1", len(store.results))
			}
			r := store.results[0]
			if r.Status != tc.status || (tc.output != "" && string(r.Output) != tc.output) {
				t.Fatalf("result = %s %s %+v", r.Status, r.Output, r.Error)
			}
			if tc.code != "" && (r.Error == nil || r.Error.Code != tc.code || !strings.Contains(r.Error.Message, tc.msgHas)) {
				t.Fatalf("error = %+v, want %s containing %q", r.Error, tc.code, tc.msgHas)
			}
			if r.Error != nil && strings.Contains(r.Error.Message, "\n") {
				t.Fatalf("a failure's message is one line, not a trace: %q", r.Error.Message)
			}
			if r.Attempt != 1 {
				t.Fatalf("result of attempt %d, want 1", r.Attempt)
			}
			if tc.logHas != "" && !hasLog(store.logs, tc.logHas) {
				t.Fatalf("logs %+v lack %q", store.logs, tc.logHas)
			}
			if len(rep.replies) != 1 || rep.replies[0].Status != tc.status {
				t.Fatalf("replies = %+v", rep.replies)
			}
			spec := drv.specs[0]
			if spec.Args[len(spec.Args)-1] != `{"x":1}` || string(spec.Stdin) != `{"x":1}` || spec.Env["ORC_INVOCATION_ID"] != "inv-1" {
				t.Fatalf("spec = %+v", spec)
			}
		})
	}
}

func hasLog(lines []orc.LogLine, s string) bool {
	for _, l := range lines {
		if strings.Contains(l.Line, s) {
			return true
		}
	}
	return false
}

func TestHandleTerminalInvocationIsNotRunAgain(t *testing.T) {
	w, store, drv, rep := newTestWorker(&orc.ContainerResult{})
	store.inv.Status = orc.StatusSucceeded
	store.inv.Output = json.RawMessage(`{"label":"x"}`)
	if err := w.Handle(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if len(drv.specs) != 0 || len(store.results) != 0 {
		t.Fatalf("a finished invocation ran again")
	}
	if len(rep.replies) != 1 || string(rep.replies[0].Output) != `{"label":"x"}` {
		t.Fatalf("the waiting gateway was not told the stored result: %+v", rep.replies)
	}
}

func TestHandleUnknownInvocationIsAcked(t *testing.T) {
	w, _, drv, _ := newTestWorker(&orc.ContainerResult{})
	if err := w.Handle(context.Background(), &orc.Task{InvocationID: "other"}); err != nil {
		t.Fatalf("unknown invocation: %v", err)
	}
	if len(drv.specs) != 0 {
		t.Fatal("ran a task of no invocation")
	}
}

func unavailable() error {
	return orc.WrapError(orc.EUNAVAILABLE, errors.New("dial"), "database unavailable")
}

// An outage of the database or the engine is waited out with the message
// held: a redelivery would spend the queue's delivery limit.
func TestHandleWaitsOutOutages(t *testing.T) {
	w, store, drv, _ := newTestWorker(&orc.ContainerResult{Stdout: []byte(`{"label":"ok"}`)})
	store.startErrs = []error{unavailable(), unavailable(), unavailable()}
	drv.errs = []error{unavailable(), unavailable()}
	if err := w.Handle(context.Background(), task); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(drv.specs) != 3 || len(store.results) != 1 || store.results[0].Status != orc.StatusSucceeded {
		t.Fatalf("runs %d, results %+v", len(drv.specs), store.results)
	}
}

func TestHandleGivesUpOnlyWhenStopped(t *testing.T) {
	w, store, drv, _ := newTestWorker(&orc.ContainerResult{})
	for i := 0; i < 1000; i++ {
		store.startErrs = append(store.startErrs, unavailable())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Handle(ctx, task); err == nil {
		t.Fatal("Handle acked a task it could not record")
	}
	if len(drv.specs) != 0 {
		t.Fatal("ran a task it could not record")
	}
}

func TestHandleDuplicateDeliveryWaitsForTheRunningOne(t *testing.T) {
	w, store, drv, _ := newTestWorker(&orc.ContainerResult{})
	done := w.track("inv-1", func(error) {})
	errc := make(chan error, 1)
	go func() { errc <- w.Handle(context.Background(), task) }()
	select {
	case err := <-errc:
		t.Fatalf("duplicate returned while the first run goes on: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	done()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(drv.specs) != 0 || store.inv.Attempts != 0 {
		t.Fatal("a duplicate delivery started a second attempt")
	}
}

func TestCancelBeforeRunStarts(t *testing.T) {
	w, _, _, _ := newTestWorker(nil)
	w.Cancel("inv-2")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := w.track("inv-2", cancel)
	defer done()
	if ctx.Err() == nil {
		t.Fatal("a cancel that came before the run did not stop it")
	}
}

func TestHandleDeletedVersionFails(t *testing.T) {
	w, store, _, _ := newTestWorker(&orc.ContainerResult{})
	store.version = nil
	if err := w.Handle(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if len(store.results) != 1 || store.results[0].Status != orc.StatusFailed {
		t.Fatalf("results = %+v", store.results)
	}
}

func TestCancelStopsRun(t *testing.T) {
	w, _, _, _ := newTestWorker(nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := w.track("inv-9", cancel)
	defer done()
	w.Cancel("inv-9")
	if !errors.Is(context.Cause(ctx), errCanceled) {
		t.Fatalf("Cancel did not cancel the run: %v", context.Cause(ctx))
	}
	w.Cancel("not-here") // remembered, not an error
}

// A drained worker hands its running task back instead of recording it.
func TestCancelAllHandsTasksBack(t *testing.T) {
	w, store, drv, _ := newTestWorker(&orc.ContainerResult{Canceled: true, ExitCode: 137})
	drv.block = make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- w.Handle(context.Background(), task) }()
	for w.runOf("inv-1") == nil {
		time.Sleep(time.Millisecond)
	}
	w.CancelAll()
	close(drv.block)
	if err := <-errc; !errors.Is(err, errDrained) {
		t.Fatalf("Handle = %v, want the drained error (so the task is delivered again)", err)
	}
	if len(store.results) != 0 {
		t.Fatalf("a drained run was recorded: %+v", store.results)
	}
}

func TestLogLinesAreCapped(t *testing.T) {
	w := NewWorker(Config{MaxLogLines: 3}, nil)
	lines := w.logLines(1, &orc.ContainerResult{Stderr: []byte("a\nb\nc\nd\ne\n")}, nil)
	if len(lines) != 4 || lines[0].Stream != "orc" || lines[3].Line != "e" {
		t.Fatalf("lines = %+v", lines)
	}
}

func TestHandleEngineDownUntilTimeout(t *testing.T) {
	w, store, drv, _ := newTestWorker(nil)
	store.version.TimeoutS = 1
	for i := 0; i < 10000; i++ {
		drv.errs = append(drv.errs, unavailable())
	}
	w.cfg.RetryMax = 50 * time.Millisecond
	if err := w.Handle(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if len(store.results) != 1 || store.results[0].Status != orc.StatusFailed || store.results[0].Error.Code != orc.EUNAVAILABLE {
		t.Fatalf("results = %+v", store.results)
	}
}

// lostStartStore forgets the attempt's start, as a database that restarted
// before flushing it would: the result is refused by the attempt fence.
type lostStartStore struct{ *fakeStore }

func (s lostStartStore) FinishInvocation(ctx context.Context, id string, r *orc.Result) (bool, error) {
	s.inv.Status, s.inv.Attempts = orc.StatusQueued, r.Attempt-1
	return false, nil
}

func TestHandleLostStartIsDeliveredAgain(t *testing.T) {
	w, store, drv, rep := newTestWorker(&orc.ContainerResult{Stdout: []byte(`{"label":"x"}`)})
	w.Invocations = lostStartStore{store}
	if err := w.Handle(context.Background(), task); err == nil {
		t.Fatal("a result whose attempt start was lost was acked; the invocation would never finish")
	}
	if len(drv.specs) != 1 || len(rep.replies) != 0 {
		t.Fatalf("runs %d, replies %d; want one run and no reply", len(drv.specs), len(rep.replies))
	}
}

func TestHandleWaitsForARowBeingRecorded(t *testing.T) {
	w, store, drv, _ := newTestWorker(&orc.ContainerResult{Stdout: []byte(`{"label":"x"}`)})
	notYet := orc.Errorf(orc.ENOTFOUND, "invocation not found")
	store.startErrs = []error{notYet, notYet}
	young := *task
	young.CreatedAt = time.Now()
	if err := w.Handle(context.Background(), &young); err != nil {
		t.Fatal(err)
	}
	if len(drv.specs) != 1 || len(store.results) != 1 {
		t.Fatalf("runs %d, results %d; want the task run once its row appeared", len(drv.specs), len(store.results))
	}

	// A task without a recording time (or an old one) is dropped at once,
	// and the drop recorded: should the row appear later, a sweep queues
	// it again.
	w, store, drv, _ = newTestWorker(&orc.ContainerResult{Stdout: []byte(`{"label":"x"}`)})
	store.startErrs = []error{notYet}
	if err := w.Handle(context.Background(), task); err != nil || len(drv.specs) != 0 {
		t.Fatalf("err %v, runs %d; want the task dropped", err, len(drv.specs))
	}
	if len(store.dropped) != 1 || store.dropped[0] != task.InvocationID {
		t.Fatalf("dropped %v, want the drop recorded", store.dropped)
	}
}
