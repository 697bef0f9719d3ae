package invoke

import (
	"context"
	"errors"
	"testing"

	"github.com/orc-gateway/orc"
)

// fakeDeadLetters redrives the fake store's dead rows as the database
// does: once, dead rows only.
type fakeDeadLetters struct {
	orc.DeadLetterService
	store    *fakeStore
	redrives int
}

func (d *fakeDeadLetters) RedriveDeadLetter(_ context.Context, id string) (*orc.Invocation, error) {
	d.store.mu.Lock()
	defer d.store.mu.Unlock()
	inv := d.store.rows[id]
	if inv == nil || inv.Status != orc.StatusDead {
		return nil, orc.Errorf(orc.ECONFLICT, "not a dead letter")
	}
	d.redrives++
	inv.Status, inv.Redrives, inv.Published = orc.StatusQueued, inv.Redrives+1, false
	cp := *inv
	return &cp, nil
}

func deadRow(store *fakeStore, owner int64) *orc.Invocation {
	inv := &orc.Invocation{ID: "dead-1", Plugin: "echo", Version: "1.0.0", VersionID: 1, Status: orc.StatusDead,
		Attempts: 5, OwnerID: owner, Pool: orc.DefaultPool, Input: []byte(`{}`)}
	store.mu.Lock()
	store.rows[inv.ID] = inv
	store.mu.Unlock()
	return inv
}

// A redrive records the row queued before it publishes the task, which
// carries the new redrive count; while the broker is down nothing changes;
// a publish that fails leaves the row queued for the sweep, never
// withdrawn.
func TestRedrive(t *testing.T) {
	tests := []struct {
		name       string
		readyErr   error
		publishErr error
		wantCode   string
		wantStatus orc.Status
		wantTasks  int
	}{
		{"queued", nil, nil, "", orc.StatusQueued, 1},
		{"broker down", orc.Errorf(orc.EUNAVAILABLE, "down"), nil, orc.EUNAVAILABLE, orc.StatusDead, 0},
		{"publish fails", nil, errors.New("nack"), "", orc.StatusQueued, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, store, broker := newTestService(t)
			dl := &fakeDeadLetters{store: store}
			s.DeadLetters = dl
			broker.readyErr, broker.publishErr = tt.readyErr, tt.publishErr
			var rowAtPublish orc.Status
			broker.onPublish = func(task *orc.Task) {
				rowAtPublish = store.row(task.InvocationID).Status
				if task.Redrives != 1 {
					t.Errorf("task redrives = %d, want 1", task.Redrives)
				}
			}
			deadRow(store, 1)
			_, err := s.Redrive(alice(), "dead-1")
			if orc.ErrorCode(err) != tt.wantCode {
				t.Fatalf("redrive: %v, want code %q", err, tt.wantCode)
			}
			if got := store.row("dead-1"); got == nil || got.Status != tt.wantStatus {
				t.Fatalf("row after redrive: %+v, want %s", got, tt.wantStatus)
			}
			if n := len(broker.published()); n != tt.wantTasks {
				t.Fatalf("%d tasks published, want %d", n, tt.wantTasks)
			}
			if tt.wantTasks > 0 && rowAtPublish != orc.StatusQueued {
				t.Errorf("row was %q when its task was published, want queued", rowAtPublish)
			}
			if len(store.deleted) != 0 {
				t.Errorf("a redriven row was withdrawn: %v", store.deleted)
			}
		})
	}
}

// Another user's dead letter is not found; a viewer's own is forbidden.
func TestRedriveChecksThePrincipal(t *testing.T) {
	s, store, _ := newTestService(t)
	s.DeadLetters = &fakeDeadLetters{store: store}
	deadRow(store, 2)
	if _, err := s.Redrive(alice(), "dead-1"); orc.ErrorCode(err) != orc.ENOTFOUND {
		t.Fatalf("another's: %v, want not found", err)
	}
	viewer := orc.NewContextWithPrincipal(context.Background(), &orc.Principal{UserID: 2, Role: orc.RoleViewer})
	if _, err := s.Redrive(viewer, "dead-1"); orc.ErrorCode(err) != orc.EFORBIDDEN {
		t.Fatalf("viewer's own: %v, want forbidden", err)
	}
	if got := store.row("dead-1"); got.Status != orc.StatusDead {
		t.Fatalf("refused redrive changed the row: %+v", got)
	}
}
