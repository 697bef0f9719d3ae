package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orc-gateway/orc"
)

// TestDroppedTaskOfALateInsert: a worker dropped a synchronous call's task
// before its row was recorded; the row commits later and its publish mark
// too. Without the drop record nothing would queue it again, and it would
// stay queued for ever.
func TestDroppedTaskOfALateInsert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	now := time.Now()
	late := newInvocation(alice, "")
	late.ID = uuid.NewString()
	if err := db.DropTask(ctx, late.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := db.DropTask(ctx, late.ID, now); err != nil {
		t.Fatalf("a second drop of the same task: %v", err)
	}
	if _, _, err := db.CreateInvocation(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkPublished(ctx, late.ID); err != nil {
		t.Fatal(err)
	}
	list, err := db.UnpublishedInvocations(ctx, now.Add(-time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != late.ID {
		t.Fatalf("lost tasks = %v, want the late insert", ids(list))
	}
	// Queued again: forgotten. A drop whose row never came goes after its
	// time; one whose row is still queued stays.
	never := uuid.NewString()
	if err := db.DropTask(ctx, never, now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	pending := newInvocation(alice, "")
	pending.ID = uuid.NewString()
	if err := db.DropTask(ctx, pending.ID, now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateInvocation(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetDroppedTasks(ctx, now.Add(-time.Hour), late.ID); err != nil {
		t.Fatal(err)
	}
	list, err = db.UnpublishedInvocations(ctx, now.Add(-time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != pending.ID {
		t.Fatalf("after forgetting: %v, want only the pending one", ids(list))
	}
	// A row that started is not a lost task.
	if _, err := db.StartAttempt(ctx, pending.ID, "w", "n", now); err != nil {
		t.Fatal(err)
	}
	if list, err = db.UnpublishedInvocations(ctx, now.Add(-time.Minute), 10); err != nil || len(list) != 0 {
		t.Fatalf("after its start: %v, %v", ids(list), err)
	}
}

func ids(list []*orc.Invocation) []string {
	var out []string
	for _, inv := range list {
		out = append(out, inv.ID)
	}
	return out
}
