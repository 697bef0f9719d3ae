package main

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/orc-gateway/orc"
)

// refusedBy checks that a registration was refused by the policy's rule.
func refusedBy(t *testing.T, what string, resp *response, rule string) {
	t.Helper()
	if resp.status != http.StatusForbidden {
		t.Errorf("%s: %d %s, want 403", what, resp.status, resp.body)
		return
	}
	e := resp.apiError(t)
	for _, d := range e.Error.Details {
		if d.Rule == rule {
			return
		}
	}
	t.Errorf("%s: %s, want the rule %s named", what, resp.body, rule)
}

// echoAs is the echo plugin under another name, edited.
func echoAs(t *testing.T, name string, edit func(m map[string]any)) map[string]any {
	return manifest(t, "echo", func(m map[string]any) {
		m["name"] = name
		if edit != nil {
			edit(m)
		}
	})
}

// TestPolicy: a developer cannot take a shared installation's capacity or
// reach past their own things; the default policy caps what a version
// asks, pools belong to their first user (default is shared at a fixed
// size), images to the users whose plugins run them, and quotas bound
// what one keeps. Admins set the policy.
func TestPolicy(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	a := s.addUser("a@example.com", orc.RoleDeveloper)
	b := s.addUser("b@example.com", orc.RoleDeveloper)
	viewer := s.addUser("v@example.com", orc.RoleViewer)
	reg := func(token string, m map[string]any) *response {
		return s.do("POST", "/api/v1/plugins", m, bearer(token)...)
	}

	// Pools belong to their first user, images to the users whose plugins
	// run them.
	want(t, "A's pool", reg(a, echoAs(t, "a-one", func(m map[string]any) { m["pool"] = "team-a" })), http.StatusCreated, "")
	refusedBy(t, "B in A's pool", reg(b, manifest(t, "processor", func(m map[string]any) { m["pool"] = "team-a" })), "pools.owner")
	want(t, "B in the shared pool", reg(b, manifest(t, "processor", nil)), http.StatusCreated, "")
	refusedBy(t, "B runs A's image", reg(b, echoAs(t, "b-echo", nil)), "images.owner")
	s.shareImages("orc-echo:*")
	want(t, "B runs a shared image", reg(b, echoAs(t, "b-echo", nil)), http.StatusCreated, "")
	s.shareImages()

	// Caps of the developer role, and the shared pool's size.
	for i, c := range []struct {
		name string
		edit func(m map[string]any)
		rule string
	}{
		{"cpu", func(m map[string]any) { m["pool"], m["resources"] = "team-a", map[string]any{"cpu": 8} }, "roles.developer.cpu"},
		{"memory", func(m map[string]any) { m["pool"], m["resources"] = "team-a", map[string]any{"memory_mb": 1 << 20} }, "roles.developer.memory_mb"},
		{"gpu", func(m map[string]any) { m["pool"], m["resources"] = "team-a", map[string]any{"gpu": 1} }, "roles.developer.gpu"},
		{"custom", func(m map[string]any) {
			m["pool"], m["resources"] = "team-a", map[string]any{"custom": map[string]any{"accelerator": 1}}
		}, "roles.developer.custom"},
		{"timeout", func(m map[string]any) { m["timeout_s"] = 86400 }, "roles.developer.timeout_s"},
		{"workers", func(m map[string]any) { m["pool"], m["min_workers"], m["max_workers"] = "team-a", 100, 100 }, "roles.developer.min_workers"},
		{"shared pool size", func(m map[string]any) { m["resources"] = map[string]any{"memory_mb": 4096} }, "shared_pools.default"},
	} {
		refusedBy(t, "A asks "+c.name, reg(a, echoAs(t, fmt.Sprintf("a-cap-%d", i), c.edit)), c.rule)
	}
	// An admin is bound by the shared pools' sizes only.
	want(t, "admin asks 8 cpu in a pool of its own", s.do("POST", "/api/v1/plugins", manifest(t, "classifier", func(m map[string]any) {
		m["pool"], m["resources"] = "admin-big", map[string]any{"cpu": 8}
	})), http.StatusCreated, "")
	refusedBy(t, "admin asks 4 GiB in the shared pool", s.do("POST", "/api/v1/plugins", manifest(t, "classifier", func(m map[string]any) {
		m["name"], m["resources"] = "admin-shared", map[string]any{"memory_mb": 4096}
	})), "shared_pools.default")

	// Hooks are their owner's: B neither sees A's nor names it.
	upload := func(token, name string) int {
		req, _ := http.NewRequest("POST", s.gw.URL()+"/api/v1/hooks?name="+name, bytes.NewReader(hookModule(t, "validator")))
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if st := upload(a, "a-hook"); st != http.StatusCreated {
		t.Fatalf("A uploads a hook: %d", st)
	}
	var hooks []orc.Hook
	s.do("GET", "/api/v1/hooks", nil, bearer(b)...).json(t, &hooks)
	if len(hooks) != 0 {
		t.Errorf("B lists %+v", hooks)
	}
	want(t, "B reads A's hook", s.do("GET", "/api/v1/hooks/a-hook", nil, bearer(b)...), http.StatusNotFound, orc.ENOTFOUND)
	want(t, "B names A's hook", reg(b, echoAs(t, "b-hooked", func(m map[string]any) { m["hooks"] = map[string]any{"pre": []string{"a-hook"}} })),
		http.StatusBadRequest, orc.EINVALID)

	// The policy: everyone reads it, admins set it, and a bad one is 400.
	var p orc.Policy
	s.do("GET", "/api/v1/policy", nil, bearer(viewer)...).json(t, &p)
	if p.Roles[orc.RoleDeveloper].CPU != 4 || p.SharedPools[orc.DefaultPool].Resources.CPU != 1 {
		t.Fatalf("the default policy: %+v", p)
	}
	p.Images = []string{"registry.example.com/**"}
	p.Quotas[orc.RoleDeveloper] = orc.Quota{Plugins: 2, Hooks: 1, APIKeys: 1}
	want(t, "a developer sets the policy", s.do("PUT", "/api/v1/policy", p, bearer(a)...), http.StatusForbidden, orc.EFORBIDDEN)
	bad := p
	bad.Images = []string{"[unclosed"}
	want(t, "a bad pattern", s.do("PUT", "/api/v1/policy", bad), http.StatusBadRequest, orc.EINVALID)
	want(t, "the admin sets the policy", s.do("PUT", "/api/v1/policy", p), http.StatusOK, "")

	// Images must match a pattern; quotas bound plugins, hooks and keys.
	refusedBy(t, "an image outside the patterns", reg(a, echoAs(t, "a-two", nil)), "images")
	p.Images, p.SharedImages = []string{"**"}, []string{"orc-echo:*"}
	want(t, "the admin allows any image again", s.do("PUT", "/api/v1/policy", p), http.StatusOK, "")
	want(t, "A's second plugin", reg(a, echoAs(t, "a-two", nil)), http.StatusCreated, "")
	refusedBy(t, "A's third plugin", reg(a, echoAs(t, "a-three", nil)), "quotas.developer.plugins")
	if st := upload(a, "a-hook-2"); st != http.StatusForbidden {
		t.Errorf("A's second hook: %d, want 403", st)
	}
	want(t, "A's first key", s.do("POST", "/api/v1/api-keys", map[string]any{"name": "k1"}, bearer(a)...), http.StatusCreated, "")
	refusedBy(t, "A's second key", s.do("POST", "/api/v1/api-keys", map[string]any{"name": "k2"}, bearer(a)...), "quotas.developer.api_keys")
}

// shareImages lets every user run the images matching patterns, as an
// admin publishing base images would: tests in which several developers
// register the example plugins.
func (s *stack) shareImages(patterns ...string) {
	s.t.Helper()
	var p orc.Policy
	s.do("GET", "/api/v1/policy", nil).json(s.t, &p)
	p.SharedImages = patterns
	if resp := s.do("PUT", "/api/v1/policy", p); resp.status != http.StatusOK {
		s.t.Fatalf("share images: %d %s", resp.status, resp.body)
	}
}
