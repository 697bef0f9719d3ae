package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// TestFinishUnstarted: a result committed without a start mark counts its
// attempt and wins only while the invocation is queued and of its version.
func TestFinishUnstarted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	v, err := db.CreateVersion(ctx, alice, version("echo", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	newInv := func() *orc.Invocation {
		t.Helper()
		in := newInvocation(alice, "")
		in.VersionID, in.CreatedAt = v.ID, created
		inv, _, err := db.CreateInvocation(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	result := func(versionID int64) *orc.Result {
		return &orc.Result{Status: orc.StatusSucceeded, Output: json.RawMessage(`{"ok":true}`), Worker: "w", Node: "n",
			Driver: "podman", FinishedAt: time.Now(), StartedAt: created.Add(250 * time.Millisecond), VersionID: versionID,
			Input: json.RawMessage(`{"b": 1, "a": [2]}`),
			Logs:  []orc.LogLine{{Stream: "stderr", Time: time.Now(), Line: "hello"}}}
	}

	// Queued: wins, with the attempt counted and the start recorded.
	inv := newInv()
	won, err := db.FinishUnstarted(ctx, inv.ID, result(v.ID))
	if err != nil || !won {
		t.Fatalf("queued: won %v, %v", won, err)
	}
	got, err := db.FindInvocation(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != orc.StatusSucceeded || got.Attempts != 1 || got.StartedAt == nil || got.Worker != "w" || got.Driver != "podman" ||
		got.Timing.QueueMS < 240 || got.Timing.QueueMS > 260 {
		t.Fatalf("after an unstarted result: %+v", got)
	}
	logs, err := db.InvocationLogs(ctx, inv.ID, 0)
	if err != nil || len(logs) != 1 || logs[0].Attempt != 1 {
		t.Fatalf("logs %+v, %v; want one line of attempt 1", logs, err)
	}

	// Started by another delivery: loses; that attempt still commits.
	inv = newInv()
	started, err := db.StartAttempt(ctx, inv.ID, "other", "n", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if won, err := db.FinishUnstarted(ctx, inv.ID, result(v.ID)); err != nil || won {
		t.Fatalf("started elsewhere: won %v, %v", won, err)
	}
	if won, err := db.FinishInvocation(ctx, inv.ID, &orc.Result{Status: orc.StatusSucceeded, Attempt: started.Attempts,
		Driver: "docker", FinishedAt: time.Now()}); err != nil || !won {
		t.Fatalf("the started attempt: won %v, %v", won, err)
	}
	if got, err := db.FindInvocation(ctx, inv.ID); err != nil || got.Driver != "docker" {
		t.Fatalf("the started attempt's result: %+v, %v; want driver docker", got, err)
	}

	// Canceled: loses.
	inv = newInv()
	if _, err := db.CancelInvocation(ctx, inv.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if won, err := db.FinishUnstarted(ctx, inv.ID, result(v.ID)); err != nil || won {
		t.Fatalf("canceled: won %v, %v", won, err)
	}

	// Another version than the row's: loses, and the row stays queued.
	inv = newInv()
	if won, err := db.FinishUnstarted(ctx, inv.ID, result(v.ID+1000)); err != nil || won {
		t.Fatalf("other version: won %v, %v", won, err)
	}
	if got, _ := db.FindInvocation(ctx, inv.ID); got.Status != orc.StatusQueued || got.Attempts != 0 {
		t.Fatalf("after a refused result: %+v", got)
	}

	// The same input without its white space (as a task carries it once
	// encoding/json compacted it): wins.
	inv = newInv()
	compact := result(v.ID)
	compact.Input = json.RawMessage(`{"b":1,"a":[2]}`)
	if won, err := db.FinishUnstarted(ctx, inv.ID, compact); err != nil || !won {
		t.Fatalf("the compacted input: won %v, %v", won, err)
	}

	// A run on another input than the row's (the message said otherwise):
	// loses, and the row stays queued for a run on what was recorded.
	inv = newInv()
	other := result(v.ID)
	other.Input = json.RawMessage(`{"b":2,"a":[2]}`)
	if won, err := db.FinishUnstarted(ctx, inv.ID, other); err != nil || won {
		t.Fatalf("other input: won %v, %v", won, err)
	}
	if got, _ := db.FindInvocation(ctx, inv.ID); got.Status != orc.StatusQueued || got.Attempts != 0 {
		t.Fatalf("after a result of another input: %+v", got)
	}
}
