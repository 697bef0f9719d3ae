package postgres_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/store/postgres"
)

// openDB returns a migrated database of the test's own.
func openDB(t *testing.T) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func createUser(t *testing.T, db *postgres.DB, email string, role orc.Role) *orc.Principal {
	t.Helper()
	u := &orc.User{Email: email, Role: role}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := orc.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	applied, err := db.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
}

func TestUsersAndTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	p := createUser(t, db, "Ada@Example.com", orc.RoleAdmin)

	wantCode(t, db.CreateUser(ctx, &orc.User{Email: "ada@example.com", Role: orc.RoleViewer}), orc.ECONFLICT)
	wantCode(t, db.CreateUser(ctx, &orc.User{Email: "x@example.com", Role: "root"}), orc.EINVALID)

	u, err := db.FindUserByEmail(ctx, "ADA@example.com")
	if err != nil || u.ID != p.UserID {
		t.Fatalf("find by e-mail ignoring case: %v, %+v", err, u)
	}
	_, err = db.FindUserByEmail(ctx, "nobody@example.com")
	wantCode(t, err, orc.ENOTFOUND)

	now := time.Now()
	live := &orc.Token{Hash: []byte("live"), UserID: p.UserID, Method: orc.AuthToken, ExpiresAt: now.Add(time.Hour)}
	if err := db.StoreToken(ctx, live); err != nil {
		t.Fatal(err)
	}
	old := &orc.Token{Hash: []byte("old"), UserID: p.UserID, Method: orc.AuthToken, ExpiresAt: now.Add(-time.Second)}
	if err := db.StoreToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, u, err := db.LookupToken(ctx, []byte("live"), now); err != nil || u.ID != p.UserID {
		t.Fatalf("live token: %v %+v", err, u)
	}
	_, _, err = db.LookupToken(ctx, []byte("old"), now)
	wantCode(t, err, orc.ENOTFOUND)
	_, _, err = db.LookupToken(ctx, []byte("live"), now.Add(2*time.Hour))
	wantCode(t, err, orc.ENOTFOUND)
}

func version(name, v string) *orc.Version {
	ver := &orc.Version{Plugin: name, Version: v, Image: name + ":" + v, Description: "d " + v,
		InputSchema: json.RawMessage(`{"type": "object"}`)}
	ver.SetDefaults()
	return ver
}

func TestPluginVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	bob := createUser(t, db, "bob@example.com", orc.RoleDeveloper)
	admin := createUser(t, db, "root@example.com", orc.RoleAdmin)

	for _, v := range []string{"1.2.0", "1.10.0", "1.9.0"} {
		if _, err := db.CreateVersion(ctx, alice, version("classifier", v)); err != nil {
			t.Fatalf("create %s: %v", v, err)
		}
	}
	_, err := db.CreateVersion(ctx, alice, version("classifier", "1.9.0"))
	wantCode(t, err, orc.ECONFLICT)
	_, err = db.CreateVersion(ctx, bob, version("classifier", "2.0.0"))
	wantCode(t, err, orc.EFORBIDDEN)
	if _, err := db.CreateVersion(ctx, admin, version("classifier", "1.10.1-rc.1")); err != nil {
		t.Fatalf("admin adds a version to another's plugin: %v", err)
	}

	p, err := db.FindPlugin(ctx, "classifier")
	if err != nil {
		t.Fatal(err)
	}
	if p.LatestVersion != "1.10.1-rc.1" || p.Latest == nil || p.Latest.Version != "1.10.1-rc.1" || p.OwnerID != alice.UserID {
		t.Fatalf("plugin = %+v, latest %+v", p, p.Latest)
	}
	byID, err := db.FindPlugin(ctx, "1")
	if err != nil || byID.Name != "classifier" {
		t.Fatalf("find by id: %v %+v", err, byID)
	}
	v, err := db.FindVersion(ctx, "classifier", "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	if v.Image != "classifier:1.2.0" || v.Protocol != orc.ProtocolExec || v.TimeoutS != orc.DefaultTimeoutS || string(v.InputSchema) != `{"type": "object"}` {
		t.Fatalf("version = %+v", v)
	}
	if again, err := db.FindVersionByID(ctx, v.ID); err != nil || again.Version != "1.2.0" {
		t.Fatalf("by id: %v %+v", err, again)
	}
	versions, err := db.ListVersions(ctx, "classifier")
	if err != nil || len(versions) != 4 || versions[0].Version != "1.10.1-rc.1" {
		t.Fatalf("versions: %v %d", err, len(versions))
	}
	_, err = db.FindVersion(ctx, "classifier", "9.9.9")
	wantCode(t, err, orc.ENOTFOUND)

	// Private plugins are listed for their owner and admins only.
	if _, err := db.CreateVersion(ctx, bob, version("bobs", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	pub := true
	shared := version("shared", "1.0.0")
	shared.Public = &pub
	if _, err := db.CreateVersion(ctx, bob, shared); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		viewer *orc.Principal
		want   []string
	}{
		{"owner", alice, []string{"classifier", "shared"}},
		{"other", bob, []string{"bobs", "shared"}},
		{"admin", admin, []string{"bobs", "classifier", "shared"}},
	} {
		list, err := db.ListPlugins(ctx, orc.PluginFilter{Viewer: tc.viewer})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range list {
			names = append(names, p.Name)
			if p.Latest == nil {
				t.Errorf("%s: plugin %s listed without its latest version", tc.name, p.Name)
			}
		}
		if len(names) != len(tc.want) || names[0] != tc.want[0] || names[len(names)-1] != tc.want[len(tc.want)-1] {
			t.Errorf("%s sees %v, want %v", tc.name, names, tc.want)
		}
	}

	if err := db.DeletePlugin(ctx, "classifier"); err != nil {
		t.Fatal(err)
	}
	_, err = db.FindVersionByID(ctx, v.ID)
	wantCode(t, err, orc.ENOTFOUND)
	wantCode(t, db.DeletePlugin(ctx, "classifier"), orc.ENOTFOUND)
	_, err = db.ListVersions(ctx, "classifier")
	wantCode(t, err, orc.ENOTFOUND)
}

func newInvocation(owner *orc.Principal, key string) *orc.Invocation {
	return &orc.Invocation{Plugin: "echo", Version: "1.0.0", Input: json.RawMessage(`{"b": 1, "a": [2]}`),
		OwnerID: owner.UserID, IdempotencyKey: key, Pool: orc.DefaultPool}
}

func TestInvocationLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	bob := createUser(t, db, "bob@example.com", orc.RoleInvoker)

	inv, created, err := db.CreateInvocation(ctx, newInvocation(alice, "k1"))
	if err != nil || !created || inv.Status != orc.StatusQueued {
		t.Fatalf("create: %v %v %+v", err, created, inv)
	}
	if string(inv.Input) != `{"b": 1, "a": [2]}` {
		t.Fatalf("input changed on the way: %s", inv.Input)
	}
	again, created, err := db.CreateInvocation(ctx, newInvocation(alice, "k1"))
	if err != nil || created || again.ID != inv.ID {
		t.Fatalf("same key: %v created=%v id %s want %s", err, created, again.ID, inv.ID)
	}
	other, created, err := db.CreateInvocation(ctx, newInvocation(bob, "k1"))
	if err != nil || !created || other.ID == inv.ID {
		t.Fatalf("another owner's same key must be a new invocation: %v %v", err, created)
	}

	start := time.Now()
	running, err := db.StartAttempt(ctx, inv.ID, "w1", "n1", start)
	if err != nil || running.Status != orc.StatusRunning || running.Attempts != 1 || running.Worker != "w1" {
		t.Fatalf("start: %v %+v", err, running)
	}
	// A redelivery after a crash starts a second attempt.
	running, err = db.StartAttempt(ctx, inv.ID, "w2", "n1", start.Add(time.Second))
	if err != nil || running.Attempts != 2 || running.Worker != "w2" {
		t.Fatalf("second start: %v %+v", err, running)
	}

	// The first attempt finishing late is fenced off: attempt 2 owns it.
	stale := &orc.Result{Attempt: 1, Status: orc.StatusFailed, FinishedAt: time.Now(),
		Error: &orc.InvocationError{Code: orc.EPLUGIN, Message: "exit 137"},
		Logs:  []orc.LogLine{{Attempt: 1, Stream: "stderr", Time: time.Now(), Line: "stale"}}}
	if won, err := db.FinishInvocation(ctx, inv.ID, stale); err != nil || won {
		t.Fatalf("stale attempt: %v won=%v", err, won)
	}
	res := &orc.Result{Attempt: 2, Status: orc.StatusSucceeded, Output: json.RawMessage(`{"ok":true}`), Worker: "w2",
		Timing: orc.Timing{ColdMS: 3, RunMS: 4}, FinishedAt: time.Now(),
		Logs: []orc.LogLine{{Attempt: 2, Stream: "stderr", Time: time.Now(), Line: "fresh"}}}
	if won, err := db.FinishInvocation(ctx, inv.ID, res); err != nil || !won {
		t.Fatalf("finish: %v %v", err, won)
	}
	if lines, err := db.InvocationLogs(ctx, inv.ID, 0); err != nil || len(lines) != 1 || lines[0].Line != "fresh" {
		t.Fatalf("only the winning attempt's logs are kept: %v %+v", err, lines)
	}
	// Only one result is ever committed.
	late := &orc.Result{Attempt: 2, Status: orc.StatusFailed, Error: &orc.InvocationError{Code: orc.EPLUGIN, Message: "late"}, FinishedAt: time.Now()}
	if won, err := db.FinishInvocation(ctx, inv.ID, late); err != nil || won {
		t.Fatalf("second finish: %v won=%v", err, won)
	}
	done, err := db.FindInvocation(ctx, inv.ID)
	if err != nil || done.Status != orc.StatusSucceeded || string(done.Output) != `{"ok":true}` || done.Error != nil || done.FinishedAt == nil {
		t.Fatalf("done: %v %+v", err, done)
	}
	_, err = db.StartAttempt(ctx, inv.ID, "w3", "", time.Now())
	wantCode(t, err, orc.ECONFLICT)
	_, err = db.CancelInvocation(ctx, inv.ID, time.Now())
	wantCode(t, err, orc.ECONFLICT)

	canceled, err := db.CancelInvocation(ctx, other.ID, time.Now())
	if err != nil || canceled.Status != orc.StatusCanceled {
		t.Fatalf("cancel: %v %+v", err, canceled)
	}
	_, err = db.FindInvocation(ctx, "not-a-uuid")
	wantCode(t, err, orc.ENOTFOUND)
	_, err = db.FindInvocation(ctx, "8d3c6f4e-0000-4000-8000-000000000000")
	wantCode(t, err, orc.ENOTFOUND)
}

func TestListInvocationsPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	bob := createUser(t, db, "bob@example.com", orc.RoleInvoker)
	for i := 0; i < 7; i++ {
		if _, _, err := db.CreateInvocation(ctx, newInvocation(alice, "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.CreateInvocation(ctx, newInvocation(bob, "")); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		page, next, err := db.ListInvocations(ctx, orc.InvocationFilter{OwnerID: alice.UserID, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, inv := range page {
			if seen[inv.ID] || inv.OwnerID != alice.UserID {
				t.Fatalf("page %d: duplicate or foreign invocation %+v", pages, inv)
			}
			seen[inv.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("saw %d invocations in %d pages, want 7 in 3", len(seen), pages)
	}
	all, _, err := db.ListInvocations(ctx, orc.InvocationFilter{Statuses: []orc.Status{orc.StatusQueued}})
	if err != nil || len(all) != 8 {
		t.Fatalf("all queued: %v %d", err, len(all))
	}
	_, _, err = db.ListInvocations(ctx, orc.InvocationFilter{Cursor: "garbage!"})
	wantCode(t, err, orc.EINVALID)
	// A well-formed cursor whose time PostgreSQL cannot hold is the
	// client's mistake too, not the server's.
	for _, us := range []string{"9223372036854775807", "-9223372036854775808", "253402300800000000"} {
		crafted := base64.RawURLEncoding.EncodeToString([]byte(us + ".8d3c6f4e-0000-4000-8000-000000000000"))
		_, _, err = db.ListInvocations(ctx, orc.InvocationFilter{Cursor: crafted})
		wantCode(t, err, orc.EINVALID)
	}
}

func TestInvocationLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	inv, _, err := db.CreateInvocation(ctx, newInvocation(alice, ""))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.AppendLogs(ctx, inv.ID, []orc.LogLine{
		{Attempt: 1, Stream: "stderr", Time: now, Line: "loading"},
		{Attempt: 1, Stream: "stderr", Time: now, Line: "bad \x00 byte \xff"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendLogs(ctx, inv.ID, []orc.LogLine{{Attempt: 2, Stream: "stdout", Time: now, Line: "again"}}); err != nil {
		t.Fatal(err)
	}
	lines, err := db.InvocationLogs(ctx, inv.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0].Line != "loading" || lines[2].Seq != 3 || lines[2].Attempt != 2 {
		t.Fatalf("lines = %+v", lines)
	}
	if lines[1].Line != "bad \uFFFD byte \uFFFD" {
		t.Fatalf("unstorable bytes not replaced: %q", lines[1].Line)
	}
	tail, err := db.InvocationLogs(ctx, inv.ID, 2)
	if err != nil || len(tail) != 1 || tail[0].Line != "again" {
		t.Fatalf("after seq 2: %v %+v", err, tail)
	}
}

func TestPublishBookkeeping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleInvoker)
	published, _, err := db.CreateInvocation(ctx, newInvocation(alice, ""))
	if err != nil {
		t.Fatal(err)
	}
	lost, _, err := db.CreateInvocation(ctx, newInvocation(alice, ""))
	if err != nil {
		t.Fatal(err)
	}
	if published.Published {
		t.Fatal("a new invocation is not published yet")
	}
	if err := db.MarkPublished(ctx, published.ID); err != nil {
		t.Fatal(err)
	}
	list, err := db.UnpublishedInvocations(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(list) != 1 || list[0].ID != lost.ID {
		t.Fatalf("unpublished: %v %+v", err, list)
	}
	// Marks come in batches; a final invocation is left as it is.
	second, _, _ := db.CreateInvocation(ctx, newInvocation(alice, ""))
	third, _, _ := db.CreateInvocation(ctx, newInvocation(alice, ""))
	ended, _, _ := db.CreateInvocation(ctx, newInvocation(alice, ""))
	if _, err := db.CancelInvocation(ctx, ended.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkPublished(ctx, second.ID, third.ID, ended.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{second.ID, third.ID, ended.ID} {
		got, err := db.FindInvocation(ctx, id)
		if err != nil || got.Published != (id != ended.ID) {
			t.Fatalf("after a batch mark, %s: %v published=%v", id, err, got.Published)
		}
	}
	wantCode(t, db.MarkPublished(ctx, second.ID, "not-an-id"), orc.ENOTFOUND)
	if list, _ := db.UnpublishedInvocations(ctx, time.Now().Add(-time.Hour), 10); len(list) != 0 {
		t.Fatalf("recent invocations are left to their gateway: %+v", list)
	}
	// A published or started invocation is never withdrawn.
	wantCode(t, db.DeleteInvocation(ctx, published.ID), orc.ECONFLICT)
	if _, err := db.StartAttempt(ctx, lost.ID, "w", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.DeleteInvocation(ctx, lost.ID), orc.ECONFLICT)
	fresh, _, _ := db.CreateInvocation(ctx, newInvocation(alice, ""))
	if err := db.DeleteInvocation(ctx, fresh.ID); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	wantCode(t, db.DeleteInvocation(ctx, fresh.ID), orc.ENOTFOUND)
}

func TestHooksAndRejectedInvocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	alice := createUser(t, db, "alice@example.com", orc.RoleDeveloper)
	h := &orc.Hook{Name: "validator", SHA256: "ab", Module: []byte("\x00asm"), Global: true, OwnerID: alice.UserID}
	if err := db.CreateHook(ctx, h); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.CreateHook(ctx, &orc.Hook{Name: "validator", SHA256: "cd", Module: []byte("x")}), orc.ECONFLICT)
	got, err := db.FindHook(ctx, "validator")
	if err != nil || string(got.Module) != "\x00asm" || !got.Global || got.Size != 4 {
		t.Fatalf("find: %v %+v", err, got)
	}
	list, err := db.ListHooks(ctx)
	if err != nil || len(list) != 1 || list[0].Module != nil {
		t.Fatalf("list (without modules): %v %+v", err, list)
	}
	v := version("guarded", "1.0.0")
	v.Hooks.Pre = []string{"validator"}
	if _, err := db.CreateVersion(ctx, alice, v); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.DeleteHook(ctx, "validator"), orc.ECONFLICT)
	if err := db.DeletePlugin(ctx, "guarded"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteHook(ctx, "validator"); err != nil {
		t.Fatalf("delete an unused hook: %v", err)
	}
	wantCode(t, db.DeleteHook(ctx, "validator"), orc.ENOTFOUND)

	inv := newInvocation(alice, "k")
	inv.Error = &orc.InvocationError{Code: orc.EDENIED, Message: "end before start"}
	if err := db.RecordRejected(ctx, inv, []orc.LogLine{{Stream: "hook:validator", Time: time.Now(), Line: "checked"}}); err != nil {
		t.Fatal(err)
	}
	stored, err := db.FindInvocation(ctx, inv.ID)
	if err != nil || stored.Status != orc.StatusRejected || stored.Error.Message != "end before start" || stored.FinishedAt == nil || stored.IdempotencyKey != "" {
		t.Fatalf("rejected: %v %+v", err, stored)
	}
	if lines, _ := db.InvocationLogs(ctx, inv.ID, 0); len(lines) != 1 || lines[0].Stream != "hook:validator" {
		t.Fatalf("hook logs: %+v", lines)
	}
	// A rejected request does not hold its idempotency key.
	again, created, err := db.CreateInvocation(ctx, newInvocation(alice, "k"))
	if err != nil || !created || again.ID == inv.ID {
		t.Fatalf("retry after rejection: %v %v", err, created)
	}
}
