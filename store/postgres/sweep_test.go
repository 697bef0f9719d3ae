package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// Of two sweeps that find the same lost invocation, one queues it again.
func TestClaimRequeueOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	inv, _, err := db.CreateInvocation(ctx, newInvocation(alice, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MarkPublished(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	later := time.Now() // the sweep's "lost after" bound, passed
	found, err := db.QueuedBefore(ctx, later, 10)
	if err != nil || len(found) != 1 || found[0].ID != inv.ID {
		t.Fatalf("queued before: %v %+v", err, found)
	}
	wins := 0
	for range 2 {
		won, err := db.ClaimRequeue(ctx, found[0], later)
		if err != nil {
			t.Fatal(err)
		}
		if won {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d claims won, want 1", wins)
	}
	// Once started, it is no longer the queued invocation the sweep read.
	if _, err := db.StartAttempt(ctx, inv.ID, "w1", "n1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if won, err := db.ClaimRequeue(ctx, found[0], later.Add(time.Hour)); err != nil || won {
		t.Fatalf("claim of a started invocation: %v %v", won, err)
	}
}

// A running invocation is stranded only while its worker is silent.
func TestStrandedBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	start := time.Now().Add(-time.Hour)
	ids := map[string]string{}
	for _, worker := range []string{"silent", "alive"} {
		inv, _, err := db.CreateInvocation(ctx, newInvocation(alice, worker))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.StartAttempt(ctx, inv.ID, worker, "n", start); err != nil {
			t.Fatal(err)
		}
		ids[worker] = inv.ID
	}
	if err := db.Heartbeat(ctx, &orc.WorkerInfo{ID: "alive", Node: "n", Pool: orc.DefaultPool, StartedAt: start, HeartbeatAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	list, err := db.StrandedBefore(ctx, time.Now().Add(-time.Minute), 10)
	if err != nil || len(list) != 1 || list[0].ID != ids["silent"] {
		t.Fatalf("stranded: %v %+v, want only %s", err, list, ids["silent"])
	}
}

// A queued invocation past its version's queue_timeout_s ends expired,
// saying why its pool did not take it; one within it stays queued.
func TestExpireQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	v := version("slowpool", "1.0.0")
	v.Pool, v.QueueTimeoutS = "big", 60
	created, err := db.CreateVersion(ctx, alice, v)
	if err != nil {
		t.Fatal(err)
	}
	inv := newInvocation(alice, "")
	inv.Plugin, inv.Version, inv.VersionID, inv.Pool = "slowpool", "1.0.0", created.ID, "big"
	inv, _, err = db.CreateInvocation(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SavePoolStatuses(ctx, []*orc.PoolStatus{{Pool: "big", State: orc.PoolUnschedulable, Reason: "no node offers 64 CPUs"}}); err != nil {
		t.Fatal(err)
	}
	if list, err := db.ExpireQueued(ctx, time.Now().Add(30*time.Second), 10); err != nil || len(list) != 0 {
		t.Fatalf("expired within the timeout: %v %+v", err, list)
	}
	list, err := db.ExpireQueued(ctx, time.Now().Add(2*time.Minute), 10)
	if err != nil || len(list) != 1 || list[0].ID != inv.ID || list[0].Status != orc.StatusExpired {
		t.Fatalf("expire: %v %+v", err, list)
	}
	e := list[0].Error
	if e == nil || e.Code != orc.EEXPIRED || !strings.Contains(e.Message, "(60 s)") || !strings.Contains(e.Message, "no node offers 64 CPUs") {
		t.Fatalf("expired with %+v", e)
	}
	// Final: a worker that gets its task now finds nothing to run.
	if _, err := db.StartAttempt(ctx, inv.ID, "w", "n", time.Now()); orc.ErrorCode(err) != orc.ECONFLICT {
		t.Fatalf("start of an expired invocation: %v", err)
	}

	// A redriven invocation waits from its redrive: one created long ago
	// is not expired the moment it is queued again.
	old := newInvocation(alice, "")
	old.Plugin, old.Version, old.VersionID, old.Pool = "slowpool", "1.0.0", created.ID, "big"
	old.CreatedAt = time.Now().Add(-time.Hour)
	if old, _, err = db.CreateInvocation(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MarkDead(ctx, old.ID, orc.Death{Reason: "delivery_limit"}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedriveDeadLetter(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := db.ExpireQueued(ctx, time.Now().Add(30*time.Second), 10); err != nil || len(list) != 0 {
		t.Fatalf("a redriven invocation expired by its creation time: %v %+v", err, list)
	}
	if list, err := db.ExpireQueued(ctx, time.Now().Add(2*time.Minute), 10); err != nil || len(list) != 1 || list[0].ID != old.ID {
		t.Fatalf("a redriven invocation past its queue timeout: %v %+v", err, list)
	}
}
