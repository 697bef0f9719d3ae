package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

// hostileText are values in the escaped form a URL carries them: each must
// be refused (4xx) wherever it goes, since no name, id or filter can hold
// it.
var hostileText = []string{"a%00b", "%FF%FE", "%C3%28x", "x%F4%90%80%80"}

// hostileValues are values that are wrong in most places: overflowing
// numbers, negative ones, out-of-range and garbled cursors, oversized and
// odd strings. They must never be a server error.
var hostileValues = []string{
	"99999999999", "9223372036854775808", "99999999999999999999", "-1", "0", "1e400", "NaN",
	"%2e%2e", "a%2Fb", "%20", "a+b", "%2B", "",
	strings.Repeat("x", 5000),
	base64.RawURLEncoding.EncodeToString([]byte("9223372036854775807.8d3c6f4e-0000-4000-8000-000000000000")),
	base64.RawURLEncoding.EncodeToString([]byte("-9223372036854775808.8d3c6f4e-0000-4000-8000-000000000000")),
	base64.RawURLEncoding.EncodeToString([]byte("99999999999999999999")),
	"00000000-0000-0000-0000-000000000000",
}

// hostileJSON are values a body field is set to, as JSON text; those that
// hold text no field can (a NUL character, invalid UTF-8) must be refused.
var hostileJSON = []struct {
	json     string
	nul, bad bool
}{
	{json: `"a\u0000b"`, nul: true}, {json: "\"a\xffb\"", bad: true},
	{json: `[{"a":"\u0000"}]`, nul: true}, {json: `{"\u0000":1}`, nul: true},
	{json: `99999999999`}, {json: `9223372036854775808`}, {json: `-1`}, {json: `1e400`}, {json: `0.5`},
	{json: `"` + strings.Repeat("x", 100_000) + `"`},
	{json: `[]`}, {json: `{}`}, {json: `true`}, {json: `null`}, {json: `""`}, {json: `"x@"`},
}

// hostileBodies are whole bodies, each wrong for every JSON route.
var hostileBodies = []string{
	`[]`, `null`, `"x"`, `1`, `{`, ``, `{"a":1}{"b":2}`, "\xff\xfe", `{"\u0000":1}`,
	strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000),
	strings.Repeat(`{"a":`, 600) + `1` + strings.Repeat(`}`, 600),
}

// sweepBodies are a valid body of each route that takes one: each field is
// made hostile in turn (and the fields the OpenAPI document names too).
var sweepBodies = map[string]map[string]any{
	"POST /invoke/{plugin}":                  {"a": 1},
	"POST /api/v1/auth/token":                {"username": adminEmail, "password": "not-the-password"},
	"POST /api/v1/plugins":                   {"name": "hostile", "version": "1.0.0", "docker_image": "orc-hostile:1"},
	"POST /api/v1/plugins/{plugin}/versions": {"version": "1.0.1", "docker_image": "orc-hostile:1"},
	"POST /api/v1/jobs":                      {"plugin_name": "echo", "input_data": map[string]any{"a": 1}},
	"POST /api/v1/users":                     {"email": "swept@example.com", "name": "S", "role": "viewer", "password": "password-1"},
	"PATCH /api/v1/users/{id}":               {"name": "x"},
	"POST /api/v1/api-keys":                  {"name": "k", "expires_in": 3600},
	"PUT /api/v1/policy":                     {},
}

// pluginInput are the body fields that are a plugin's input: stored byte
// for byte, so a NUL character is theirs to hold.
var pluginInput = map[string][]string{
	"POST /invoke/{plugin}": nil, // the whole body
	"POST /api/v1/jobs":     {"input_data"},
}

// TestHostileInputsNeverFailTheServer sends every route the router serves
// hostile values in each path segment, query parameter, body field and
// header, as an admin and as a developer: every answer is a 2xx, or a
// 4xx in the error shape, never a 5xx; and text no field can hold (a NUL
// character, invalid UTF-8) is always refused with a 4xx. The routes come
// from the router itself, so a new route is swept without a change here.
func TestHostileInputsNeverFailTheServer(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *Config) {
		// Every request counts against the rate of a developer.
		c.Identity.Limits[orc.RoleDeveloper] = identity.Limit{}
	}, true)
	f := sweepFixtures(t, s)
	doc := openAPIDoc(t, s)

	var routes []sweptRoute
	err := chi.Walk(s.gw.Server.Routes(), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		// The web console's pages answer browsers in HTML and are swept
		// by TestConsoleHostileInputs; / and /dashboard only redirect there.
		// The event stream does not end; TestEventStream covers it.
		if pattern == "/" || strings.HasPrefix(pattern, "/console") || strings.HasPrefix(pattern, "/dashboard") || pattern == "/api/v1/events" {
			return nil
		}
		routes = append(routes, sweptRoute{method: method, pattern: pattern})
		return nil
	})
	if err != nil || len(routes) < 30 {
		t.Fatalf("chi.Walk: %v (%d routes)", err, len(routes))
	}
	// Deletes and cancels last, so that the fixtures last the sweep.
	sort.SliceStable(routes, func(i, j int) bool { return !routes[i].destructive() && routes[j].destructive() })

	for _, who := range []struct{ name, token string }{{"admin", s.token}, {"developer", f.developer}} {
		t.Run(who.name, func(t *testing.T) {
			sw := &sweeper{t: t, s: s, token: who.token}
			for _, rt := range routes {
				sw.route(rt, f, doc)
			}
			t.Logf("%d requests", sw.sent)
		})
	}
}

// sweptRoute is one method of one route pattern.
type sweptRoute struct{ method, pattern string }

func (rt sweptRoute) String() string { return rt.method + " " + rt.pattern }

// destructive reports whether the route removes what it names.
func (rt sweptRoute) destructive() bool {
	return rt.method == http.MethodDelete || strings.HasSuffix(rt.pattern, "/cancel")
}

// fixtures are things the sweep's valid path segments name.
type fixtures struct {
	invocation, userID, keyID, developer string
}

func sweepFixtures(t *testing.T, s *stack) fixtures {
	t.Helper()
	var f fixtures
	resp := s.do("POST", "/api/v1/plugins", map[string]any{"name": "echo", "version": "1.0.0", "docker_image": "orc-hostile:1",
		"public": true, "input_schema": map[string]any{"type": "object"}})
	if resp.status != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.status, resp.body)
	}
	resp = s.do("POST", "/invoke/echo", `{}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	f.invocation = resp.header.Get("X-Orc-Invocation-Id")
	var u orc.User
	resp = s.do("POST", "/api/v1/users", map[string]any{"email": "fixture@example.com", "role": "developer", "password": "password-fixture"})
	if resp.status != http.StatusCreated {
		t.Fatalf("create user: %d %s", resp.status, resp.body)
	}
	resp.json(t, &u)
	f.userID = fmt.Sprint(u.ID)
	var k orc.APIKey
	resp = s.do("POST", "/api/v1/api-keys", map[string]any{"name": "fixture"})
	if resp.status != http.StatusCreated {
		t.Fatalf("create key: %d %s", resp.status, resp.body)
	}
	resp.json(t, &k)
	f.keyID = fmt.Sprint(k.ID)
	f.developer = s.addUser("sweeper@example.com", orc.RoleDeveloper)
	return f
}

// param is a valid value of a path parameter: one that exists, or for a
// route that removes things, one that does not.
func (f fixtures) param(rt sweptRoute, name string) string {
	gone := rt.destructive()
	switch {
	case name == "plugin" && gone:
		return "absent"
	case name == "plugin":
		return "echo"
	case name == "version":
		return "1.0.0"
	case name == "hook":
		return "absent"
	case strings.Contains(rt.pattern, "/users/"):
		return f.userID
	case strings.Contains(rt.pattern, "/api-keys/") && gone:
		return "999999999"
	case strings.Contains(rt.pattern, "/api-keys/"):
		return f.keyID
	case gone:
		return "8d3c6f4e-0000-4000-8000-000000000000"
	}
	return f.invocation
}

// sweeper sends one principal's requests and checks each answer.
type sweeper struct {
	t     *testing.T
	s     *stack
	token string
	sent  int
}

var paramRE = regexp.MustCompile(`\{([^}]+)\}`)

func (sw *sweeper) route(rt sweptRoute, f fixtures, doc *apiDoc) {
	path := func(hostileParam, value string) string {
		return paramRE.ReplaceAllStringFunc(rt.pattern, func(m string) string {
			name := m[1 : len(m)-1]
			if name == hostileParam {
				return value
			}
			return f.param(rt, name)
		})
	}
	base, hasBody := sweepBodies[rt.String()]
	bodyOf := func() []byte {
		if !hasBody {
			return nil
		}
		b, _ := json.Marshal(base)
		return b
	}

	for _, m := range paramRE.FindAllStringSubmatch(rt.pattern, -1) {
		for _, v := range hostileText {
			sw.send(rt, "path {"+m[1]+"} = "+v, true, path(m[1], v), bodyOf())
		}
		for _, v := range hostileValues {
			if v == "" || strings.Contains(v, "+") {
				continue // not a path segment
			}
			sw.send(rt, "path {"+m[1]+"} = "+v, false, path(m[1], v), bodyOf())
		}
	}
	for _, name := range append(doc.queryParams(rt), "x") {
		for _, v := range hostileText {
			sw.send(rt, "?"+name+"="+v, true, path("", "")+"?"+name+"="+v, bodyOf())
		}
		for _, v := range hostileValues {
			sw.send(rt, "?"+name+"="+v, false, path("", "")+"?"+name+"="+v, bodyOf())
		}
	}
	sw.send(rt, "malformed query", true, path("", "")+"?a=%zz", bodyOf())
	sw.send(rt, "name not UTF-8", true, path("", "")+"?%FF=1", bodyOf())

	if rt.method == http.MethodGet {
		sw.check(rt, "HEAD", false, sw.s.do("HEAD", path("", ""), nil, "Authorization", "Bearer "+sw.token, "Prefer", "respond-async"), http.MethodHead)
	}
	sw.methodNotAllowed(rt, path("", ""))

	if rt.method != http.MethodPost && rt.method != http.MethodPut && rt.method != http.MethodPatch {
		return
	}
	for _, h := range []struct {
		value  string
		refuse bool
	}{{"k\xff", true}, {strings.Repeat("k", 300), false}} {
		refuse := h.refuse && (strings.HasPrefix(rt.pattern, "/invoke/") || strings.HasSuffix(rt.pattern, "/jobs"))
		sw.send(rt, fmt.Sprintf("Idempotency-Key %.10q", h.value), refuse, path("", ""), bodyOf(), "Idempotency-Key", h.value)
	}
	for _, field := range doc.formFields(rt) {
		// A valid form (for the one route that takes one) with the field
		// replaced; v is sent as escaped.
		form := func(v string) []byte {
			parts := []string{field + "=" + v}
			for _, kv := range []string{"username=" + adminEmail, "password=x"} {
				if !strings.HasPrefix(kv, field+"=") {
					parts = append(parts, kv)
				}
			}
			return []byte(strings.Join(parts, "&"))
		}
		for _, v := range hostileText {
			sw.send(rt, "form "+field+"="+v, true, path("", ""), form(v), "Content-Type", "application/x-www-form-urlencoded")
		}
		for _, v := range hostileValues {
			sw.send(rt, "form "+field+"="+v, false, path("", ""), form(v), "Content-Type", "application/x-www-form-urlencoded")
		}
	}
	fields := doc.bodyFields(rt)
	if !hasBody && len(fields) == 0 && rt.pattern != "/api/v1/hooks" {
		return // the route reads no body
	}
	if rt.pattern == "/api/v1/hooks" {
		for _, b := range hostileBodies {
			sw.send(rt, fmt.Sprintf("body %.20q", b), false, path("", "")+"?name=h", []byte(b), "Content-Type", "application/wasm")
		}
		return
	}
	for _, b := range hostileBodies {
		refuse := rt.pattern != "/invoke/{plugin}" || b != `{"\u0000":1}`
		sw.send(rt, fmt.Sprintf("body %.20q", b), refuse, path("", ""), []byte(b))
	}
	for k := range base {
		if !slices.Contains(fields, k) {
			fields = append(fields, k)
		}
	}
	opaque, isInput := pluginInput[rt.String()]
	for _, field := range fields {
		input := isInput && (opaque == nil || slices.Contains(opaque, field))
		for _, v := range hostileJSON {
			body := map[string]any{}
			for k, bv := range base {
				body[k] = bv
			}
			body[field] = "\x01hostile\x01"
			raw, _ := json.Marshal(body)
			raw = bytes.Replace(raw, []byte(`"\u0001hostile\u0001"`), []byte(v.json), 1)
			sw.send(rt, fmt.Sprintf("field %s = %.20q", field, v.json), v.bad || (v.nul && !input), path("", ""), raw)
		}
	}
}

// send sends one request and checks its answer; refuse: it must be a 4xx.
func (sw *sweeper) send(rt sweptRoute, what string, refuse bool, path string, body []byte, headers ...string) {
	sw.t.Helper()
	h := append([]string{"Authorization", "Bearer " + sw.token, "Prefer", "respond-async"}, headers...)
	var b any
	if body != nil {
		b = body
	}
	sw.check(rt, what, refuse, sw.s.do(rt.method, path, b, h...), rt.method)
}

func (sw *sweeper) check(rt sweptRoute, what string, refuse bool, resp *response, method string) {
	sw.t.Helper()
	sw.sent++
	switch {
	case resp.status >= 500:
		sw.t.Errorf("%s, %s: %d %.300s", rt, what, resp.status, resp.body)
		return
	case refuse && resp.status < 400:
		sw.t.Errorf("%s, %s: %d, want a 4xx: %.300s", rt, what, resp.status, resp.body)
		return
	case resp.status < 400 || method == http.MethodHead:
		return
	}
	var e errorBodyForTest
	if err := json.Unmarshal(resp.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		sw.t.Errorf("%s, %s: %d without the error shape: %.300s", rt, what, resp.status, resp.body)
	}
}

// methodNotAllowed sends a method the route does not serve: 405 with an
// Allow header that names the route's method.
func (sw *sweeper) methodNotAllowed(rt sweptRoute, path string) {
	sw.t.Helper()
	other := http.MethodPut
	if rt.method == http.MethodPut {
		other = http.MethodPatch
	}
	resp := sw.s.do(other, path, nil, "Authorization", "Bearer "+sw.token)
	sw.sent++
	if resp.status == http.StatusMethodNotAllowed {
		if allow := resp.header.Get("Allow"); !strings.Contains(allow, rt.method) {
			sw.t.Errorf("%s: 405 to %s with Allow %q, which does not name %s", rt, other, allow, rt.method)
		}
		return
	}
	if resp.status >= 500 {
		sw.t.Errorf("%s: %s answered %d", rt, other, resp.status)
	}
}

// apiDoc is the OpenAPI document the gateway serves, for the names of each
// operation's query parameters and body fields.
type apiDoc struct{ doc map[string]any }

func openAPIDoc(t *testing.T, s *stack) *apiDoc {
	t.Helper()
	var doc map[string]any
	s.do("GET", "/openapi.json", nil).json(t, &doc)
	return &apiDoc{doc: doc}
}

func (d *apiDoc) resolve(v any) map[string]any {
	for range 10 {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v = any(d.doc)
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			v = v.(map[string]any)[tok]
		}
	}
	return nil
}

func (d *apiDoc) operation(rt sweptRoute) (item, op map[string]any) {
	paths, _ := d.doc["paths"].(map[string]any)
	item, _ = paths[rt.pattern].(map[string]any)
	op, _ = item[strings.ToLower(rt.method)].(map[string]any)
	return item, op
}

func (d *apiDoc) queryParams(rt sweptRoute) []string {
	item, op := d.operation(rt)
	var names []string
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			if pm := d.resolve(p); pm["in"] == "query" {
				names = append(names, pm["name"].(string))
			}
		}
	}
	return names
}

func (d *apiDoc) bodyFields(rt sweptRoute) []string { return d.fields(rt, "application/json") }

func (d *apiDoc) formFields(rt sweptRoute) []string {
	return d.fields(rt, "application/x-www-form-urlencoded")
}

// fields names the properties of an operation's body of a media type.
func (d *apiDoc) fields(rt sweptRoute, mediaType string) []string {
	_, op := d.operation(rt)
	rb, _ := op["requestBody"].(map[string]any)
	content, _ := rb["content"].(map[string]any)
	media, _ := content[mediaType].(map[string]any)
	if media == nil {
		return nil
	}
	var names []string
	var collect func(schema map[string]any)
	collect = func(schema map[string]any) {
		props, _ := schema["properties"].(map[string]any)
		for name := range props {
			names = append(names, name)
		}
		all, _ := schema["allOf"].([]any)
		for _, sub := range all {
			collect(d.resolve(sub))
		}
	}
	collect(d.resolve(media["schema"]))
	sort.Strings(names)
	return names
}
