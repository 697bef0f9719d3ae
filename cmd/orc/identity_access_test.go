package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

// roleUsers adds a local account of each role and returns their tokens.
func (s *stack) roleUsers(suffix string) map[orc.Role]string {
	s.t.Helper()
	tokens := map[orc.Role]string{orc.RoleAdmin: s.token}
	for _, r := range []orc.Role{orc.RoleDeveloper, orc.RoleInvoker, orc.RoleViewer} {
		tokens[r] = s.addUser(string(r)+suffix+"@example.com", r)
	}
	return tokens
}

// echoManifest is the echo plugin's plugin.json under another name.
func echoManifest(t testing.TB, name string, public bool) map[string]any {
	return manifest(t, "echo", func(m map[string]any) {
		m["name"] = name
		m["public"] = public
	})
}

// TestRoleChecks tries every route that changes something with each role.
func TestRoleChecks(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.shareImages("orc-*")
	ctx := context.Background()
	tokens := s.roleUsers("")
	roles := []orc.Role{orc.RoleAdmin, orc.RoleDeveloper, orc.RoleInvoker, orc.RoleViewer}
	// A public plugin of the admin's that everyone sees.
	s.register(echoManifest(t, "shared", true))

	// Each role's own resources, so that the cases do not depend on each
	// other: a hook, a key, an invocation (for those who may invoke).
	ids := map[orc.Role]map[string]string{}
	for _, r := range roles {
		email := string(r) + "@example.com"
		if r == orc.RoleAdmin {
			email = adminEmail
		}
		u, err := s.db.FindUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		h := &orc.Hook{Name: "hook-" + string(r), SHA256: strings.Repeat("0", 64), Module: []byte("\x00asm"), OwnerID: u.ID}
		if err := s.db.CreateHook(ctx, h); err != nil {
			t.Fatal(err)
		}
		key := s.do("POST", "/api/v1/api-keys", map[string]any{"name": "k"}, bearer(tokens[r])...)
		want(t, string(r)+" creates a key", key, http.StatusCreated, "")
		var k struct {
			ID int64 `json:"id"`
		}
		key.json(t, &k)
		inv := &orc.Invocation{ID: uuid.NewString(), Plugin: "shared", Version: "1.0.0", Input: []byte(`{}`), OwnerID: u.ID, Pool: "default", Status: orc.StatusQueued}
		if _, _, err := s.db.CreateInvocation(ctx, inv); err != nil {
			t.Fatal(err)
		}
		ids[r] = map[string]string{"user": itoa(u.ID), "key": itoa(k.ID), "inv": inv.ID}
	}
	viewerID := ids[orc.RoleViewer]["user"]

	type route struct {
		name, method, path string
		body               any
		headers            []string
		// status by role
		want map[orc.Role]int
	}
	all := func(status int) map[orc.Role]int {
		return map[orc.Role]int{orc.RoleAdmin: status, orc.RoleDeveloper: status, orc.RoleInvoker: status, orc.RoleViewer: status}
	}
	by := func(admin, dev, inv, viewer int) map[orc.Role]int {
		return map[orc.Role]int{orc.RoleAdmin: admin, orc.RoleDeveloper: dev, orc.RoleInvoker: inv, orc.RoleViewer: viewer}
	}
	for _, r := range roles {
		own := ids[r]
		routes := []route{
			{"register a plugin", "POST", "/api/v1/plugins", echoManifest(t, "mine-"+string(r), false), nil, by(201, 201, 403, 403)},
			{"add a version to another's plugin", "POST", "/api/v1/plugins/shared/versions",
				manifest(t, "echo", func(m map[string]any) { m["name"], m["version"] = "shared", "2.0.0-"+string(r) }), nil, by(201, 403, 403, 403)},
			{"invoke", "POST", "/invoke/shared", map[string]any{}, []string{"Prefer", "respond-async"}, by(202, 202, 202, 403)},
			{"create a job", "POST", "/api/v1/jobs", map[string]any{"plugin_name": "shared", "input_data": map[string]any{}}, nil, by(201, 201, 201, 403)},
			{"cancel an own invocation", "POST", "/api/v1/invocations/" + own["inv"] + "/cancel", nil, nil, by(200, 200, 200, 403)},
			{"upload a hook", "POST", "/api/v1/hooks?name=up-" + string(r), "not wasm", []string{"Content-Type", "application/wasm"}, by(400, 400, 403, 403)},
			{"delete an own hook", "DELETE", "/api/v1/hooks/hook-" + string(r), nil, nil, by(204, 204, 403, 403)},
			{"create an API key", "POST", "/api/v1/api-keys", map[string]any{"name": "more"}, nil, all(201)},
			{"revoke an own API key", "DELETE", "/api/v1/api-keys/" + own["key"], nil, nil, all(200)},
			{"create a user", "POST", "/api/v1/users", map[string]any{"email": "new-" + string(r) + "@example.com", "role": "viewer"}, nil, by(201, 403, 403, 403)},
			{"change a user", "PATCH", "/api/v1/users/" + viewerID, map[string]any{"name": "V"}, nil, by(200, 403, 403, 403)},
			{"list users", "GET", "/api/v1/users", nil, nil, by(200, 403, 403, 403)},
			{"read the audit log", "GET", "/api/v1/audit", nil, nil, by(200, 403, 403, 403)},
			{"delete another's plugin", "DELETE", "/api/v1/plugins/shared", nil, nil, by(0, 403, 403, 403)}, // admin: last
			{"delete an own plugin", "DELETE", "/api/v1/plugins/mine-" + string(r), nil, nil, by(204, 204, 404, 404)},
			{"sign out", "POST", "/auth/logout", nil, nil, all(204)},
		}
		for _, rt := range routes {
			status := rt.want[r]
			if status == 0 {
				continue
			}
			t.Run(string(r)+"/"+rt.name, func(t *testing.T) {
				headers := append(bearer(tokens[r]), rt.headers...)
				resp := s.do(rt.method, rt.path, rt.body, headers...)
				code := ""
				if status == http.StatusForbidden {
					code = orc.EFORBIDDEN
				}
				want(t, rt.method+" "+rt.path, resp, status, code)
			})
		}
		// The sign-out ended the role's token; sign in again for the
		// next role's turn.
		if r != orc.RoleAdmin {
			tokens[r] = s.login(string(r)+"@example.com", "password-"+string(r)+"@example.com")
		} else {
			s.token = s.login(adminEmail, adminPassword)
			tokens[r] = s.token
		}
	}
	want(t, "admin deletes another's plugin", s.do("DELETE", "/api/v1/plugins/shared", nil), http.StatusNoContent, "")
}

// TestCrossTenant has user B try user A's invocation every way: each is
// 404, as if it did not exist. Private plugins are hidden the same way.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.shareImages("orc-*")
	a := s.addUser("a@example.com", orc.RoleDeveloper)
	b := s.addUser("b@example.com", orc.RoleInvoker)
	s.token = a
	s.register(echoManifest(t, "a-private", false))
	s.register(echoManifest(t, "a-public", true))
	resp := s.do("POST", "/invoke/a-public", map[string]any{"n": 1}, "Prefer", "respond-async")
	want(t, "A invokes", resp, http.StatusAccepted, "")
	id := resp.header.Get("X-Orc-Invocation-Id")
	s.token = b
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/invocations/" + id},
		{"GET", "/api/v1/invocations/" + id + "/logs"},
		{"POST", "/api/v1/invocations/" + id + "/cancel"},
		{"GET", "/api/v1/jobs/" + id},
		{"GET", "/api/v1/plugins/a-private"},
		{"GET", "/api/v1/plugins/a-private/versions"},
		{"POST", "/invoke/a-private"},
		{"POST", "/api/v1/invocations/00000000-0000-0000-0000-000000000000/cancel"},
	} {
		want(t, "B: "+c.method+" "+c.path, s.do(c.method, c.path, map[string]any{}), http.StatusNotFound, orc.ENOTFOUND)
	}
	for _, path := range []string{"/api/v1/invocations", "/api/v1/invocations?owner_id=" + itoa(s.userID("a@example.com")), "/api/v1/jobs"} {
		resp := s.do("GET", path, nil)
		want(t, "B lists "+path, resp, http.StatusOK, "")
		if strings.Contains(string(resp.body), id) {
			t.Errorf("B's list %s shows A's invocation: %s", path, resp.body)
		}
	}
	resp = s.do("GET", "/api/v1/plugins", nil)
	if strings.Contains(string(resp.body), "a-private") || !strings.Contains(string(resp.body), "a-public") {
		t.Errorf("B's plugin list: %s", resp.body)
	}
	// Registering under another developer's name: a private plugin's name
	// is not found, a public one's is forbidden.
	c := s.addUser("c@example.com", orc.RoleDeveloper)
	want(t, "C registers a-private", s.do("POST", "/api/v1/plugins", echoManifest(t, "a-private", false), bearer(c)...),
		http.StatusNotFound, orc.ENOTFOUND)
	want(t, "C registers a-public", s.do("POST", "/api/v1/plugins", echoManifest(t, "a-public", false), bearer(c)...),
		http.StatusForbidden, orc.EFORBIDDEN)
	// A and the admin still see it, and A may cancel it.
	want(t, "A reads", s.do("GET", "/api/v1/invocations/"+id, nil, bearer(a)...), http.StatusOK, "")
	s.token = s.login(adminEmail, adminPassword)
	want(t, "admin reads", s.do("GET", "/api/v1/invocations/"+id, nil), http.StatusOK, "")
	want(t, "A cancels", s.do("POST", "/api/v1/invocations/"+id+"/cancel", nil, bearer(a)...), http.StatusOK, "")
}

// TestRateLimits checks the per-principal token bucket and the in-flight
// cap, both answering 429 with Retry-After.
func TestRateLimits(t *testing.T) {
	s := newStack(t, func(c *Config) {
		c.Identity.Limits[orc.RoleViewer] = limitOf("rate=1,burst=3,inflight=0")
		c.Identity.Limits[orc.RoleInvoker] = limitOf("rate=100,burst=100,inflight=2")
	}, true)
	viewer := s.addUser("viewer@example.com", orc.RoleViewer)
	var limited *response
	for i := 0; i < 6 && limited == nil; i++ {
		if r := s.do("GET", "/api/v1/plugins", nil, bearer(viewer)...); r.status == http.StatusTooManyRequests {
			limited = r
		}
	}
	if limited == nil {
		t.Fatal("6 requests at once with burst 3 were never limited")
	}
	want(t, "rate limited", limited, http.StatusTooManyRequests, orc.ERATELIMIT)
	if ra := limited.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1 (one request a second)", ra)
	}
	// The admin is not limited by the viewer's bucket.
	want(t, "admin meanwhile", s.do("GET", "/api/v1/plugins", nil), http.StatusOK, "")
	time.Sleep(1100 * time.Millisecond)
	want(t, "after Retry-After", s.do("GET", "/api/v1/plugins", nil, bearer(viewer)...), http.StatusOK, "")

	// Without a worker, invocations stay queued: the third is over the cap.
	s.register(echoManifest(t, "echo", true))
	invoker := s.addUser("invoker@example.com", orc.RoleInvoker)
	for i := 0; i < 2; i++ {
		want(t, "invoke", s.do("POST", "/invoke/echo", map[string]any{"i": i}, append(bearer(invoker), "Prefer", "respond-async")...), http.StatusAccepted, "")
	}
	r := s.do("POST", "/invoke/echo", map[string]any{}, append(bearer(invoker), "Prefer", "respond-async")...)
	want(t, "third in flight", r, http.StatusTooManyRequests, orc.ERATELIMIT)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("in-flight 429 without Retry-After")
	}
	want(t, "job over the cap", s.do("POST", "/api/v1/jobs", map[string]any{"plugin_name": "echo"}, bearer(invoker)...), http.StatusTooManyRequests, orc.ERATELIMIT)
}

func limitOf(s string) identity.Limit {
	f := roleLimitFlag{m: roleLimits{}, role: orc.RoleInvoker}
	if err := f.Set(s); err != nil {
		panic(err)
	}
	return f.m[orc.RoleInvoker]
}

// TestMassAssignment sends fields the server owns through every body that
// could take them: each is refused, and nothing changes.
func TestMassAssignment(t *testing.T) {
	s := newStack(t, nil, true)
	dev := s.addUser("dev@example.com", orc.RoleDeveloper)
	adminID := s.userID(adminEmail)
	devID := s.userID("dev@example.com")
	cases := []struct {
		name, method, path string
		body               any
	}{
		{"plugin owner", "POST", "/api/v1/plugins", manifest(t, "echo", func(m map[string]any) { m["name"], m["owner_id"] = "owned", adminID })},
		{"version owner", "POST", "/api/v1/plugins", manifest(t, "echo", func(m map[string]any) { m["name"], m["owner"] = "owned2", "admin" })},
		{"job owner", "POST", "/api/v1/jobs", map[string]any{"plugin_name": "x", "user_id": adminID}},
		{"API key owner", "POST", "/api/v1/api-keys", map[string]any{"name": "k", "user_id": adminID}},
		{"token role", "POST", "/api/v1/auth/token", map[string]any{"username": "dev@example.com", "password": "password-dev@example.com", "role": "admin"}},
	}
	for _, c := range cases {
		want(t, c.name, s.do(c.method, c.path, c.body, bearer(dev)...), http.StatusBadRequest, orc.EINVALID)
	}
	want(t, "API key above the role", s.do("POST", "/api/v1/api-keys", map[string]any{"role": "admin"}, bearer(dev)...), http.StatusForbidden, orc.EFORBIDDEN)
	want(t, "own role", s.do("PATCH", idPath("/api/v1/users/", devID), map[string]any{"role": "admin"}, bearer(dev)...), http.StatusForbidden, orc.EFORBIDDEN)
	want(t, "me is read-only", s.do("PATCH", "/api/v1/auth/me", map[string]any{"role": "admin"}, bearer(dev)...), http.StatusMethodNotAllowed, "")
	if _, m := s.me(dev); m.Role != orc.RoleDeveloper {
		t.Errorf("dev's role is now %s", m.Role)
	}
	// What the developer registers is the developer's.
	s.token = dev
	s.register(echoManifest(t, "devs", false))
	var p orc.Plugin
	s.do("GET", "/api/v1/plugins/devs", nil).json(t, &p)
	if p.OwnerID != devID {
		t.Errorf("owner %d, want the developer %d", p.OwnerID, devID)
	}
}

// TestAPIKeys creates, uses, narrows, expires and revokes API keys.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	dev := s.addUser("dev@example.com", orc.RoleDeveloper)
	other := s.addUser("other@example.com", orc.RoleDeveloper)
	create := func(token string, body map[string]any) (int64, string) {
		t.Helper()
		resp := s.do("POST", "/api/v1/api-keys", body, bearer(token)...)
		want(t, "create key", resp, http.StatusCreated, "")
		var k struct {
			ID     int64  `json:"id"`
			Key    string `json:"key"`
			Prefix string `json:"prefix"`
		}
		resp.json(t, &k)
		if !strings.HasPrefix(k.Key, "orc_k_"+k.Prefix+"_") || resp.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("created key %+v, Cache-Control %q", k, resp.header.Get("Cache-Control"))
		}
		return k.ID, k.Key
	}
	id, key := create(dev, map[string]any{"name": "ci"})
	if r, m := s.me(key); r.status != http.StatusOK || m.AuthMethod != orc.AuthAPIKey || m.Role != orc.RoleDeveloper || m.APIKeyID != id {
		t.Fatalf("me with the key: %d %+v", r.status, m)
	}
	// Listed without the key itself; last use recorded.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := s.do("GET", "/api/v1/api-keys", nil, bearer(dev)...)
		if strings.Contains(string(resp.body), key[10:]) || strings.Contains(string(resp.body), `"key"`) {
			t.Fatalf("the list shows the key: %s", resp.body)
		}
		if strings.Contains(string(resp.body), "last_used_at") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last_used_at never set: %s", resp.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Only the hash is stored.
	k, _, err := s.db.FindAPIKeyByPrefix(context.Background(), strings.Split(key, "_")[2])
	if err != nil || strings.Contains(string(k.Hash), key) || len(k.Hash) != 32 {
		t.Errorf("stored key: %v %+v", err, k)
	}
	// A narrower key acts with its role.
	_, narrow := create(dev, map[string]any{"name": "runner", "role": "invoker"})
	if _, m := s.me(narrow); m.Role != orc.RoleInvoker || m.AccountRole != orc.RoleDeveloper {
		t.Errorf("narrow key: %+v", m)
	}
	want(t, "narrow key registers", s.do("POST", "/api/v1/plugins", echoManifest(t, "nope", false), bearer(narrow)...), http.StatusForbidden, orc.EFORBIDDEN)
	// A key never mints a wider key: without a role it gets its own, and
	// a wider role is refused; an admin's viewer key cannot reach the users.
	admin := s.token
	_, viewerKey := create(admin, map[string]any{"name": "read-only", "role": "viewer"})
	childID, child := create(viewerKey, map[string]any{"name": "child"})
	if _, m := s.me(child); m.Role != orc.RoleViewer {
		t.Errorf("a key made by a viewer key acts as %s", m.Role)
	}
	want(t, "child key lists users", s.do("GET", "/api/v1/users", nil, bearer(child)...), http.StatusForbidden, orc.EFORBIDDEN)
	want(t, "viewer key mints an admin key", s.do("POST", "/api/v1/api-keys", map[string]any{"role": "admin"}, bearer(viewerKey)...),
		http.StatusForbidden, orc.EFORBIDDEN)
	// ... nor one that outlives it.
	_, expiring := create(admin, map[string]any{"name": "day", "role": "invoker", "expires_in": 86400})
	grandID, _ := create(expiring, map[string]any{"name": "forever"})
	var parentKey, grandKey orc.APIKey
	s.do("GET", idPath("/api/v1/api-keys/", grandID), nil, bearer(admin)...).json(t, &grandKey)
	if grandKey.ExpiresAt == nil || grandKey.Role != orc.RoleInvoker || grandKey.ExpiresAt.After(time.Now().Add(86401*time.Second)) {
		t.Errorf("a key made by a key that expires in a day: %+v", grandKey)
	}
	s.do("GET", idPath("/api/v1/api-keys/", childID), nil, bearer(admin)...).json(t, &parentKey)
	if parentKey.Role != orc.RoleViewer {
		t.Errorf("the child key's stored role is %q, want viewer", parentKey.Role)
	}
	// Lifetimes are bounded.
	want(t, "key for a century", s.do("POST", "/api/v1/api-keys", map[string]any{"expires_in": 10_000_000_000}, bearer(dev)...),
		http.StatusBadRequest, orc.EINVALID)
	// Others' keys are not found.
	want(t, "other reads", s.do("GET", idPath("/api/v1/api-keys/", id), nil, bearer(other)...), http.StatusNotFound, orc.ENOTFOUND)
	want(t, "other revokes", s.do("DELETE", idPath("/api/v1/api-keys/", id), nil, bearer(other)...), http.StatusNotFound, orc.ENOTFOUND)
	// Revoked and expired keys are refused.
	want(t, "revoke", s.do("DELETE", idPath("/api/v1/api-keys/", id), nil, bearer(dev)...), http.StatusOK, "")
	want(t, "revoked key", s.do("GET", "/api/v1/auth/me", nil, bearer(key)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	want(t, "revoke again", s.do("DELETE", idPath("/api/v1/api-keys/", id), nil, bearer(dev)...), http.StatusConflict, orc.ECONFLICT)
	_, short := create(dev, map[string]any{"expires_in": 1})
	want(t, "fresh key", s.do("GET", "/api/v1/auth/me", nil, bearer(short)...), http.StatusOK, "")
	time.Sleep(2100 * time.Millisecond) // past the expiry and the principal cache
	want(t, "expired key", s.do("GET", "/api/v1/auth/me", nil, bearer(short)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	want(t, "made-up key", s.do("GET", "/api/v1/auth/me", nil, bearer(key[:len(key)-4]+"AAAA")...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	want(t, "expiry in the past", s.do("POST", "/api/v1/api-keys", map[string]any{"expires_at": "2001-01-01T00:00:00Z"}, bearer(dev)...), http.StatusBadRequest, orc.EINVALID)
}

// TestDisabledUser is refused with every credential, at once.
func TestDisabledUser(t *testing.T) {
	s := newStack(t, nil, true)
	token := s.addUser("leaver@example.com", orc.RoleDeveloper)
	resp := s.do("POST", "/api/v1/api-keys", map[string]any{"name": "k"}, bearer(token)...)
	var k struct {
		Key string `json:"key"`
	}
	resp.json(t, &k)
	id := s.userID("leaver@example.com")
	want(t, "token works", s.do("GET", "/api/v1/auth/me", nil, bearer(token)...), http.StatusOK, "")
	want(t, "key works", s.do("GET", "/api/v1/auth/me", nil, bearer(k.Key)...), http.StatusOK, "")
	want(t, "admin disables", s.do("PATCH", idPath("/api/v1/users/", id), map[string]any{"disabled": true}), http.StatusOK, "")
	want(t, "disabled token", s.do("GET", "/api/v1/auth/me", nil, bearer(token)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	want(t, "disabled key", s.do("GET", "/api/v1/auth/me", nil, bearer(k.Key)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	r := s.do("POST", "/api/v1/auth/token", "username=leaver%40example.com&password=password-leaver%40example.com",
		"Authorization", "", "Content-Type", "application/x-www-form-urlencoded")
	want(t, "disabled sign-in", r, http.StatusUnauthorized, orc.EUNAUTHORIZED)
	want(t, "admin cannot disable itself", s.do("PATCH", idPath("/api/v1/users/", s.userID(adminEmail)), map[string]any{"disabled": true}),
		http.StatusConflict, orc.ECONFLICT)
	want(t, "admin enables", s.do("PATCH", idPath("/api/v1/users/", id), map[string]any{"disabled": false}), http.StatusOK, "")
	want(t, "token works again", s.do("GET", "/api/v1/auth/me", nil, bearer(token)...), http.StatusOK, "")

	// The changes are audited, with who made them.
	var page struct {
		Items []orc.AuditEvent `json:"items"`
	}
	s.do("GET", "/api/v1/audit?action=user.update", nil).json(t, &page)
	if len(page.Items) != 2 || page.Items[0].ActorID != s.userID(adminEmail) || page.Items[0].Target != itoa(id) {
		t.Errorf("user.update events: %+v", page.Items)
	}
}
