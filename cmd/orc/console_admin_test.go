package main

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	chrome "github.com/orc-gateway/orc/internal/testenv/browser"
)

// secretRE finds a new API key on the keys page.
var secretRE = regexp.MustCompile(`<pre class="mono" id="secret">([^<]+)</pre>`)

// TestConsoleKeys: anyone creates keys of their own, no wider than their
// role, sees the key once, and revokes it; another user can touch none of
// them.
func TestConsoleKeys(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.addUser("key-a@example.com", orc.RoleDeveloper)
	s.addUser("key-b@example.com", orc.RoleDeveloper)
	a, b := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	a.signIn("key-a@example.com", "password-key-a@example.com")
	b.signIn("key-b@example.com", "password-key-b@example.com")

	page := a.do("GET", "/console/keys", nil)
	if page.status != http.StatusOK || strings.Contains(page.body, `<option value="admin">`) || !strings.Contains(page.body, `<option value="viewer">`) {
		t.Errorf("a developer's keys page offers: %d %.2000s", page.status, page.body)
	}
	tok := a.csrf("/console/keys")
	if r := a.do("POST", "/console/keys", url.Values{"csrf": {"forged"}, "name": {"ci"}}); r.status != http.StatusForbidden {
		t.Errorf("create without the form token: %d", r.status)
	}
	if r := a.do("POST", "/console/keys", url.Values{"csrf": {tok}, "name": {"wide"}, "role": {"admin"}}); r.status != http.StatusForbidden ||
		!strings.Contains(r.body, `class="problem"`) || secretRE.MatchString(r.body) {
		t.Errorf("a key wider than the developer: %d %.500s", r.status, r.body)
	}
	if r := a.do("POST", "/console/keys", url.Values{"csrf": {tok}, "name": {"ci"}, "expires_in": {"-5"}}); r.status != http.StatusBadRequest {
		t.Errorf("a bad lifetime: %d", r.status)
	}

	r := a.do("POST", "/console/keys", url.Values{"csrf": {tok}, "name": {"nightly"}, "role": {"viewer"}, "expires_in": {"86400"}})
	m := secretRE.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q %.1000s", r.status, r.header.Get("Cache-Control"), r.body)
	}
	key := m[1]
	me := s.do("GET", "/api/v1/auth/me", nil, "Authorization", "Bearer "+key)
	var who struct {
		Email string   `json:"email"`
		Role  orc.Role `json:"role"`
	}
	me.json(t, &who)
	if who.Email != "key-a@example.com" || who.Role != orc.RoleViewer {
		t.Errorf("the key signs in as %+v", who)
	}
	if r := a.do("GET", "/console/keys", nil); strings.Contains(r.body, key) || !strings.Contains(r.body, "<td>nightly</td>") {
		t.Error("the key is shown again, or its row is missing")
	}
	keyID := regexp.MustCompile(`data-key="(\d+)"`).FindStringSubmatch(a.do("GET", "/console/keys", nil).body)
	if keyID == nil {
		t.Fatal("no key row")
	}
	if r := b.do("GET", "/console/keys", nil); strings.Contains(r.body, "<td>nightly</td>") || strings.Contains(r.body, "all=true") {
		t.Error("another developer sees the key, or everyone's")
	}
	if r := b.do("POST", "/console/keys/"+keyID[1]+"/revoke", url.Values{"csrf": {b.csrf("/console/keys")}}); r.status != http.StatusNotFound {
		t.Errorf("another developer revokes it: %d", r.status)
	}
	if r := a.do("POST", "/console/keys/"+keyID[1]+"/revoke", url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %.300s", r.status, r.body)
	}
	if me := s.do("GET", "/api/v1/auth/me", nil, "Authorization", "Bearer "+key); me.status != http.StatusUnauthorized {
		t.Errorf("a revoked key: %d", me.status)
	}
	if r := a.do("GET", "/console/keys", nil); !strings.Contains(r.body, "revoked") {
		t.Error("the key is not shown revoked")
	}

	admin := newConsoleUser(t, s.gw.URL())
	admin.signIn(adminEmail, adminPassword)
	if r := admin.do("GET", "/console/keys?all=true", nil); !strings.Contains(r.body, "<td>nightly</td>") {
		t.Error("an admin does not see everyone's keys")
	}
}

// TestConsoleUsers: an admin creates accounts, changes a role, disables
// and enables one, and reads the audit log; nobody else reaches those
// pages, and an admin cannot lock themselves out.
func TestConsoleUsers(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.addUser("ops-dev@example.com", orc.RoleDeveloper)
	admin, dev := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	admin.signIn(adminEmail, adminPassword)
	dev.signIn("ops-dev@example.com", "password-ops-dev@example.com")

	for _, path := range []string{"/console/admin/users", "/console/admin/audit"} {
		if r := dev.do("GET", path, nil); r.status != http.StatusForbidden || strings.Contains(r.body, "admin@example.com") {
			t.Errorf("a developer reads %s: %d", path, r.status)
		}
	}
	if r := dev.do("GET", "/console/plugins", nil); strings.Contains(r.body, `href="/console/admin/users"`) {
		t.Error("a developer is shown the admin pages")
	}
	if r := dev.do("POST", "/console/admin/users", url.Values{"csrf": {dev.csrf("/console/plugins")}, "email": {"sneaky@example.com"},
		"role": {"admin"}, "password": {"sneaky-password-1"}}); r.status != http.StatusForbidden {
		t.Errorf("a developer creates a user: %d", r.status)
	}

	tok := admin.csrf("/console/admin/users")
	if r := admin.do("POST", "/console/admin/users", url.Values{"csrf": {"forged"}, "email": {"new@example.com"}, "role": {"invoker"}}); r.status != http.StatusForbidden {
		t.Errorf("create without the form token: %d", r.status)
	}
	r := admin.do("POST", "/console/admin/users", url.Values{"csrf": {tok}, "email": {"not an address"}, "name": {"Kept Name"}, "role": {"invoker"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `class="problem"`) || !strings.Contains(r.body, `value="Kept Name"`) {
		t.Errorf("a bad address: %d %.500s", r.status, r.body)
	}
	r = admin.do("POST", "/console/admin/users", url.Values{"csrf": {tok}, "email": {"carol@example.com"}, "name": {"Carol"}, "role": {"invoker"},
		"password": {"carol-password-1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %.500s", r.status, r.body)
	}
	carol := newConsoleUser(t, s.gw.URL())
	carol.signIn("carol@example.com", "carol-password-1")
	if who := carol.do("GET", "/console/plugins", nil).body; !strings.Contains(who, `<span class="role">invoker</span>`) {
		t.Error("carol is not an invoker")
	}

	list := admin.do("GET", "/console/admin/users", nil).body
	id := regexp.MustCompile(`<tr data-user="(\d+)">\s*<td>carol@example.com`).FindStringSubmatch(list)
	self := regexp.MustCompile(`<tr data-user="(\d+)">\s*<td>` + regexp.QuoteMeta(adminEmail)).FindStringSubmatch(list)
	if id == nil || self == nil {
		t.Fatalf("carol or the admin is not listed: %.3000s", list)
	}
	var carolNow orc.User
	s.do("GET", "/api/v1/users/"+id[1], nil).json(t, &carolNow)
	if carolNow.LastLoginAt == nil {
		t.Error("carol's sign-in is not recorded")
	}
	if strings.Contains(list, `action="/console/admin/users/`+self[1]+`"`) {
		t.Error("the admin is offered to change their own account")
	}
	if r := admin.do("POST", "/console/admin/users/"+self[1], url.Values{"csrf": {tok}, "disabled": {"true"}}); r.status != http.StatusConflict {
		t.Errorf("the admin disables themselves: %d", r.status)
	}
	if r := admin.do("POST", "/console/admin/users/"+id[1], url.Values{"csrf": {tok}, "role": {"viewer"}}); r.status != http.StatusSeeOther {
		t.Fatalf("set role: %d %.300s", r.status, r.body)
	}
	if who := carol.do("GET", "/console/plugins", nil).body; !strings.Contains(who, `<span class="role">viewer</span>`) {
		t.Error("carol's new role does not hold")
	}
	if r := admin.do("POST", "/console/admin/users/"+id[1], url.Values{"csrf": {tok}, "disabled": {"true"}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %.300s", r.status, r.body)
	}
	if r := carol.do("GET", "/console/plugins", nil); r.status == http.StatusOK {
		t.Error("a disabled account still sees pages")
	}
	if r := admin.do("POST", "/console/admin/users/"+id[1], url.Values{"csrf": {tok}, "disabled": {"false"}}); r.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.status)
	}
	carol.signIn("carol@example.com", "carol-password-1")

	audit := admin.do("GET", "/console/admin/audit?action=user.update", nil)
	if audit.status != http.StatusOK || !strings.Contains(audit.body, `<td class="mono">user.update</td>`) || strings.Contains(audit.body, `<td class="mono">auth.sign_in</td>`) ||
		!strings.Contains(audit.body, "&#34;role&#34;:&#34;viewer&#34;") {
		t.Errorf("the audit log: %d %.3000s", audit.status, audit.body)
	}
	if r := admin.do("GET", "/console/admin/audit?actor_id=abc", nil); r.status != http.StatusBadRequest {
		t.Errorf("a bad actor id: %d", r.status)
	}
}

// TestConsolePolicy: everyone reads the policy; an admin edits it, and a
// refused one stays in the editor with the reason.
func TestConsolePolicy(t *testing.T) {
	s := newStack(t, nil, true)
	s.addUser("pol-dev@example.com", orc.RoleDeveloper)
	admin, dev := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	admin.signIn(adminEmail, adminPassword)
	dev.signIn("pol-dev@example.com", "password-pol-dev@example.com")

	if r := dev.do("GET", "/console/policy", nil); r.status != http.StatusOK || strings.Contains(r.body, `id="policy-form"`) ||
		!strings.Contains(r.body, "shared_pools") {
		t.Errorf("a developer's policy page: %d %.500s", r.status, r.body)
	}
	var policy map[string]any
	s.do("GET", "/api/v1/policy", nil).json(t, &policy)
	policy["images"] = []string{"orc/**", "registry.example/ml/**"}
	edited, err := json.Marshal(policy)
	if err != nil {
		t.Fatal(err)
	}
	if r := dev.do("POST", "/console/policy", url.Values{"csrf": {dev.csrf("/console/policy")}, "policy": {string(edited)}}); r.status != http.StatusForbidden {
		t.Errorf("a developer sets the policy: %d", r.status)
	}
	tok := admin.csrf("/console/policy")
	if r := admin.do("POST", "/console/policy", url.Values{"csrf": {tok}, "policy": {`{"images": [`}}); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, `{&#34;images&#34;: [`) {
		t.Errorf("broken JSON: %d %.500s", r.status, r.body)
	}
	if r := admin.do("POST", "/console/policy", url.Values{"csrf": {tok}, "policy": {`{"images": ["["]}`}}); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, `class="problem"`) {
		t.Errorf("a refused policy: %d %.500s", r.status, r.body)
	}
	if r := admin.do("POST", "/console/policy", url.Values{"csrf": {tok}, "policy": {string(edited)}}); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %.500s", r.status, r.body)
	}
	var now orc.Policy
	s.do("GET", "/api/v1/policy", nil).json(t, &now)
	if len(now.Images) != 2 || now.Images[1] != "registry.example/ml/**" {
		t.Errorf("the policy after saving: %v", now.Images)
	}
}

// TestConsoleInBrowser: what the handler tests check, in a real browser:
// a value the schema refuses comes back on its field; an API key is shown
// once; the admin pages.
func TestConsoleInBrowser(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", nil))
	b := chrome.New(t)
	base := s.gw.URL()
	for _, body := range []string{`{"sleep_ms":100}`, `{"sleep_ms":400}`, `{"fail":"bad input"}`, `{}`} {
		s.do("POST", "/invoke/echo", body)
	}
	s.gw.Server.SamplePools(context.Background())
	consoleSignIn(t, b, base, adminEmail, adminPassword)

	// The overview: the last hour's totals and charts, the pools' too.
	b.WaitVisible(t, ".charts")
	var charts int
	b.Eval(t, `document.querySelectorAll("figure.chart").length`, &charts)
	if charts != 6 {
		t.Errorf("the admin's overview has %d charts, want 6", charts)
	}
	if totals := b.Text(t, ".totals"); !strings.Contains(totals, "4") || !strings.Contains(totals, "25.0%") {
		t.Errorf("the totals read %q, want 4 invocations and 25.0%% failed", totals)
	}
	var bars int
	b.Eval(t, `document.querySelectorAll("figure.chart rect.s-calls").length`, &bars)
	if bars == 0 {
		t.Error("the invocations chart has no bar")
	}
	consoleShot(t, b, "overview")

	// The form does not check bounds itself (novalidate): the API does,
	// and its violation lands on the field it names.
	b.Navigate(t, base+"/console/plugins/echo")
	b.WaitVisible(t, "#try")
	b.SetValue(t, `[name="/exit_code"]`, "999")
	b.Click(t, `#try button[value="0"]`)
	b.WaitVisible(t, ".sf-error")
	var onField bool
	b.Eval(t, `(() => { const e = document.querySelector(".sf-error");
		return !!e && e.closest(".sf-field").querySelector('[name="/exit_code"]') !== null && e.textContent.includes("255") })()`, &onField)
	if !onField {
		t.Errorf("the violation is not on the exit_code field: %q", b.Text(t, ".sf-error"))
	}
	consoleShot(t, b, "invalid-field")

	// The next version of echo, from its latest: refused where it is
	// wrong, then registered.
	b.Navigate(t, base+"/console/plugins/echo")
	b.Click(t, "#new-version")
	b.WaitVisible(t, "#manifest")
	var edited bool
	b.Eval(t, `(() => { const m = document.querySelector("#manifest"); const v = JSON.parse(m.value);
		v.version = "1.1.0"; v.timeout_s = -5; m.value = JSON.stringify(v, null, 2); return true })()`, &edited)
	b.Click(t, "#register-form button[type=submit]")
	b.WaitVisible(t, "#problems")
	if p := b.Text(t, "#problems"); !strings.Contains(p, "/timeout_s") {
		t.Errorf("the problems read %q, want one at /timeout_s", p)
	}
	consoleShot(t, b, "register")
	b.Eval(t, `(() => { const m = document.querySelector("#manifest"); const v = JSON.parse(m.value);
		v.timeout_s = 30; m.value = JSON.stringify(v, null, 2); return true })()`, &edited)
	b.Click(t, "#register-form button[type=submit]")
	b.WaitVisible(t, ".notice")
	if n := b.Text(t, ".notice"); n != "Registered version 1.1.0." {
		t.Errorf("after registering: %q", n)
	}

	// An input replayed on another version, side by side.
	s.register(manifest(t, "processor", func(m map[string]any) { m["name"], m["version"] = "echo", "2.0.0" }))
	r := s.do("POST", "/invoke/echo?version=1.0.0", `{"data":[4,5,6],"operation":"sum"}`)
	b.Navigate(t, base+"/console/invocations/"+r.header.Get("X-Orc-Invocation-Id"))
	b.WaitVisible(t, "#replay")
	selectOption(t, b, "#replay-version", "echo 2.0.0")
	b.Click(t, "#replay button[type=submit]")
	b.WaitVisible(t, "#changes")
	if text := b.Text(t, "#changes"); !strings.Contains(text, "/result") || !strings.Contains(text, "15") {
		t.Errorf("the differences read %q", text)
	}
	consoleShot(t, b, "compare")

	// An API key, shown once.
	b.Navigate(t, base+"/console/keys")
	b.WaitVisible(t, "#create-key")
	b.SetValue(t, "#k-name", "nightly batch")
	selectOption(t, b, "#k-role", "invoker")
	selectOption(t, b, "#k-exp", "in 90 days")
	b.Click(t, "#create-key button[type=submit]")
	b.WaitVisible(t, "#secret")
	key := strings.TrimSpace(b.Text(t, "#secret"))
	if resp := s.do("GET", "/api/v1/auth/me", nil, "Authorization", "Bearer "+key); resp.status != http.StatusOK {
		t.Errorf("the key shown does not sign in: %d", resp.status)
	}
	consoleShot(t, b, "api-key")
	b.Navigate(t, base+"/console/keys")
	b.WaitVisible(t, "#create-key")
	var shown int
	b.Eval(t, `document.querySelectorAll("#secret").length + (document.body.textContent.includes(`+strconv.Quote(key)+`) ? 1 : 0)`, &shown)
	if shown != 0 {
		t.Error("the key is shown again")
	}

	// The admin pages.
	b.Navigate(t, base+"/console/admin/users")
	b.WaitVisible(t, "#create-user")
	b.SetValue(t, "#u-email", "erin@example.com")
	b.SetValue(t, "#u-name", "Erin")
	selectOption(t, b, "#u-role", "developer")
	b.Click(t, "#create-user button[type=submit]")
	b.WaitVisible(t, ".notice")
	if !strings.Contains(b.Text(t, "table.list"), "erin@example.com") {
		t.Error("the new user is not listed")
	}
	consoleShot(t, b, "users")
	b.Navigate(t, base+"/console/admin/audit")
	b.WaitVisible(t, "table.list")
	if text := b.Text(t, "table.list"); !strings.Contains(text, "user.create") || !strings.Contains(text, "api_key.create") {
		t.Errorf("the audit log does not show the changes: %.500s", text)
	}
	consoleShot(t, b, "audit")
	b.Navigate(t, base+"/console/policy")
	b.WaitVisible(t, "#policy-form")
	consoleShot(t, b, "policy")
	for _, e := range b.ConsoleErrors() {
		// The refused registration answered 400, as it should.
		if !strings.Contains(e, "status of 400") || !strings.Contains(e, "/console/register") {
			t.Errorf("a page logged an error: %q", e)
		}
	}
}

// TestConsoleOverview: the overview's totals and charts are the user's
// (everyone's for admins), the pools' charts only for those who may see
// the cluster, and dead letters ask for attention.
func TestConsoleOverview(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(echoManifest(t, "echo-ov", true))
	s.addUser("ov-inv@example.com", orc.RoleInvoker)
	s.addUser("ov-view@example.com", orc.RoleViewer)
	v, err := s.db.FindVersion(context.Background(), "echo-ov", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	s.deadLetterOf(s.userID(adminEmail), v)
	inv, view, admin := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	inv.signIn("ov-inv@example.com", "password-ov-inv@example.com")
	view.signIn("ov-view@example.com", "password-ov-view@example.com")
	admin.signIn(adminEmail, adminPassword)

	charts := regexp.MustCompile(`<figure class="chart">`)
	a := admin.do("GET", "/console/", nil)
	if n := len(charts.FindAllString(a.body, -1)); a.status != http.StatusOK || n != 6 {
		t.Errorf("the admin's overview: %d with %d charts", a.status, n)
	}
	if !strings.Contains(a.body, `href="/console/dead-letters"`) || !strings.Contains(a.body, "1 dead letter waits") {
		t.Errorf("the dead letter asks for no attention: %.2000s", a.body)
	}
	if !strings.Contains(a.body, "<dd>1</dd>") {
		t.Error("the admin's totals miss the dead letter's invocation")
	}
	i := inv.do("GET", "/console/", nil)
	if n := len(charts.FindAllString(i.body, -1)); i.status != http.StatusOK || n != 3 || strings.Contains(i.body, "Queue depth") {
		t.Errorf("an invoker's overview: %d with %d charts", i.status, n)
	}
	if strings.Contains(i.body, "dead letter") || strings.Contains(i.body, "<dd>1</dd>") {
		t.Error("an invoker sees the admin's invocations or dead letters")
	}
	if n := len(charts.FindAllString(view.do("GET", "/console/", nil).body, -1)); n != 6 {
		t.Errorf("a viewer's overview has %d charts, want 6", n)
	}
}

// TestConsoleRegister: a developer registers a plugin by uploading its
// plugin.json and a next version by editing the latest; what the API
// refuses shows where, and keeps the text; viewers and other developers
// cannot.
func TestConsoleRegister(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.addUser("reg-a@example.com", orc.RoleDeveloper)
	s.addUser("reg-b@example.com", orc.RoleDeveloper)
	s.addUser("reg-v@example.com", orc.RoleViewer)
	a, b, v := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	a.signIn("reg-a@example.com", "password-reg-a@example.com")
	b.signIn("reg-b@example.com", "password-reg-b@example.com")
	v.signIn("reg-v@example.com", "password-reg-v@example.com")
	m := echoManifest(t, "reg-echo", false)
	manifest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}

	tok := a.csrf("/console/register")
	if r := a.upload("/console/register", url.Values{"csrf": {"forged"}}, "file", manifest); r.status != http.StatusForbidden {
		t.Errorf("without the form token: %d", r.status)
	}
	r := a.upload("/console/register", url.Values{"csrf": {tok}}, "file", manifest)
	if r.status != http.StatusSeeOther || r.location != "/console/plugins/reg-echo?done=register&version=1.0.0" {
		t.Fatalf("upload: %d to %q %.500s", r.status, r.location, r.body)
	}
	page := a.do("GET", r.location, nil)
	if !strings.Contains(page.body, "Registered version 1.0.0.") || !strings.Contains(page.body, `id="new-version"`) {
		t.Errorf("the plugin's page after registering: %.1000s", page.body)
	}

	// The next version, from the latest one's plugin.json.
	next := a.do("GET", "/console/register?plugin=reg-echo", nil)
	text := regexp.MustCompile(`(?s)<textarea id="manifest"[^>]*>(.*?)</textarea>`).FindStringSubmatch(next.body)
	if text == nil || !strings.Contains(text[1], "docker_image") || strings.Contains(text[1], "created_at") || strings.Contains(text[1], `&#34;id&#34;`) {
		t.Fatalf("the editor from the latest version: %.2000s", next.body)
	}
	var latest map[string]any
	if err := json.Unmarshal([]byte(html.UnescapeString(text[1])), &latest); err != nil {
		t.Fatalf("the editor's text is not JSON: %v", err)
	}
	latest["version"] = "1.1.0"
	latest["resources"] = map[string]any{"cpu": -1}
	bad, _ := json.Marshal(latest)
	r = a.do("POST", "/console/register", url.Values{"csrf": {tok}, "manifest": {string(bad)}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="problems"`) || !strings.Contains(r.body, "<code>/resources/cpu</code>") ||
		!strings.Contains(r.body, "1.1.0") {
		t.Errorf("a refused version: %d %.3000s", r.status, r.body)
	}
	latest["resources"] = map[string]any{"cpu": 1, "memory_mb": 256}
	good, _ := json.Marshal(latest)
	if r := a.do("POST", "/console/register", url.Values{"csrf": {tok}, "manifest": {string(good)}}); r.status != http.StatusSeeOther ||
		!strings.Contains(r.location, "version=1.1.0") {
		t.Errorf("the next version: %d %q %.500s", r.status, r.location, r.body)
	}
	if r := a.do("POST", "/console/register", url.Values{"csrf": {tok}, "manifest": {`{"name": "x",`}}); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, "not valid JSON") || !strings.Contains(r.body, `{&#34;name&#34;: &#34;x&#34;,`) {
		t.Errorf("broken JSON: %d %.500s", r.status, r.body)
	}

	// Another developer cannot add a version to it; a viewer registers
	// nothing and is offered nothing.
	latest["version"] = "9.0.0"
	theirs, _ := json.Marshal(latest)
	if r := b.do("POST", "/console/register", url.Values{"csrf": {b.csrf("/console/register")}, "manifest": {string(theirs)}}); r.status == http.StatusSeeOther {
		t.Errorf("another developer adds a version: %d to %q", r.status, r.location)
	}
	if r := b.do("GET", "/console/plugins/reg-echo", nil); strings.Contains(r.body, `id="new-version"`) {
		t.Error("another developer is offered to register a version")
	}
	if r := v.do("GET", "/console/plugins", nil); strings.Contains(r.body, `id="register"`) {
		t.Error("a viewer is offered to register")
	}
	if r := v.do("POST", "/console/register", url.Values{"csrf": {v.csrf("/console/plugins")}, "manifest": {string(theirs)}}); r.status != http.StatusForbidden {
		t.Errorf("a viewer registers: %d", r.status)
	}
	var versions []orc.Version
	s.do("GET", "/api/v1/plugins/reg-echo/versions", nil).json(t, &versions)
	if len(versions) != 2 {
		t.Errorf("reg-echo has %d versions, want 2", len(versions))
	}
}

// TestConsoleHookDetail: a hook's page says which versions name it, among
// the plugins the user may see, and only counts the others.
func TestConsoleHookDetail(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	module := hookModule(t, "validator")
	tokA := s.addUser("hd-a@example.com", orc.RoleDeveloper)
	s.addUser("hd-b@example.com", orc.RoleDeveloper)
	if r := s.do("POST", "/api/v1/hooks?name=a-check", module, "Content-Type", "application/wasm", "Authorization", "Bearer "+tokA); r.status != http.StatusCreated {
		t.Fatalf("a's hook: %d %s", r.status, r.body)
	}
	// A's plugin names it after, and a private plugin of the admin's
	// before.
	m := echoManifest(t, "hd-own", false)
	m["hooks"] = map[string]any{"post": []string{"a-check"}}
	if r := s.do("POST", "/api/v1/plugins", m, "Authorization", "Bearer "+tokA); r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	m = echoManifest(t, "hd-admins", false)
	m["hooks"] = map[string]any{"pre": []string{"a-check"}}
	if r := s.do("POST", "/api/v1/plugins", m); r.status != http.StatusCreated {
		t.Fatalf("register the admin's: %d %s", r.status, r.body)
	}
	a, b, admin := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	a.signIn("hd-a@example.com", "password-hd-a@example.com")
	b.signIn("hd-b@example.com", "password-hd-b@example.com")
	admin.signIn(adminEmail, adminPassword)

	own := a.do("GET", "/console/hooks/a-check", nil)
	if own.status != http.StatusOK || !strings.Contains(own.body, `href="/console/plugins/hd-own?version=1.0.0"`) ||
		!strings.Contains(own.body, "post <span") || strings.Contains(own.body, "hd-admins") ||
		!strings.Contains(own.body, "And 1 version(s) of plugins you may not see") || strings.Contains(own.body, "Delete this hook") {
		t.Errorf("a's hook page: %d %.3000s", own.status, own.body)
	}
	if r := b.do("GET", "/console/hooks/a-check", nil); r.status != http.StatusNotFound || strings.Contains(r.body, "hd-own") {
		t.Errorf("another developer's private hook: %d", r.status)
	}
	if r := admin.do("GET", "/console/hooks/a-check", nil); !strings.Contains(r.body, "hd-own") || !strings.Contains(r.body, "hd-admins") ||
		strings.Contains(r.body, "you may not see") {
		t.Errorf("the hook for the admin: %.3000s", r.body)
	}
}

// TestConsoleReplay: an invocation's input replayed on another version
// runs as a new invocation, and the compare page shows both outputs with
// their differences and both timings; nobody replays or compares what they
// may not see.
func TestConsoleReplay(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"] = "cmp" }))
	s.register(manifest(t, "processor", func(m map[string]any) { m["name"], m["version"] = "cmp", "2.0.0" }))
	s.addUser("rp-dev@example.com", orc.RoleDeveloper)
	r := s.do("POST", "/invoke/cmp?version=1.0.0", `{"data":[1,2,3],"operation":"sum"}`)
	if r.status != http.StatusOK {
		t.Fatalf("invoke 1.0.0: %d %s", r.status, r.body)
	}
	first := r.header.Get("X-Orc-Invocation-Id")
	admin, dev := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	admin.signIn(adminEmail, adminPassword)
	dev.signIn("rp-dev@example.com", "password-rp-dev@example.com")

	page := admin.do("GET", "/console/invocations/"+first, nil)
	if !strings.Contains(page.body, `id="replay"`) || !strings.Contains(page.body, `<option value="2.0.0">`) {
		t.Fatalf("no replay form: %.3000s", page.body)
	}
	// Its history: accepted, the attempt's start and end.
	hist := regexp.MustCompile(`(?s)<ol class="history" id="history">(.*?)</ol>`).FindStringSubmatch(page.body)
	if hist == nil || !regexp.MustCompile(`(?s)queued</span> accepted.*running</span> attempt 1 started by .*succeeded</span> attempt 1 ended`).MatchString(hist[1]) {
		t.Errorf("the history: %q", hist)
	}
	tok := admin.csrf("/console/invocations/" + first)
	if a := admin.do("POST", "/console/invocations/"+first+"/replay", url.Values{"csrf": {tok}, "version": {"1.0.0"}}); a.status != http.StatusBadRequest {
		t.Errorf("replay on its own version: %d", a.status)
	}
	if a := admin.do("POST", "/console/invocations/"+first+"/replay", url.Values{"csrf": {tok}, "version": {"9.9.9"}}); a.status != http.StatusNotFound {
		t.Errorf("replay on no such version: %d", a.status)
	}
	before := s.countInvocations(t)
	if a := dev.do("POST", "/console/invocations/"+first+"/replay", url.Values{"csrf": {dev.csrf("/console/plugins")}, "version": {"2.0.0"}}); a.status != http.StatusNotFound {
		t.Errorf("another user replays the admin's invocation: %d", a.status)
	}
	if n := s.countInvocations(t); n != before {
		t.Errorf("refused replays made %d invocations", n-before)
	}

	a := admin.do("POST", "/console/invocations/"+first+"/replay", url.Values{"csrf": {tok}, "version": {"2.0.0"}})
	m := regexp.MustCompile(`^/console/compare\?a=` + first + `&b=([0-9a-f-]{36})$`).FindStringSubmatch(a.location)
	if a.status != http.StatusSeeOther || m == nil {
		t.Fatalf("replay: %d to %q %.500s", a.status, a.location, a.body)
	}
	second := s.waitFor(m[1], 60*time.Second, terminal)
	if second.Version != "2.0.0" || second.Status != orc.StatusSucceeded || string(second.Input) == "" {
		t.Fatalf("the replay: %+v", second)
	}
	cmp := admin.do("GET", a.location, nil)
	for _, want := range []string{`<td class="mono">/result</td><td>added</td>`, `<td class="mono">/data</td><td>removed</td>`, `id="output-a"`, `class="ins"`, `id="run-b"`} {
		if !strings.Contains(cmp.body, want) {
			t.Errorf("the compare page lacks %s: %.4000s", want, cmp.body)
		}
	}
	if strings.Contains(cmp.body, "data-live-invocation") {
		t.Error("the compare page follows invocations that ended")
	}
	if a := dev.do("GET", a.location, nil); a.status != http.StatusNotFound || strings.Contains(a.body, "/result") {
		t.Errorf("another user compares the admin's invocations: %d", a.status)
	}
	if a := admin.do("GET", "/console/compare?a="+first, nil); a.status != http.StatusBadRequest {
		t.Errorf("compare with one invocation: %d", a.status)
	}
}
