package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// consoleUser is a browser without JavaScript: an HTTP client with
// cookies that does not follow redirects.
type consoleUser struct {
	t    testing.TB
	base string
	c    *http.Client
}

type consoleAnswer struct {
	status   int
	header   http.Header
	body     string
	location string
}

func newConsoleUser(t testing.TB, base string) *consoleUser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleUser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (u *consoleUser) do(method, path string, form url.Values) *consoleAnswer {
	u.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.base+path, body)
	if err != nil {
		u.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return u.send(req)
}

// send sends a request with the user's cookies and reads the answer.
func (u *consoleUser) send(req *http.Request) *consoleAnswer {
	u.t.Helper()
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &consoleAnswer{status: resp.StatusCode, header: resp.Header, body: string(b), location: resp.Header.Get("Location")}
}

var (
	loginTokenRE = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
	csrfRE       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// signIn signs in with the form and fails the test unless it lands on the
// page it asked for.
func (u *consoleUser) signIn(email, password string) {
	u.t.Helper()
	if a := u.signInAs(email, password, "/console/plugins"); a.status != http.StatusSeeOther || a.location != "/console/plugins" {
		u.t.Fatalf("sign in as %s: %d to %q: %.300s", email, a.status, a.location, a.body)
	}
}

func (u *consoleUser) signInAs(email, password, returnTo string) *consoleAnswer {
	u.t.Helper()
	page := u.do("GET", "/console/login", nil)
	m := loginTokenRE.FindStringSubmatch(page.body)
	if m == nil {
		u.t.Fatalf("no login token on the sign-in page: %.300s", page.body)
	}
	return u.do("POST", "/console/login", url.Values{"login_token": {m[1]}, "email": {email}, "password": {password}, "return_to": {returnTo}})
}

// csrf reads the form token from a page.
func (u *consoleUser) csrf(path string) string {
	u.t.Helper()
	a := u.do("GET", path, nil)
	m := csrfRE.FindStringSubmatch(a.body)
	if m == nil {
		u.t.Fatalf("no form token on %s (%d): %.300s", path, a.status, a.body)
	}
	return m[1]
}

// TestConsoleRefusals: the console's sign-in, form tokens, roles and
// tenancy. Nothing here is the console's own rule: it is the API's,
// reached through the console.
func TestConsoleRefusals(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.register(echoManifest(t, "echo-c", true))
	s.addUser("dev-a@example.com", orc.RoleDeveloper)
	s.addUser("dev-b@example.com", orc.RoleDeveloper)
	s.addUser("viewer@example.com", orc.RoleViewer)
	base := s.gw.URL()

	t.Run("signed out", func(t *testing.T) {
		u := newConsoleUser(t, base)
		a := u.do("GET", "/console/invocations?status=queued", nil)
		if a.status != http.StatusSeeOther || a.location != "/console/login?return_to="+url.QueryEscape("/console/invocations?status=queued") {
			t.Fatalf("signed out: %d to %q", a.status, a.location)
		}
		for _, from := range []string{"/", "/dashboard", "/console"} {
			if a := u.do("GET", from, nil); a.status != http.StatusFound || a.location != "/console/" {
				t.Errorf("GET %s: %d to %q, want a redirect to /console/", from, a.status, a.location)
			}
		}
		if a := u.do("GET", "/console/plugins", nil); !strings.Contains(a.header.Get("Content-Security-Policy"), "script-src 'self'") ||
			a.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("headers: %v", a.header)
		}
	})

	t.Run("sign in", func(t *testing.T) {
		u := newConsoleUser(t, base)
		if a := u.signInAs("dev-a@example.com", "wrong", "/console/"); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Incorrect e-mail address or password") {
			t.Errorf("wrong password: %d %.300s", a.status, a.body)
		}
		// A form posted without the sign-in page's cookie (from another
		// site) is refused.
		other := newConsoleUser(t, base)
		a := other.do("POST", "/console/login", url.Values{"login_token": {"forged"}, "email": {"dev-a@example.com"}, "password": {"password-dev-a@example.com"}})
		if a.status != http.StatusForbidden || len(other.c.Jar.Cookies(mustURL(t, base+"/"))) != 0 {
			t.Errorf("login without its cookie: %d, cookies %v", a.status, other.c.Jar.Cookies(mustURL(t, base+"/")))
		}
		// The return address stays on the console.
		for _, evil := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "/api/v1/users"} {
			u := newConsoleUser(t, base)
			if a := u.signInAs("dev-a@example.com", "password-dev-a@example.com", evil); a.status != http.StatusSeeOther || a.location != "/console/" {
				t.Errorf("return_to %q: %d to %q", evil, a.status, a.location)
			}
		}
	})

	devA, devB, viewer := newConsoleUser(t, base), newConsoleUser(t, base), newConsoleUser(t, base)
	devA.signIn("dev-a@example.com", "password-dev-a@example.com")
	devB.signIn("dev-b@example.com", "password-dev-b@example.com")
	viewer.signIn("viewer@example.com", "password-viewer@example.com")

	t.Run("form tokens", func(t *testing.T) {
		tokA, tokB := devA.csrf("/console/plugins/echo-c"), devB.csrf("/console/plugins/echo-c")
		if tokA == tokB {
			t.Fatal("two sessions have the same form token")
		}
		for name, tok := range map[string]string{"none": "", "another session's": tokB} {
			a := devA.do("POST", "/console/plugins/echo-c", url.Values{"csrf": {tok}, "mode": {"json"}, "json": {`{"x":1}`}, "version": {"1.0.0"}})
			if a.status != http.StatusForbidden {
				t.Errorf("try with %s token: %d", name, a.status)
			}
			if a := devA.do("POST", "/console/logout", url.Values{"csrf": {tok}}); a.status != http.StatusForbidden {
				t.Errorf("sign out with %s token: %d", name, a.status)
			}
		}
		if n := s.countInvocations(t); n != 0 {
			t.Errorf("%d invocations after refused tries", n)
		}
	})

	var aliceID string
	t.Run("try and tenancy", func(t *testing.T) {
		a := devA.do("POST", "/console/plugins/echo-c", url.Values{"csrf": {devA.csrf("/console/plugins/echo-c")}, "mode": {"json"},
			"json": {`{"who":"a"}`}, "version": {"1.0.0"}, "async": {"1"}})
		m := regexp.MustCompile(`/console/invocations/([0-9a-f-]{36})`).FindStringSubmatch(a.body)
		if a.status != http.StatusOK || m == nil {
			t.Fatalf("async try: %d %.500s", a.status, a.body)
		}
		aliceID = m[1]
		if a := devA.do("GET", "/console/invocations/"+aliceID, nil); a.status != http.StatusOK || !strings.Contains(a.body, `&#34;who&#34;: &#34;a&#34;`) {
			t.Errorf("own invocation: %d %.300s", a.status, a.body)
		}
		if a := devB.do("GET", "/console/invocations/"+aliceID, nil); a.status != http.StatusNotFound || strings.Contains(a.body, `&#34;who&#34;`) {
			t.Errorf("another's invocation: %d %.300s", a.status, a.body)
		}
		if a := devB.do("GET", "/console/invocations", nil); strings.Contains(a.body, aliceID[:8]) {
			t.Error("another's invocation is in the list")
		}
		a = devB.do("POST", "/console/invocations/"+aliceID+"/cancel", url.Values{"csrf": {devB.csrf("/console/invocations")}})
		if a.status != http.StatusNotFound {
			t.Errorf("cancel another's: %d", a.status)
		}
	})

	t.Run("viewer", func(t *testing.T) {
		a := viewer.do("GET", "/console/plugins/echo-c", nil)
		if a.status != http.StatusOK || strings.Contains(a.body, `id="try"`) || !strings.Contains(a.body, "may not invoke") {
			t.Errorf("viewer's plugin page: %d, try form shown: %v", a.status, strings.Contains(a.body, `id="try"`))
		}
		before := s.countInvocations(t)
		a = viewer.do("POST", "/console/plugins/echo-c", url.Values{"csrf": {viewer.csrf("/console/plugins")}, "mode": {"json"}, "json": {`{}`}, "version": {"1.0.0"}})
		if !strings.Contains(a.body, "forbidden") || s.countInvocations(t) != before {
			t.Errorf("viewer's try: %d %.500s", a.status, a.body)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		a := devA.do("POST", "/console/logout", url.Values{"csrf": {devA.csrf("/console/plugins")}})
		if a.status != http.StatusSeeOther || a.location != "/console/login" {
			t.Fatalf("sign out: %d to %q", a.status, a.location)
		}
		if a := devA.do("GET", "/console/plugins", nil); a.status != http.StatusSeeOther {
			t.Errorf("after signing out: %d", a.status)
		}
	})
}

// TestConsoleHostileInputs sends every console route hostile values in
// its path parameters and query, signed in: never a 5xx, errors are the
// console's HTML pages, and text no field can hold is refused.
func TestConsoleHostileInputs(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(echoManifest(t, "echo-h", false))
	u := newConsoleUser(t, s.gw.URL())
	u.signIn(adminEmail, adminPassword)
	tok := u.csrf("/console/plugins")
	var routes []string
	err := chi.Walk(s.gw.Server.Console.(interface{ Routes() chi.Routes }).Routes(), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+pattern)
		return nil
	})
	if err != nil || len(routes) < 8 {
		t.Fatalf("walk: %v %v", err, routes)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	values := []string{"%00", "%FF", "a%00b", "..%2F..%2Fetc", "%3Cscript%3E", strings.Repeat("x", 5000), "99999999999999999999", "-1", "%20"}
	queries := []string{"", "?plugin=%00", "?status=%FF", "?cursor=%00", "?owner_id=99999999999999999999", "?version=%00", "?q=%00", "?return_to=%00"}
	for _, rt := range routes {
		method, pattern, _ := strings.Cut(rt, " ")
		if strings.HasSuffix(pattern, "/logout") || (method != http.MethodGet && method != http.MethodPost) {
			continue
		}
		for _, v := range values {
			p := param.ReplaceAllString(strings.TrimSuffix(pattern, "*"), v)
			for _, q := range queries {
				var form url.Values
				if method == http.MethodPost {
					form = url.Values{"csrf": {tok}, "mode": {"json"}, "json": {"{\"a\":\"\x00\"}"}, "version": {v}}
				}
				a := u.do(method, p+q, form)
				// A query string no parameter can hold is refused by the
				// gateway before the console sees it, in the API's shape.
				api := strings.HasPrefix(a.header.Get("Content-Type"), "application/json") && strings.Contains(a.body, `"code":"invalid"`)
				switch {
				case a.status >= 500:
					t.Errorf("%s %.80s%s: %d %.300s", method, p, q, a.status, a.body)
				case a.status >= 400 && !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") && !api:
					t.Errorf("%s %.80s%s: %d as %q", method, p, q, a.status, a.header.Get("Content-Type"))
				case strings.Contains(a.body, "<script>"):
					t.Errorf("%s %.80s%s: a value reached the page unescaped", method, p, q)
				}
			}
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// countInvocations counts every invocation, as the admin sees them.
func (s *stack) countInvocations(t *testing.T) int {
	t.Helper()
	resp := s.do("GET", "/api/v1/invocations?all=true&limit=200", nil)
	var pg struct {
		Items []orc.Invocation `json:"items"`
	}
	resp.json(t, &pg)
	return len(pg.Items)
}

// TestConsoleDeadLetters: the dead-letter page lists the user's own dead
// letters with their reason and deliveries; redrive runs one again under
// the same id, discard takes one off the list, and another user's cannot
// be touched.
func TestConsoleDeadLetters(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["public"] = true }))
	v, err := s.db.FindVersion(context.Background(), "echo", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	s.addUser("dl-a@example.com", orc.RoleDeveloper)
	s.addUser("dl-b@example.com", orc.RoleDeveloper)
	aliceID, bobID := s.userID("dl-a@example.com"), s.userID("dl-b@example.com")
	redriven, discarded, bobs := s.deadLetterOf(aliceID, v), s.deadLetterOf(aliceID, v), s.deadLetterOf(bobID, v)
	alice := newConsoleUser(t, s.gw.URL())
	alice.signIn("dl-a@example.com", "password-dl-a@example.com")

	a := alice.do("GET", "/console/dead-letters", nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, redriven[:8]) || !strings.Contains(a.body, discarded[:8]) ||
		strings.Contains(a.body, bobs[:8]) || !strings.Contains(a.body, "delivery_limit") {
		t.Fatalf("list: %d %.1000s", a.status, a.body)
	}
	tok := alice.csrf("/console/dead-letters")
	if a := alice.do("POST", "/console/dead-letters/"+redriven+"/redrive", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("redrive: %d %.300s", a.status, a.body)
	}
	if inv := s.waitFor(redriven, 30*time.Second, terminal); inv.Status != orc.StatusSucceeded || inv.Redrives != 1 {
		t.Errorf("redriven: %s, %d redrives", inv.Status, inv.Redrives)
	}
	if a := alice.do("POST", "/console/dead-letters/"+redriven+"/redrive", url.Values{"csrf": {tok}}); a.status != http.StatusConflict {
		t.Errorf("a second redrive: %d", a.status)
	}
	if a := alice.do("POST", "/console/dead-letters/"+discarded+"/discard", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("discard: %d %.300s", a.status, a.body)
	}
	if a := alice.do("GET", "/console/dead-letters", nil); strings.Contains(a.body, `data-id="`+discarded) || strings.Contains(a.body, `data-id="`+redriven) {
		t.Errorf("redriven or discarded still listed: %.1000s", a.body)
	}
	for _, action := range []string{"redrive", "discard"} {
		if a := alice.do("POST", "/console/dead-letters/"+bobs+"/"+action, url.Values{"csrf": {tok}}); a.status != http.StatusNotFound {
			t.Errorf("%s another's: %d", action, a.status)
		}
		if a := alice.do("POST", "/console/dead-letters/"+bobs+"/"+action, url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden {
			t.Errorf("%s without the form token: %d", action, a.status)
		}
	}
	// The time pickers: a window before bob's letter shows none of it,
	// and one the API refuses says why, keeping what was typed.
	admin := newConsoleUser(t, s.gw.URL())
	admin.signIn(adminEmail, adminPassword)
	past := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
	if a := admin.do("GET", "/console/dead-letters?until="+past, nil); a.status != http.StatusOK || strings.Contains(a.body, `data-id="`+bobs) ||
		!strings.Contains(a.body, `name="until" type="datetime-local" value="`+past+`"`) {
		t.Errorf("dead letters until yesterday: %d %.2000s", a.status, a.body)
	}
	if a := admin.do("GET", "/console/dead-letters?since="+past, nil); !strings.Contains(a.body, `data-id="`+bobs) {
		t.Errorf("dead letters since yesterday miss bob's: %.2000s", a.body)
	}
	if a := admin.do("GET", "/console/dead-letters?since=2026-12-02T00:00&until=2026-12-01T00:00", nil); a.status != http.StatusBadRequest ||
		!strings.Contains(a.body, `class="problem"`) || !strings.Contains(a.body, `value="2026-12-02T00:00"`) {
		t.Errorf("a window the API refuses: %d %.2000s", a.status, a.body)
	}
	// The admin's bulk redrive takes bob's, by filter.
	a = admin.do("POST", "/console/dead-letters/redrive", url.Values{"csrf": {admin.csrf("/console/dead-letters")}, "filter": {"plugin=echo"}})
	if a.status != http.StatusSeeOther || !strings.Contains(a.location, "n=1") {
		t.Fatalf("bulk redrive: %d to %q", a.status, a.location)
	}
	if inv := s.waitFor(bobs, 30*time.Second, terminal); inv.Status != orc.StatusSucceeded {
		t.Errorf("bob's after the bulk redrive: %s", inv.Status)
	}
}

// upload posts a multipart form with one file.
func (u *consoleUser) upload(path string, fields url.Values, file string, content []byte) *consoleAnswer {
	u.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v) //nolint:errcheck // a bytes.Buffer
		}
	}
	fw, _ := mw.CreateFormFile(file, file+".wasm")
	fw.Write(content) //nolint:errcheck // a bytes.Buffer
	mw.Close()
	req, _ := http.NewRequest("POST", u.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return u.send(req)
}

// TestConsoleHooks: a developer uploads a hook and deletes it; a module
// the API refuses shows why; another developer cannot delete it; a viewer
// has no upload form and cannot upload.
func TestConsoleHooks(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	module := hookModule(t, "validator")
	s.addUser("hk-a@example.com", orc.RoleDeveloper)
	s.addUser("hk-b@example.com", orc.RoleDeveloper)
	s.addUser("hk-v@example.com", orc.RoleViewer)
	a, b, v := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	a.signIn("hk-a@example.com", "password-hk-a@example.com")
	b.signIn("hk-b@example.com", "password-hk-b@example.com")
	v.signIn("hk-v@example.com", "password-hk-v@example.com")

	tok := a.csrf("/console/hooks")
	if r := a.upload("/console/hooks", url.Values{"csrf": {tok}, "name": {"checks"}}, "module", []byte("not wasm")); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, `class="problem"`) {
		t.Errorf("a bad module: %d %.500s", r.status, r.body)
	}
	if r := a.upload("/console/hooks", url.Values{"csrf": {"forged"}, "name": {"checks"}}, "module", module); r.status != http.StatusForbidden {
		t.Errorf("upload without the form token: %d", r.status)
	}
	if r := a.upload("/console/hooks", url.Values{"csrf": {tok}, "name": {"checks"}, "description": {"input checks"}}, "module", module); r.status != http.StatusSeeOther {
		t.Fatalf("upload: %d %.500s", r.status, r.body)
	}
	if r := a.do("GET", "/console/hooks", nil); !strings.Contains(r.body, `data-hook="checks"`) || !strings.Contains(r.body, "input checks") {
		t.Errorf("the list: %.1000s", r.body)
	}
	if r := b.do("POST", "/console/hooks/checks/delete", url.Values{"csrf": {b.csrf("/console/hooks")}}); r.status != http.StatusNotFound {
		t.Errorf("another developer deletes it: %d", r.status)
	}
	if r := v.do("GET", "/console/hooks", nil); strings.Contains(r.body, `id="upload"`) {
		t.Error("a viewer sees the upload form")
	}
	if r := v.upload("/console/hooks", url.Values{"csrf": {v.csrf("/console/plugins")}, "name": {"viewers"}}, "module", module); r.status != http.StatusForbidden {
		t.Errorf("a viewer uploads: %d %.300s", r.status, r.body)
	}
	if r := a.do("POST", "/console/hooks/checks/delete", url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther {
		t.Errorf("delete: %d %.300s", r.status, r.body)
	}
	if r := a.do("GET", "/console/hooks", nil); strings.Contains(r.body, `data-hook="checks"`) {
		t.Error("a deleted hook is still listed")
	}
}

// TestConsoleInvocationFilters: the invocations page filters by version
// and a window of creation times (datetime-local inputs, read as UTC),
// keeps the filters in its form and its link to the next page, shows a
// filter the API refuses above the form, and never shows another user's
// invocations whatever the filters.
func TestConsoleInvocationFilters(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, true)
	s.addUser("cf-a@example.com", orc.RoleDeveloper)
	s.addUser("cf-b@example.com", orc.RoleDeveloper)
	aID, bID := s.userID("cf-a@example.com"), s.userID("cf-b@example.com")
	create := func(owner int64, version string, minutes int) string {
		return s.invocationAt(owner, "cf-echo", version, minutes)
	}
	// 51 of version 1.0.0 from 12:00 to 12:50, one more page than fits.
	var ones []string
	for i := 0; i <= 50; i++ {
		ones = append(ones, create(aID, "1.0.0", i))
	}
	two := create(aID, "2.0.0", 30)
	bobs := create(bID, "1.0.0", 30)
	alice, bob := newConsoleUser(t, s.gw.URL()), newConsoleUser(t, s.gw.URL())
	alice.signIn("cf-a@example.com", "password-cf-a@example.com")
	bob.signIn("cf-b@example.com", "password-cf-b@example.com")
	shown := func(a *consoleAnswer, id string) bool { return strings.Contains(a.body, `data-id="`+id+`"`) }

	a := alice.do("GET", "/console/invocations", nil)
	for _, want := range []string{`<label for="f-version">Version</label>`, `<label for="f-since">Since (UTC)</label>`,
		`id="f-since" name="since" type="datetime-local"`, `<label for="f-until">Until (UTC)</label>`, `id="f-until" name="until" type="datetime-local"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}

	// 12:20 to 12:30 UTC, as a browser's datetime-local inputs send it.
	a = alice.do("GET", "/console/invocations?plugin=cf-echo&version=1.0.0&since=2026-12-01T12:20&until=2026-12-01T12:30", nil)
	if a.status != http.StatusOK {
		t.Fatalf("window: %d %.500s", a.status, a.body)
	}
	for i, id := range ones {
		if in := i >= 20 && i < 30; shown(a, id) != in {
			t.Errorf("12:%02d shown %v, want %v", i, !in, in)
		}
	}
	if shown(a, two) || shown(a, bobs) {
		t.Error("another version, or another user's, in the window")
	}
	for _, want := range []string{`value="2026-12-01T12:20"`, `value="2026-12-01T12:30"`, `data-since="2026-12-01T12:20:00Z"`, `data-version="1.0.0"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// A link in RFC 3339 works too, and fills the inputs in UTC.
	a = alice.do("GET", "/console/invocations?since="+url.QueryEscape("2026-12-01T13:45:00+01:00"), nil)
	if !shown(a, ones[45]) || shown(a, ones[44]) || !strings.Contains(a.body, `value="2026-12-01T12:45"`) {
		t.Errorf("RFC 3339 since: %d %.500s", a.status, a.body)
	}

	// The next page keeps the filters.
	a = alice.do("GET", "/console/invocations?plugin=cf-echo&version=1.0.0&since=2026-12-01T12:00", nil)
	m := regexp.MustCompile(`href="/console/invocations\?([^"]+)" rel="next"`).FindStringSubmatch(a.body)
	if m == nil || shown(a, ones[0]) || !shown(a, ones[1]) || shown(a, two) {
		t.Fatalf("first page: %.1000s", a.body)
	}
	next, err := url.ParseQuery(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil || next.Get("version") != "1.0.0" || next.Get("since") != "2026-12-01T12:00" || next.Get("plugin") != "cf-echo" || next.Get("cursor") == "" {
		t.Fatalf("next page's query %q: %v", m[1], err)
	}
	a = alice.do("GET", "/console/invocations?"+next.Encode(), nil)
	if !shown(a, ones[0]) || shown(a, ones[1]) || shown(a, two) {
		t.Errorf("second page: %.1000s", a.body)
	}

	// A filter the API refuses: its reason above the form, which keeps
	// what was typed, and no list.
	for _, tt := range []struct{ query, want string }{
		{"version=1.0.0", "version needs plugin"},
		{"since=2026-12-01T25:00", "since must be a time in RFC 3339 form"},
		{"since=2026-12-01T12:30&until=2026-12-01T12:20", "until must not be before since"},
	} {
		a := alice.do("GET", "/console/invocations?"+tt.query, nil)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, `class="problem"`) || !strings.Contains(a.body, tt.want) ||
			!strings.Contains(a.body, `id="f-since"`) || strings.Contains(a.body, "data-id=") {
			t.Errorf("%s: %d %.800s", tt.query, a.status, a.body)
		}
	}

	// Bob's filters select Alice's invocations, and find none of them.
	for _, q := range []string{"plugin=cf-echo&version=1.0.0", "since=2026-12-01T12:00&until=2026-12-01T13:00", "owner_id=" + itoa(aID)} {
		a := bob.do("GET", "/console/invocations?"+q, nil)
		if a.status != http.StatusOK || shown(a, ones[30]) || shown(a, two) {
			t.Errorf("bob, %s: %d, alice's shown", q, a.status)
		}
		if q != "owner_id="+itoa(aID) && !shown(a, bobs) {
			t.Errorf("bob, %s: his own is missing", q)
		}
	}
}
