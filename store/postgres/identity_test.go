package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

func TestAPIKeysStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	p := createUser(t, db, "keys@example.com", orc.RoleDeveloper)
	k := &orc.APIKey{UserID: p.UserID, Name: "ci", Prefix: "abcdef012345", Hash: []byte("hash-of-the-key-32-bytes-long..."), Role: orc.RoleInvoker}
	if err := db.CreateAPIKey(ctx, k); err != nil || k.ID == 0 {
		t.Fatalf("create: %v %+v", err, k)
	}
	wantCode(t, db.CreateAPIKey(ctx, &orc.APIKey{UserID: p.UserID, Prefix: "abcdef012345", Hash: []byte("x")}), orc.ECONFLICT)
	wantCode(t, db.CreateAPIKey(ctx, &orc.APIKey{UserID: p.UserID, Prefix: "other", Hash: []byte("x"), Role: "root"}), orc.EINVALID)
	got, u, err := db.FindAPIKeyByPrefix(ctx, "abcdef012345")
	if err != nil || got.ID != k.ID || u.ID != p.UserID || got.Role != orc.RoleInvoker || string(got.Hash) != string(k.Hash) {
		t.Fatalf("find: %v %+v %+v", err, got, u)
	}
	_, _, err = db.FindAPIKeyByPrefix(ctx, "nope")
	wantCode(t, err, orc.ENOTFOUND)

	now := time.Now()
	if err := db.TouchAPIKey(ctx, k.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchAPIKey(ctx, k.ID, now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindAPIKey(ctx, k.ID)
	if got.LastUsedAt == nil || got.LastUsedAt.Sub(now).Abs() > time.Millisecond {
		t.Errorf("last_used_at = %v, want the first touch (the second was within a minute)", got.LastUsedAt)
	}
	if !got.Usable(now) {
		t.Errorf("a fresh key is not usable")
	}
	revoked, err := db.RevokeAPIKey(ctx, k.ID, now)
	if err != nil || revoked.RevokedAt == nil || revoked.Usable(now) {
		t.Fatalf("revoke: %v %+v", err, revoked)
	}
	_, err = db.RevokeAPIKey(ctx, k.ID, now)
	wantCode(t, err, orc.ECONFLICT)
	_, err = db.RevokeAPIKey(ctx, 999999, now)
	wantCode(t, err, orc.ENOTFOUND)
	list, err := db.ListAPIKeys(ctx, p.UserID)
	if err != nil || len(list) != 1 {
		t.Errorf("list: %v %d", err, len(list))
	}
	// User ids are 64 bits wide, also where the query compares with 0.
	if list, err = db.ListAPIKeys(ctx, 99_999_999_999); err != nil || len(list) != 0 {
		t.Errorf("list of a user id past 32 bits: %v %d", err, len(list))
	}
}

func TestSignInsAreTakenOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	p := createUser(t, db, "sso@example.com", orc.RoleViewer)
	now := time.Now()
	in := &orc.SignIn{State: "s1", BindingHash: []byte("b"), Nonce: "n", Verifier: "v", ReturnTo: "/", ExpiresAt: now.Add(time.Minute)}
	if err := db.CreateSignIn(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSignIn(ctx, &orc.SignIn{State: "old", BindingHash: []byte("b"), ExpiresAt: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := db.TakeSignIn(ctx, "s1", now)
	if err != nil || got.Nonce != "n" || got.Verifier != "v" {
		t.Fatalf("take: %v %+v", err, got)
	}
	_, err = db.TakeSignIn(ctx, "s1", now)
	wantCode(t, err, orc.ENOTFOUND)
	_, err = db.TakeSignIn(ctx, "old", now)
	wantCode(t, err, orc.ENOTFOUND)

	c := &orc.SignInCode{Hash: []byte("code"), UserID: p.UserID, RedirectURI: "http://127.0.0.1:1/cb", Challenge: "ch", ExpiresAt: now.Add(time.Minute)}
	if err := db.CreateSignInCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err = db.TakeSignInCode(ctx, []byte("code"), now.Add(2*time.Minute))
	wantCode(t, err, orc.ENOTFOUND) // expired at that time
	if got, err := db.TakeSignInCode(ctx, []byte("code"), now); err != nil || got.UserID != p.UserID || got.Challenge != "ch" {
		t.Fatalf("take code: %v %+v", err, got)
	}
	_, err = db.TakeSignInCode(ctx, []byte("code"), now)
	wantCode(t, err, orc.ENOTFOUND)
}

func TestUsersOIDCAndAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	a := createUser(t, db, "a@example.com", orc.RoleViewer)
	b := createUser(t, db, "b@example.com", orc.RoleViewer)
	now := time.Now()
	if err := db.LinkOIDC(ctx, a.UserID, "https://idp", "sub-a", now); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.LinkOIDC(ctx, b.UserID, "https://idp", "sub-a", now), orc.ECONFLICT)
	u, err := db.FindUserByOIDC(ctx, "https://idp", "sub-a")
	if err != nil || u.ID != a.UserID || u.LastLoginAt == nil {
		t.Fatalf("find by oidc: %v %+v", err, u)
	}
	role, disabled := orc.RoleDeveloper, true
	u, err = db.UpdateUser(ctx, a.UserID, orc.UserUpdate{Role: &role, Disabled: &disabled})
	if err != nil || u.Role != orc.RoleDeveloper || !u.Disabled || u.Email != "a@example.com" {
		t.Fatalf("update: %v %+v", err, u)
	}
	bad := orc.Role("root")
	_, err = db.UpdateUser(ctx, a.UserID, orc.UserUpdate{Role: &bad})
	wantCode(t, err, orc.EINVALID)
	_, err = db.UpdateUser(ctx, 999999, orc.UserUpdate{Role: &role})
	wantCode(t, err, orc.ENOTFOUND)
	list, err := db.ListUsers(ctx, orc.UserFilter{AfterID: a.UserID})
	if err != nil || len(list) != 1 || list[0].ID != b.UserID {
		t.Errorf("list after a: %v %+v", err, list)
	}

	// Sessions and tokens keep how their holder signed in.
	if err := db.StoreToken(ctx, &orc.Token{Hash: []byte("s"), UserID: b.UserID, Method: orc.AuthOIDC, Session: true, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok, u, err := db.LookupToken(ctx, []byte("s"), now)
	if err != nil || !tok.Session || tok.Method != orc.AuthOIDC || u.ID != b.UserID {
		t.Fatalf("lookup: %v %+v %+v", err, tok, u)
	}
	if err := db.DeleteToken(ctx, []byte("s")); err != nil {
		t.Fatal(err)
	}
	_, _, err = db.LookupToken(ctx, []byte("s"), now)
	wantCode(t, err, orc.ENOTFOUND)

	for i, action := range []string{orc.AuditSignIn, orc.AuditUserUpdate, orc.AuditSignIn} {
		e := &orc.AuditEvent{ActorID: a.UserID, Action: action, Target: itoa(i), Details: []byte(`{"k":"v"}`)}
		if err := db.RecordAudit(ctx, e); err != nil || e.ID == 0 {
			t.Fatal(err)
		}
	}
	page, next, err := db.ListAudit(ctx, orc.AuditFilter{Action: orc.AuditSignIn, Limit: 1})
	if err != nil || len(page) != 1 || page[0].Target != "2" || next == "" || string(page[0].Details) != `{"k": "v"}` {
		t.Fatalf("first page: %v %+v %q", err, page, next)
	}
	page, next, err = db.ListAudit(ctx, orc.AuditFilter{Action: orc.AuditSignIn, Limit: 1, Cursor: next})
	if err != nil || len(page) != 1 || page[0].Target != "0" || next != "" {
		t.Fatalf("second page: %v %+v %q", err, page, next)
	}
	_, _, err = db.ListAudit(ctx, orc.AuditFilter{Cursor: "!"})
	wantCode(t, err, orc.EINVALID)
}

func itoa(i int) string { return string(rune('0' + i)) }
