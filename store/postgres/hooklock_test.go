package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/store/postgres"
)

// A hook is never deleted while a version that names it is being stored,
// nor a version stored naming a hook being deleted: either way round, the
// database never ends with a version naming a hook that does not exist.
// Each half holds the other side's lock in a transaction of the test's own,
// so the race is forced, not hoped for.
func TestHookDeleteRacesRegistration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close(ctx) })
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	for _, name := range []string{"first", "second"} {
		if err := db.CreateHook(ctx, &orc.Hook{Name: name, SHA256: "ab", Module: []byte("m"), OwnerID: alice.UserID}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("delete first", func(t *testing.T) {
		// A delete of "first" is under way (it holds the row) when a
		// version naming it is registered: the registration must wait
		// for it and then fail, not store a version naming nothing.
		tx, err := raw.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SELECT 1 FROM hooks WHERE name = 'first' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		v := version("racer", "1.0.0")
		v.Hooks.Post = []string{"first"}
		done := make(chan error, 1)
		go func() { _, err := db.CreateVersion(ctx, alice, v); done <- err }()
		select {
		case err := <-done:
			t.Fatalf("registration did not wait for the hook's delete: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if _, err := tx.Exec(ctx, `DELETE FROM hooks WHERE name = 'first'`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		err = <-done
		wantCode(t, err, orc.EINVALID)
		if p, _ := orc.ErrorDetails(err).([]orc.Problem); len(p) != 1 || p[0].Pointer != "/hooks/post/0" {
			t.Errorf("problems = %+v, want one at /hooks/post/0", p)
		}
	})

	t.Run("register first", func(t *testing.T) {
		// A version naming "second" is being stored (its transaction
		// holds the hook as CreateVersion does) when the hook is
		// deleted: the delete must wait and then refuse.
		tx, err := raw.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SELECT 1 FROM hooks WHERE name = 'second' FOR SHARE`); err != nil {
			t.Fatal(err)
		}
		var pluginID int64
		if err := tx.QueryRow(ctx, `INSERT INTO plugins (name, owner_id) VALUES ('holder', $1) RETURNING id`, alice.UserID).Scan(&pluginID); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO plugin_versions (plugin_id, version, image, protocol, spec)
			VALUES ($1, '1.0.0', 'x', 'exec', '{"hooks": {"pre": ["second"]}}')`, pluginID); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- db.DeleteHook(ctx, "second") }()
		select {
		case err := <-done:
			t.Fatalf("delete did not wait for the registration: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		wantCode(t, <-done, orc.ECONFLICT)
		if _, err := db.FindHook(ctx, "second"); err != nil {
			t.Errorf("the hook a version names is gone: %v", err)
		}
	})
}
