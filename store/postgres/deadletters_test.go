package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/store/postgres"
)

// deadInvocation records an invocation of v, starts it on the given
// workers one attempt each and has its task dead-lettered.
func deadInvocation(t *testing.T, db *postgres.DB, owner *orc.Principal, v *orc.Version, reason string, workers ...string) *orc.Invocation {
	t.Helper()
	ctx := context.Background()
	in := newInvocation(owner, "")
	in.Plugin, in.Version, in.VersionID = v.Plugin, v.Version, v.ID
	inv, _, err := db.CreateInvocation(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		if inv, err = db.StartAttempt(ctx, inv.ID, w, "node-"+w, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	won, err := db.MarkDead(ctx, inv.ID, orc.Death{Reason: reason, Deliveries: len(workers)},
		&orc.InvocationError{Code: orc.EPLUGIN, Message: "abandoned"}, time.Now())
	if err != nil || !won {
		t.Fatalf("mark dead: won %v, %v", won, err)
	}
	return inv
}

// TestDeadLetterKeepsAttempts: a dead letter is listed with the broker's
// reason and deliveries, and shows every attempt's worker, node and, when
// its worker said, why it ended.
func TestDeadLetterKeepsAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	v, err := db.CreateVersion(ctx, alice, version("echo", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	in := newInvocation(alice, "")
	in.VersionID = v.ID
	inv, _, err := db.CreateInvocation(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"w1", "w2"} {
		if _, err := db.StartAttempt(ctx, inv.ID, w, "node-"+w, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.EndAttempt(ctx, inv.ID, 1, &orc.InvocationError{Code: orc.EINTERNAL, Message: "the worker failed"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindDeadLetter(ctx, inv.ID); orc.ErrorCode(err) != orc.ENOTFOUND {
		t.Fatalf("a running invocation as a dead letter: %v, want not found", err)
	}
	won, err := db.MarkDead(ctx, inv.ID, orc.Death{Reason: "delivery_limit", Deliveries: 6},
		&orc.InvocationError{Code: orc.EPLUGIN, Message: "abandoned"}, time.Now())
	if err != nil || !won {
		t.Fatalf("mark dead: won %v, %v", won, err)
	}
	if won, err := db.MarkDead(ctx, inv.ID, orc.Death{Reason: "delivery_limit"}, nil, time.Now()); err != nil || won {
		t.Fatalf("a second dead letter of the same task: won %v, %v; want false", won, err)
	}

	d, err := db.FindDeadLetter(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != orc.StatusDead || d.Reason != "delivery_limit" || d.Deliveries != 6 || d.Attempts != 2 || d.DeadAt.IsZero() {
		t.Fatalf("dead letter %+v (invocation %+v)", d, d.Invocation)
	}
	// The row keeps the last attempt's worker, not the dead handler's.
	if d.Worker != "w2" || d.Node != "node-w2" {
		t.Errorf("dead invocation's worker %q node %q, want w2 node-w2", d.Worker, d.Node)
	}
	if len(d.History) != 2 {
		t.Fatalf("attempts %+v, want 2", d.History)
	}
	first, second := d.History[0], d.History[1]
	if first.Attempt != 1 || first.Worker != "w1" || first.Node != "node-w1" || first.FinishedAt == nil ||
		first.Error == nil || first.Error.Message != "the worker failed" {
		t.Errorf("attempt 1 = %+v", first)
	}
	// The last attempt's worker died without a word: no end, and the
	// invocation's dead is not passed off as its result.
	if second.Attempt != 2 || second.Worker != "w2" || second.FinishedAt != nil || second.Status != "" || second.Error != nil {
		t.Errorf("attempt 2 = %+v", second)
	}
}

// TestDeadLetterFilters: the list is filtered by plugin, version, reason,
// time and owner, and pages with the invocation list's cursors.
func TestDeadLetterFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	bob := createUser(t, db, "bob@example.com", orc.RoleDeveloper)
	echo1, err := db.CreateVersion(ctx, alice, version("echo", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	echo2, err := db.CreateVersion(ctx, alice, version("echo", "2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateVersion(ctx, bob, version("other", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	a1 := deadInvocation(t, db, alice, echo1, "delivery_limit", "w1")
	a2 := deadInvocation(t, db, alice, echo2, "rejected")
	b1 := deadInvocation(t, db, bob, other, "delivery_limit", "w1", "w2")
	after := time.Now().Add(time.Second)
	// Neither a live invocation nor a failed one is a dead letter.
	live := newInvocation(alice, "")
	live.VersionID = echo1.ID
	if _, _, err := db.CreateInvocation(ctx, live); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    orc.DeadLetterFilter
		want []string // newest dead first
	}{
		{"all", orc.DeadLetterFilter{}, []string{b1.ID, a2.ID, a1.ID}},
		{"plugin", orc.DeadLetterFilter{Plugin: "echo"}, []string{a2.ID, a1.ID}},
		{"version", orc.DeadLetterFilter{Plugin: "echo", Version: "1.0.0"}, []string{a1.ID}},
		{"reason", orc.DeadLetterFilter{Reason: "rejected"}, []string{a2.ID}},
		{"owner", orc.DeadLetterFilter{OwnerID: bob.UserID}, []string{b1.ID}},
		{"since", orc.DeadLetterFilter{Since: before}, []string{b1.ID, a2.ID, a1.ID}},
		{"since later", orc.DeadLetterFilter{Since: after}, nil},
		{"until", orc.DeadLetterFilter{Until: before}, nil},
		{"between", orc.DeadLetterFilter{Since: before, Until: after, Reason: "delivery_limit"}, []string{b1.ID, a1.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, next, err := db.ListDeadLetters(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range list {
				got = append(got, d.ID)
			}
			if len(got) != len(tt.want) || next != "" {
				t.Fatalf("got %v (next %q), want %v", got, next, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}

	page1, next, err := db.ListDeadLetters(ctx, orc.DeadLetterFilter{Limit: 2})
	if err != nil || len(page1) != 2 || next == "" {
		t.Fatalf("first page: %d items, next %q, %v", len(page1), next, err)
	}
	page2, next2, err := db.ListDeadLetters(ctx, orc.DeadLetterFilter{Limit: 2, Cursor: next})
	if err != nil || len(page2) != 1 || page2[0].ID != a1.ID || next2 != "" {
		t.Fatalf("second page: %+v, next %q, %v", page2, next2, err)
	}
	if _, _, err := db.ListDeadLetters(ctx, orc.DeadLetterFilter{Cursor: "nope"}); orc.ErrorCode(err) != orc.EINVALID {
		t.Fatalf("bad cursor: %v, want invalid", err)
	}
}

// TestRedriveDeadLetterOnce: of concurrent redrives exactly one queues the
// invocation; attempts count on; a late copy of the old dead letter cannot
// kill the redriven invocation; its row waits for its own publish before
// the sweep of unqueued rows would queue it.
func TestRedriveDeadLetterOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	v, err := db.CreateVersion(ctx, alice, version("echo", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	inv := deadInvocation(t, db, alice, v, "delivery_limit", "w1", "w2")

	const callers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		wins      []*orc.Invocation
		conflicts int
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := db.RedriveDeadLetter(ctx, inv.ID)
			mu.Lock()
			defer mu.Unlock()
			switch orc.ErrorCode(err) {
			case "":
				wins = append(wins, got)
			case orc.ECONFLICT:
				conflicts++
			default:
				t.Errorf("redrive: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 || conflicts != callers-1 {
		t.Fatalf("%d redrives won, %d conflicted; want 1 and %d", len(wins), conflicts, callers-1)
	}
	got := wins[0]
	if got.Status != orc.StatusQueued || got.Redrives != 1 || got.Attempts != 2 || got.Published ||
		got.Error != nil || got.FinishedAt != nil {
		t.Fatalf("redriven: %+v", got)
	}
	if _, err := db.FindDeadLetter(ctx, inv.ID); orc.ErrorCode(err) != orc.ENOTFOUND {
		t.Fatalf("a redriven invocation is still a dead letter: %v", err)
	}

	// Created long ago but redriven just now: the sweep leaves it to
	// the redrive's own publish for as long as it does a new row.
	swept := func(before time.Time) bool {
		list, err := db.UnpublishedInvocations(ctx, before, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list {
			if u.ID == inv.ID {
				return u.Redrives == 1
			}
		}
		return false
	}
	if swept(time.Now().Add(-time.Minute)) {
		t.Errorf("the sweep takes a row redriven just now")
	}
	if !swept(time.Now().Add(time.Minute)) {
		t.Errorf("the sweep does not take a redriven row whose publish is a minute late")
	}

	// The old task's dead letter, delivered again, is stale.
	if won, err := db.MarkDead(ctx, inv.ID, orc.Death{Reason: "delivery_limit", Redrives: 0}, nil, time.Now()); err != nil || won {
		t.Fatalf("stale dead letter: won %v, %v", won, err)
	}
	started, err := db.StartAttempt(ctx, inv.ID, "w3", "node-w3", time.Now())
	if err != nil || started.Attempts != 3 {
		t.Fatalf("start after redrive: %+v, %v; want attempt 3", started, err)
	}
	won, err := db.FinishInvocation(ctx, inv.ID, &orc.Result{Attempt: 3, Status: orc.StatusSucceeded,
		Output: json.RawMessage(`{}`), Worker: "w3", FinishedAt: time.Now()})
	if err != nil || !won {
		t.Fatalf("finish after redrive: %v %v", won, err)
	}
	attempts, err := db.InvocationAttempts(ctx, inv.ID)
	if err != nil || len(attempts) != 3 {
		t.Fatalf("attempts %+v, %v", attempts, err)
	}
	if a := attempts[2]; a.Worker != "w3" || a.Status != orc.StatusSucceeded || a.FinishedAt == nil {
		t.Errorf("the redriven attempt: %+v", a)
	}
	if _, err := db.RedriveDeadLetter(ctx, inv.ID); orc.ErrorCode(err) != orc.ECONFLICT {
		t.Fatalf("redrive of a succeeded invocation: %v, want conflict", err)
	}
}

// TestDiscardDeadLetter: a discarded dead letter leaves the list and stays
// dead; it can be neither discarded nor redriven again.
func TestDiscardDeadLetter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	v, err := db.CreateVersion(ctx, alice, version("echo", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	inv := deadInvocation(t, db, alice, v, "delivery_limit", "w1")
	if err := db.DiscardDeadLetter(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DiscardDeadLetter(ctx, inv.ID); orc.ErrorCode(err) != orc.ENOTFOUND {
		t.Fatalf("second discard: %v, want not found", err)
	}
	if list, _, err := db.ListDeadLetters(ctx, orc.DeadLetterFilter{}); err != nil || len(list) != 0 {
		t.Fatalf("list after discard: %d, %v", len(list), err)
	}
	if _, err := db.RedriveDeadLetter(ctx, inv.ID); orc.ErrorCode(err) != orc.ECONFLICT {
		t.Fatalf("redrive after discard: %v, want conflict", err)
	}
	got, err := db.FindInvocation(ctx, inv.ID)
	if err != nil || got.Status != orc.StatusDead {
		t.Fatalf("after discard: %+v, %v; want still dead", got, err)
	}
}

// TestUnstartedResultRecordsItsAttempt: the one statement of a short warm
// call records its attempt too.
func TestUnstartedResultRecordsItsAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	v, err := db.CreateVersion(ctx, alice, version("echo", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, logs := range []bool{false, true} {
		in := newInvocation(alice, "")
		in.VersionID = v.ID
		inv, _, err := db.CreateInvocation(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		r := &orc.Result{Status: orc.StatusSucceeded, Output: json.RawMessage(`{}`), Worker: "w", Node: "n",
			FinishedAt: time.Now(), StartedAt: time.Now(), VersionID: v.ID, Input: in.Input}
		if logs {
			r.Logs = []orc.LogLine{{Stream: "stderr", Time: time.Now(), Line: "hello"}}
		}
		if won, err := db.FinishUnstarted(ctx, inv.ID, r); err != nil || !won {
			t.Fatalf("logs %v: won %v, %v", logs, won, err)
		}
		attempts, err := db.InvocationAttempts(ctx, inv.ID)
		if err != nil || len(attempts) != 1 {
			t.Fatalf("logs %v: attempts %+v, %v", logs, attempts, err)
		}
		if a := attempts[0]; a.Attempt != 1 || a.Worker != "w" || a.Node != "n" || a.Status != orc.StatusSucceeded {
			t.Errorf("logs %v: attempt %+v", logs, a)
		}
		// A second commit of the same result loses, and records nothing.
		if won, err := db.FinishUnstarted(ctx, inv.ID, r); err != nil || won {
			t.Fatalf("logs %v: second commit won %v, %v", logs, won, err)
		}
	}
}
