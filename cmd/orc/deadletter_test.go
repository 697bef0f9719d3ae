package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// poisonDriver runs containers through the real driver, except while it
// is poisoned: then every run panics, as a task that crashes its worker
// does, and the delivery ends without an ack. It counts the runs that
// reached the real driver, by invocation.
type poisonDriver struct {
	orc.Driver
	poisoned atomic.Bool

	mu   sync.Mutex
	runs map[string]int
}

func (d *poisonDriver) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	if d.poisoned.Load() {
		panic("poisoned task")
	}
	d.mu.Lock()
	d.runs[spec.InvocationID]++
	d.mu.Unlock()
	return d.Driver.Run(ctx, spec)
}

func (d *poisonDriver) ran(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runs[id]
}

// deadLetterForTest is the dead-letter JSON the tests read.
type deadLetterForTest struct {
	orc.Invocation
	Reason         string        `json:"reason"`
	Deliveries     int           `json:"deliveries"`
	DeadAt         time.Time     `json:"dead_at"`
	AttemptHistory []orc.Attempt `json:"attempt_history"`
}

type deadLetterPageForTest struct {
	Items      []deadLetterForTest `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

// TestDeadLetterRedrive: a task that crashes its worker is dead-lettered
// after the delivery limit and listed with its reason and attempts; once
// the cause is gone, two concurrent redrives run it once more, not twice,
// and it succeeds under its own id.
func TestDeadLetterRedrive(t *testing.T) {
	s := newStack(t, func(c *Config) { c.DeliveryLimit = 1 }, true)
	drv := &poisonDriver{runs: map[string]int{}}
	drv.poisoned.Store(true)
	s.startWorkerWith(func(w *Worker) {
		drv.Driver = w.Runner.Driver
		w.Runner.Driver = drv
	})
	s.register(manifest(t, "echo", func(m map[string]any) { m["protocol"] = "exec" }))

	resp := s.do("POST", "/invoke/echo", `{"n": 1}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	id := resp.header.Get("X-Orc-Invocation-Id")
	dead := s.waitFor(id, 60*time.Second, terminal)
	if dead.Status != orc.StatusDead || dead.Attempts != 2 {
		t.Fatalf("poisoned invocation ended %s after %d attempts, want dead after 2 (delivery limit 1)", dead.Status, dead.Attempts)
	}

	// Listed, with the broker's reason and count, and both attempts.
	resp = s.do("GET", "/api/v1/dead-letters?plugin=echo&reason=delivery_limit", nil)
	var page deadLetterPageForTest
	resp.json(t, &page)
	if resp.status != http.StatusOK || len(page.Items) != 1 || page.Items[0].ID != id {
		t.Fatalf("dead letters: %d %s", resp.status, resp.body)
	}
	resp = s.do("GET", "/api/v1/dead-letters/"+id, nil)
	var dl deadLetterForTest
	resp.json(t, &dl)
	if resp.status != http.StatusOK || dl.Reason != "delivery_limit" || dl.Deliveries != 2 || dl.Status != orc.StatusDead ||
		dl.DeadAt.IsZero() || len(dl.AttemptHistory) != 2 {
		t.Fatalf("dead letter: %d %s", resp.status, resp.body)
	}
	for i, a := range dl.AttemptHistory {
		if a.Attempt != i+1 || a.Worker != s.worker.Config.Worker.ID || a.FinishedAt == nil || a.Error == nil ||
			a.Error.Message != "the worker failed while running it" {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	if drv.ran(id) != 0 {
		t.Fatalf("the poisoned task reached the plugin %d times", drv.ran(id))
	}

	// The cause is gone; two redrives race: one queues it, the other is
	// told it is no longer a dead letter.
	drv.poisoned.Store(false)
	statuses := make(chan int, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- s.do("POST", "/api/v1/dead-letters/"+id+"/redrive", nil).status
		}()
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for st := range statuses {
		got[st]++
	}
	if got[http.StatusAccepted] != 1 || got[http.StatusConflict] != 1 {
		t.Fatalf("concurrent redrives answered %v, want one 202 and one 409", got)
	}

	inv := s.waitFor(id, 60*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || string(inv.Output) != `{"n":1}` || inv.Attempts != 3 || inv.Redrives != 1 {
		t.Fatalf("after the redrive: %+v output %s", inv, inv.Output)
	}
	// Give a second task, had there been one, time to run.
	time.Sleep(2 * time.Second)
	if n := drv.ran(id); n != 1 {
		t.Fatalf("the plugin ran %d times after the redrive, want once", n)
	}
	if resp := s.do("GET", "/api/v1/dead-letters/"+id, nil); resp.status != http.StatusNotFound {
		t.Errorf("the redriven invocation is still a dead letter: %d %s", resp.status, resp.body)
	}
	resp = s.do("GET", "/api/v1/invocations/"+id+"/attempts", nil)
	var attempts struct {
		Attempts []orc.Attempt `json:"attempts"`
	}
	resp.json(t, &attempts)
	if n := len(attempts.Attempts); n != 3 || attempts.Attempts[2].Status != orc.StatusSucceeded {
		t.Fatalf("attempts after the redrive: %s", resp.body)
	}
	if resp := s.do("POST", "/api/v1/dead-letters/"+id+"/redrive", nil); resp.status != http.StatusConflict {
		t.Errorf("redrive of a succeeded invocation: %d %s", resp.status, resp.body)
	}
	if m := s.metrics(); !strings.Contains(m, `orc_invocations_redriven_total{plugin="echo"} 1`) {
		t.Errorf("metrics lack one redrive of echo:\n%s", grepLines(m, "redriven"))
	}
}

// metrics reads the gateway's /metrics with the admin's token.
func (s *stack) metrics() string {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.gw.URL()+"/metrics", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// deadLetterOf records a dead invocation of version v for a user, as the
// dead-letter handler would.
func (s *stack) deadLetterOf(ownerID int64, v *orc.Version) string {
	s.t.Helper()
	ctx := context.Background()
	inv, _, err := s.db.CreateInvocation(ctx, &orc.Invocation{Plugin: v.Plugin, Version: v.Version, VersionID: v.ID,
		Input: json.RawMessage(`{"n": 2}`), OwnerID: ownerID, Async: true, Pool: v.Pool})
	if err != nil {
		s.t.Fatal(err)
	}
	if won, err := s.db.MarkDead(ctx, inv.ID, orc.Death{Reason: "delivery_limit", Deliveries: 6},
		&orc.InvocationError{Code: orc.EPLUGIN, Message: "abandoned"}, time.Now()); err != nil || !won {
		s.t.Fatalf("mark dead: %v %v", won, err)
	}
	return inv.ID
}

// TestDeadLetterRoles: owners see and act on their own dead letters,
// admins on all; another user's is 404, not 403; a viewer reads but may
// not redrive or discard.
func TestDeadLetterRoles(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["public"] = true }))
	v, err := s.db.FindVersion(context.Background(), "echo", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	tokens := s.roleUsers("")
	alice := tokens[orc.RoleDeveloper]
	s.addUser("bob@example.com", orc.RoleDeveloper)
	invoker, viewer := tokens[orc.RoleInvoker], tokens[orc.RoleViewer]
	aliceID, bobID := s.userID("developer@example.com"), s.userID("bob@example.com")

	aliceDL, aliceDL2, bobDL := s.deadLetterOf(aliceID, v), s.deadLetterOf(aliceID, v), s.deadLetterOf(bobID, v)
	invokerDL := s.deadLetterOf(s.userID("invoker@example.com"), v)
	viewerDL := s.deadLetterOf(s.userID("viewer@example.com"), v)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	list := func(tok, query string) []string {
		t.Helper()
		resp := s.do("GET", "/api/v1/dead-letters"+query, nil, bearer(tok)...)
		if resp.status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, resp.status, resp.body)
		}
		var page deadLetterPageForTest
		resp.json(t, &page)
		var ids []string
		for _, d := range page.Items {
			ids = append(ids, d.ID)
		}
		return ids
	}
	if got := list(alice, ""); len(got) != 2 || !slices.Contains(got, aliceDL) || !slices.Contains(got, aliceDL2) {
		t.Errorf("alice lists %v, want her two", got)
	}
	if got := list(alice, "?owner_id=1"); len(got) != 2 {
		t.Errorf("alice with owner_id lists %v, want still only her two", got)
	}
	if got := list(s.token, ""); len(got) != 5 {
		t.Errorf("the admin lists %v, want all five", got)
	}
	if got := list(s.token, "?owner_id="+strconv.FormatInt(bobID, 10)); len(got) != 1 || got[0] != bobDL {
		t.Errorf("the admin lists %v for bob, want %s", got, bobDL)
	}

	tests := []struct {
		name   string
		token  string
		method string
		path   string
		status int
		code   string
	}{
		{"developer reads another's", alice, "GET", "/api/v1/dead-letters/" + bobDL, 404, orc.ENOTFOUND},
		{"developer redrives another's", alice, "POST", "/api/v1/dead-letters/" + bobDL + "/redrive", 404, orc.ENOTFOUND},
		{"developer discards another's", alice, "DELETE", "/api/v1/dead-letters/" + bobDL, 404, orc.ENOTFOUND},
		{"developer retries another's", alice, "POST", "/api/v1/invocations/" + bobDL + "/retry", 404, orc.ENOTFOUND},
		{"viewer reads own", viewer, "GET", "/api/v1/dead-letters/" + viewerDL, 200, ""},
		{"viewer redrives own", viewer, "POST", "/api/v1/dead-letters/" + viewerDL + "/redrive", 403, orc.EFORBIDDEN},
		{"viewer discards own", viewer, "DELETE", "/api/v1/dead-letters/" + viewerDL, 403, orc.EFORBIDDEN},
		{"viewer bulk redrive", viewer, "POST", "/api/v1/dead-letters/redrive", 403, orc.EFORBIDDEN},
		{"viewer retries own", viewer, "POST", "/api/v1/invocations/" + viewerDL + "/retry", 403, orc.EFORBIDDEN},
		{"invoker redrives own", invoker, "POST", "/api/v1/dead-letters/" + invokerDL + "/redrive", 202, ""},
		{"admin redrives another's", s.token, "POST", "/api/v1/dead-letters/" + bobDL + "/redrive", 202, ""},
		{"developer discards own", alice, "DELETE", "/api/v1/dead-letters/" + aliceDL2, 204, ""},
		{"discarded is gone", alice, "GET", "/api/v1/dead-letters/" + aliceDL2, 404, orc.ENOTFOUND},
		{"discarded cannot be redriven", alice, "POST", "/api/v1/dead-letters/" + aliceDL2 + "/redrive", 409, orc.ECONFLICT},
		{"bad since", alice, "GET", "/api/v1/dead-letters?since=yesterday", 400, orc.EINVALID},
		{"bad id", alice, "GET", "/api/v1/dead-letters/nope", 404, orc.ENOTFOUND},
	}
	for _, tt := range tests {
		want(t, tt.name, s.do(tt.method, tt.path, nil, bearer(tt.token)...), tt.status, tt.code)
	}
	if e := s.do("GET", "/api/v1/dead-letters?since=yesterday", nil, bearer(alice)...).apiError(t); !strings.Contains(e.Error.Message, "since") {
		t.Errorf("a bad since is refused without naming it: %q", e.Error.Message)
	}
	// The discarded invocation stays dead and readable.
	if inv := s.waitFor(aliceDL2, time.Second, terminal); inv.Status != orc.StatusDead {
		t.Errorf("discarded invocation is %s, want dead", inv.Status)
	}

	// A developer's bulk redrive takes her own only; bob's was redriven
	// by the admin, the viewer's stays.
	resp := s.do("POST", "/api/v1/dead-letters/redrive", nil, bearer(alice)...)
	var bulk struct {
		Redriven []string `json:"redriven"`
		Skipped  int      `json:"skipped"`
		More     bool     `json:"more"`
	}
	resp.json(t, &bulk)
	if resp.status != http.StatusOK || len(bulk.Redriven) != 1 || bulk.Redriven[0] != aliceDL || bulk.More {
		t.Fatalf("alice's bulk redrive: %d %s", resp.status, resp.body)
	}
	if got := list(s.token, ""); len(got) != 1 || got[0] != viewerDL {
		t.Errorf("left on the list: %v, want only the viewer's", got)
	}
	for _, id := range []string{aliceDL, bobDL, invokerDL} {
		if inv := s.waitFor(id, 60*time.Second, terminal); inv.Status != orc.StatusSucceeded || inv.Redrives != 1 {
			t.Errorf("redriven %s: %s after %d redrives", id, inv.Status, inv.Redrives)
		}
	}
}

// TestRetryInvocation: a failed invocation is retried as a new one, linked
// to it, with the same plugin, version and input, through the invoke path;
// an invocation that succeeded or has not ended cannot be.
func TestRetryInvocation(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", nil))

	resp := s.do("POST", "/invoke/echo", `{"fail": "boom"}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	failedID := resp.header.Get("X-Orc-Invocation-Id")
	failed := s.waitFor(failedID, 60*time.Second, terminal)
	if failed.Status != orc.StatusFailed {
		t.Fatalf("first run: %s", failed.Status)
	}

	resp = s.do("POST", "/api/v1/invocations/"+failedID+"/retry", nil)
	if resp.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", resp.status, resp.body)
	}
	var retry orc.Invocation
	resp.json(t, &retry)
	if retry.ID == failedID || retry.RetryOf != failedID || retry.Plugin != "echo" || retry.Version != failed.Version ||
		resp.header.Get("Location") != "/api/v1/invocations/"+retry.ID || resp.header.Get("X-Orc-Invocation-Id") != retry.ID {
		t.Fatalf("retry answered %s with %v", resp.body, resp.header)
	}
	again := s.waitFor(retry.ID, 60*time.Second, terminal)
	if again.Status != orc.StatusFailed || again.Error == nil || again.Error.Message != "boom" ||
		string(again.Input) != `{"fail":"boom"}` || again.RetryOf != failedID {
		t.Fatalf("the retry ran as %+v input %s", again, again.Input)
	}
	if old := s.waitFor(failedID, time.Second, terminal); old.Attempts != failed.Attempts || old.RetryOf != "" {
		t.Errorf("the retried invocation changed: %+v", old)
	}

	ok := s.invokeAsync(t, "echo", `{"fine": true}`)
	s.waitFor(ok, 60*time.Second, terminal)
	want(t, "retry of a success", s.do("POST", "/api/v1/invocations/"+ok+"/retry", nil), http.StatusConflict, orc.ECONFLICT)
	slow := s.invokeAsync(t, "echo", `{"sleep_ms": 3000}`)
	want(t, "retry of an unfinished one", s.do("POST", "/api/v1/invocations/"+slow+"/retry", nil), http.StatusConflict, orc.ECONFLICT)
	want(t, "retry of an unknown one", s.do("POST", "/api/v1/invocations/00000000-0000-0000-0000-000000000000/retry", nil), http.StatusNotFound, orc.ENOTFOUND)

	if m := s.metrics(); !strings.Contains(m, `orc_invocations_retried_total{plugin="echo"} 1`) {
		t.Errorf("metrics lack one retry of echo:\n%s", grepLines(m, "retried"))
	}
}
