package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orc-gateway/orc"
)

func TestRayTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	id := uuid.NewString()
	if _, err := db.RayTask(ctx, id, 1); orc.ErrorCode(err) != orc.ENOTFOUND {
		t.Fatalf("no task: %v", err)
	}
	if err := db.PutRayTask(ctx, id, 1, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRayTask(ctx, id, 1, []byte(`{"a":2}`)); err != nil {
		t.Fatalf("a redelivery stores it again: %v", err)
	}
	if spec, err := db.RayTask(ctx, id, 1); err != nil || string(spec) != `{"a":2}` {
		t.Fatalf("task = %s, %v", spec, err)
	}
	if res, err := db.RayTaskResult(ctx, id, 1); err != nil || res != nil {
		t.Fatalf("result before the run: %s, %v", res, err)
	}
	if err := db.SetRayTaskResult(ctx, id, 2, []byte(`{}`)); orc.ErrorCode(err) != orc.ENOTFOUND {
		t.Fatalf("result of an attempt without a task: %v", err)
	}
	if err := db.SetRayTaskResult(ctx, id, 1, []byte(`{"exit":0}`)); err != nil {
		t.Fatal(err)
	}
	if res, err := db.RayTaskResult(ctx, id, 1); err != nil || string(res) != `{"exit":0}` {
		t.Fatalf("result = %s, %v", res, err)
	}
	old := uuid.NewString()
	if err := db.PutRayTask(ctx, old, 1, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	// Deleting one invocation's tasks sweeps those older than the cut too.
	if err := db.DeleteRayTasks(ctx, id, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{id, old} {
		if _, err := db.RayTask(ctx, gone, 1); orc.ErrorCode(err) != orc.ENOTFOUND {
			t.Errorf("task of %s after the delete: %v", gone, err)
		}
	}
}
