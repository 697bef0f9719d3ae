package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// wantInvalid fails unless resp is 400 invalid whose message has each of
// words.
func wantInvalid(t *testing.T, what string, resp *response, words ...string) errorBodyForTest {
	t.Helper()
	if resp.status != http.StatusBadRequest {
		t.Fatalf("%s: %d %.300s, want 400", what, resp.status, resp.body)
	}
	e := resp.apiError(t)
	if e.Error.Code != orc.EINVALID {
		t.Fatalf("%s: code %s, want invalid", what, e.Error.Code)
	}
	for _, w := range words {
		if !strings.Contains(e.Error.Message, w) {
			t.Fatalf("%s: message %q does not say %q", what, e.Error.Message, w)
		}
	}
	return e
}

// Text that PostgreSQL cannot store is refused at the edge, naming where
// it was, instead of failing in the database (500).
func TestUnstorableTextIsRefusedByName(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(map[string]any{"name": "echo", "version": "1.0.0", "docker_image": "orc-echo:1.0.0"})
	form := []string{"Content-Type", "application/x-www-form-urlencoded", "Authorization", ""}

	wantInvalid(t, "sign-in with a NUL user name", s.do("POST", "/api/v1/auth/token", "username=%00&password=x", form...), `"username"`, "NUL")
	wantInvalid(t, "sign-in with a user name not UTF-8", s.do("POST", "/api/v1/auth/token", "username=%FF&password=x", form...), `"username"`, "UTF-8")
	wantInvalid(t, "invoke a%00b", s.do("POST", "/invoke/a%00b", `{}`), "{plugin}", "NUL")
	for _, list := range []string{"/api/v1/invocations", "/api/v1/jobs", "/api/v1/audit"} {
		wantInvalid(t, list+"?plugin=%00", s.do("GET", list+"?plugin=%00&action=%00", nil), "NUL")
	}
	e := wantInvalid(t, "a NUL in a plugin.json", s.do("POST", "/api/v1/plugins",
		`{"name": "echo", "version": "1.0.1", "docker_image": "orc-echo:1.0.0", "description": "a\u0000b"}`), "/description", "NUL")
	if len(e.Error.Details) != 1 || e.Error.Details[0].Pointer != "/description" {
		t.Fatalf("details = %+v, want the pointer /description", e.Error.Details)
	}
	wantInvalid(t, "a NUL in a schema", s.do("POST", "/api/v1/plugins",
		`{"name": "echo", "version": "1.0.1", "docker_image": "orc-echo:1.0.0", "input_schema": {"properties": {"\u0000": {}}}}`), "/input_schema/properties/", "name")
	wantInvalid(t, "Idempotency-Key not UTF-8", s.do("POST", "/invoke/echo", `{}`, "Idempotency-Key", "k\xff"), "Idempotency-Key", "UTF-8")
	wantInvalid(t, "Idempotency-Key not UTF-8 on a job", s.do("POST", "/api/v1/jobs", `{"plugin_name": "echo"}`, "Idempotency-Key", "k\xff"), "Idempotency-Key", "UTF-8")
	wantInvalid(t, "hook description", s.do("POST", "/api/v1/hooks?name=h&description=a%00", "\x00asm", "Content-Type", "application/wasm"), `"description"`, "NUL")
	wantInvalid(t, "user name", s.do("POST", "/api/v1/users", `{"email": "n@example.com", "name": "\u0000", "role": "viewer"}`), "/name", "NUL")

	// A plugin's input is stored as sent (json, not jsonb): a NUL
	// character in it is the plugin's business.
	if resp := s.do("POST", "/invoke/echo", `{"text": "a\u0000b"}`, "Prefer", "respond-async"); resp.status != http.StatusAccepted {
		t.Fatalf("input with a NUL: %d %s", resp.status, resp.body)
	}
	if resp := s.do("POST", "/api/v1/jobs", `{"plugin_name": "echo", "input_data": {"text": "a\u0000b"}}`); resp.status != http.StatusCreated {
		t.Fatalf("job input with a NUL: %d %s", resp.status, resp.body)
	}
	wantInvalid(t, "job input not UTF-8", s.do("POST", "/api/v1/jobs", "{\"plugin_name\": \"echo\", \"input_data\": \"\xff\"}"), "UTF-8")
}

// Numbers and cursors that do not fit the database are the client's
// mistake, told as such.
func TestOutOfRangeValuesAreRefused(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(map[string]any{"name": "echo", "version": "1.0.0", "docker_image": "orc-echo:1.0.0"})
	id := s.do("POST", "/invoke/echo", `{}`, "Prefer", "respond-async").header.Get("X-Orc-Invocation-Id")

	wantInvalid(t, "logs after 2^33", s.do("GET", "/api/v1/invocations/"+id+"/logs?after=99999999999", nil), "after", "2147483647")
	if resp := s.do("GET", "/api/v1/invocations/"+id+"/logs?after=2147483647", nil); resp.status != http.StatusOK {
		t.Fatalf("logs after the largest sequence number: %d %s", resp.status, resp.body)
	}
	crafted := base64.RawURLEncoding.EncodeToString([]byte("9223372036854775807." + id))
	for _, list := range []string{"/api/v1/invocations", "/api/v1/jobs"} {
		wantInvalid(t, list+" crafted cursor", s.do("GET", list+"?cursor="+crafted, nil), "cursor")
	}
	wantInvalid(t, "a 73-byte password", s.do("POST", "/api/v1/users", map[string]any{
		"email": "long@example.com", "role": "viewer", "password": strings.Repeat("p", 73)}), "72 bytes")
	for _, secs := range []int64{10_000_000_000, 100_000_000_000} {
		wantInvalid(t, fmt.Sprintf("expires_in %d", secs), s.do("POST", "/api/v1/api-keys", map[string]any{"expires_in": secs}), "at most", "5 years")
	}
	wantInvalid(t, "expires_in past 64 bits", s.do("POST", "/api/v1/api-keys", `{"expires_in": 1e30}`), "expires_in", "integer")
	wantInvalid(t, "?all=yes", s.do("GET", "/api/v1/api-keys?all=yes", nil), "all", "true or false")
	wantInvalid(t, "a user id past 64 bits", s.do("GET", "/api/v1/api-keys?user_id=99999999999999999999", nil), "user_id")
	if resp := s.do("GET", "/api/v1/api-keys?user_id=99999999999", nil); resp.status != http.StatusOK {
		t.Fatalf("keys of a user id past 32 bits: %d %s", resp.status, resp.body)
	}
}

// A registration that could never work is refused when it is made.
func TestRegistrationRefusesWhatCannotWork(t *testing.T) {
	s := newStack(t, nil, true)
	plugin := func(version string, change func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "echo", "version": version, "docker_image": "orc-echo:1.0.0"}
		if change != nil {
			change(m)
		}
		return m
	}
	e := wantInvalid(t, "$ref to itself", s.do("POST", "/api/v1/plugins", plugin("1.0.0", func(m map[string]any) {
		m["input_schema"] = map[string]any{"$ref": "#"}
	})), "cycle")
	if e.Error.Details[0].Pointer != "/input_schema" {
		t.Fatalf("details = %+v", e.Error.Details)
	}
	wantInvalid(t, "$defs cycle", s.do("POST", "/api/v1/plugins", plugin("1.0.0", func(m map[string]any) {
		m["output_schema"] = json.RawMessage(`{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}`)
	})), "cycle")
	e = wantInvalid(t, "plugin.json not UTF-8", s.do("POST", "/api/v1/plugins",
		"{\"name\": \"echo\", \"version\": \"1.0.0\", \"docker_image\": \"orc-echo:1.0.0\", \"description\": \"caf\xe9\"}"), "/description", "UTF-8")
	if e.Error.Details[0].Pointer != "/description" {
		t.Fatalf("details = %+v", e.Error.Details)
	}
	e = wantInvalid(t, "unknown post hook", s.do("POST", "/api/v1/plugins", plugin("1.0.0", func(m map[string]any) {
		m["hooks"] = map[string]any{"pre": []string{}, "post": []string{"no-such-hook"}}
	})), "no-such-hook")
	if e.Error.Details[0].Pointer != "/hooks/post/0" {
		t.Fatalf("details = %+v, want the pointer /hooks/post/0", e.Error.Details)
	}
	e = wantInvalid(t, "bad post hook name", s.do("POST", "/api/v1/plugins", plugin("1.0.0", func(m map[string]any) {
		m["hooks"] = map[string]any{"pre": []string{"a"}, "post": []string{"Bad Name"}}
	})))
	if e.Error.Details[0].Pointer != "/hooks/post/0" {
		t.Fatalf("details = %+v, want the pointer /hooks/post/0", e.Error.Details)
	}
	for _, email := range []string{"@", "x@", "Ada <ada@example.com>", strings.Repeat("a", 100<<10) + "@example.com"} {
		wantInvalid(t, fmt.Sprintf("email %.20q", email), s.do("POST", "/api/v1/users", map[string]any{"email": email, "role": "viewer"}), "email")
	}
	wantInvalid(t, "a long name", s.do("POST", "/api/v1/users", map[string]any{"email": "ok@example.com", "role": "viewer", "name": strings.Repeat("n", 201)}), "name")

	// timeout_s 0 means the default, as docs/plugins.md says; the answer
	// shows it.
	resp := s.do("POST", "/api/v1/plugins", plugin("2.0.0", func(m map[string]any) { m["timeout_s"] = 0 }))
	var v orc.Version
	if resp.status != http.StatusCreated {
		t.Fatalf("timeout_s 0: %d %s", resp.status, resp.body)
	}
	resp.json(t, &v)
	if v.TimeoutS != orc.DefaultTimeoutS {
		t.Fatalf("timeout_s 0 stored as %d, want the default %d", v.TimeoutS, orc.DefaultTimeoutS)
	}
	// The latest version is the highest semantic version; one that is not
	// a semantic version does not displace it.
	s.register(plugin("beta", nil))
	s.register(plugin("1.0.0", nil))
	var p orc.Plugin
	s.do("GET", "/api/v1/plugins/echo", nil).json(t, &p)
	if p.LatestVersion != "2.0.0" {
		t.Fatalf("latest %s after 2.0.0, beta and 1.0.0, want 2.0.0", p.LatestVersion)
	}
}

// The API reads names, versions and statuses one way everywhere.
func TestOneMeaningEverywhere(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(map[string]any{"name": "echo", "version": "1.0.0-rc.1+build", "docker_image": "orc-echo:1.0.0"})
	async := []string{"Prefer", "respond-async"}

	// Path segments are decoded once, the same on every route.
	for _, path := range []string{"/invoke/%65cho", "/invoke/echo?version=1.0.0-rc.1%2Bbuild"} {
		if resp := s.do("POST", path, `{}`, async...); resp.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", path, resp.status, resp.body)
		}
	}
	for _, path := range []string{"/api/v1/plugins/%65cho", "/api/v1/plugins/echo/versions/1.0.0-rc.1%2Bbuild", "/api/v1/plugins/echo/versions/1.0.0-rc.1+build"} {
		if resp := s.do("GET", path, nil); resp.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.status, resp.body)
		}
	}
	if resp := s.do("GET", "/api/v1/plugins/ech%2Fo", nil); resp.status != http.StatusNotFound {
		t.Fatalf("an escaped / stays in its segment: %d %s", resp.status, resp.body)
	}
	// A query string is form-encoded: '+' is a space, which no version
	// has; the answer says how to send a '+'.
	wantInvalid(t, "version with + in a query", s.do("POST", "/invoke/echo?version=1.0.0-rc.1+build", `{}`, async...), "%2B")

	// The job API filters by the statuses it shows.
	resp := s.do("POST", "/api/v1/jobs", `{"plugin_name": "echo"}`)
	var job struct{ ID, Status string }
	resp.json(t, &job)
	for status, want := range map[string]int{"pending": 1, "completed": 0, "cancelled": 0, "failed": 0, "running": 0} {
		var jobs []map[string]any
		resp := s.do("GET", "/api/v1/jobs?status="+status, nil)
		if resp.status != http.StatusOK {
			t.Fatalf("?status=%s: %d %s", status, resp.status, resp.body)
		}
		resp.json(t, &jobs)
		if len(jobs) < want || (want == 0 && len(jobs) != 0) {
			t.Fatalf("?status=%s: %d jobs", status, len(jobs))
		}
	}
	wantInvalid(t, "an invocation status on /jobs", s.do("GET", "/api/v1/jobs?status=queued", nil), "pending")
	s.do("POST", "/api/v1/invocations/"+job.ID+"/cancel", nil)
	var jobs []map[string]any
	s.do("GET", "/api/v1/jobs?status=cancelled", nil).json(t, &jobs)
	if len(jobs) != 1 || jobs[0]["id"] != job.ID {
		t.Fatalf("cancelled jobs: %v", jobs)
	}
	// The next page keeps the filters.
	resp = s.do("GET", "/api/v1/jobs?status=pending&limit=1", nil)
	if link := resp.header.Get("Link"); !strings.Contains(link, "status=pending") || !strings.Contains(link, "cursor=") {
		t.Fatalf("Link %q does not keep the filter", link)
	}

	// A plugin's numeric id names it on every route, registering too.
	var p orc.Plugin
	s.do("GET", "/api/v1/plugins/echo", nil).json(t, &p)
	byID := fmt.Sprintf("/api/v1/plugins/%d/versions", p.ID)
	if resp := s.do("POST", byID, map[string]any{"version": "2.0.0", "docker_image": "orc-echo:1.0.0"}); resp.status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", byID, resp.status, resp.body)
	}
	if resp := s.do("POST", "/api/v1/plugins/99999999/versions", map[string]any{"version": "2.0.0", "docker_image": "x:1"}); resp.status != http.StatusNotFound {
		t.Fatalf("POST to an unknown id: %d %s", resp.status, resp.body)
	}

	// 405 says what is allowed; GETs answer HEAD, as load balancers ask.
	resp = s.do("DELETE", "/healthz", nil)
	if resp.status != http.StatusMethodNotAllowed || resp.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("DELETE /healthz: %d Allow %q", resp.status, resp.header.Get("Allow"))
	}
	resp = s.do("GET", "/invoke/echo", nil)
	if resp.status != http.StatusMethodNotAllowed || resp.header.Get("Allow") != "POST" {
		t.Fatalf("GET /invoke/echo: %d Allow %q", resp.status, resp.header.Get("Allow"))
	}
	for _, path := range []string{"/healthz", "/health", "/readyz", "/api/v1/plugins"} {
		if resp := s.do("HEAD", path, nil); resp.status != http.StatusOK || len(resp.body) != 0 {
			t.Fatalf("HEAD %s: %d %q", path, resp.status, resp.body)
		}
	}
}

// Errors say what to change, in a size a client can read.
func TestErrorsAClientCanActOn(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(map[string]any{"name": "strict", "version": "1.0.0", "docker_image": "orc-echo:1.0.0",
		"input_schema": map[string]any{"type": "array", "items": map[string]any{"type": "string", "maxLength": 3}}})

	items := make([]string, 250)
	for i := range items {
		items[i] = strings.Repeat("x", 10_000)
	}
	resp := s.do("POST", "/invoke/strict", items)
	e := wantInvalid(t, "250 violations", resp, "250 violations", "first 100")
	if len(e.Error.Details) != 100 || len(resp.body) > 64<<10 {
		t.Fatalf("%d details in %d bytes", len(e.Error.Details), len(resp.body))
	}

	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	wantInvalid(t, "deep invoke", s.do("POST", "/invoke/strict", deep), "nesting too deep (limit 512)")
	wantInvalid(t, "deep job", s.do("POST", "/api/v1/jobs", `{"plugin_name": "strict", "input_data": `+deep+`}`), "nesting too deep (limit 512)")
	wantInvalid(t, "deep plugin.json", s.do("POST", "/api/v1/plugins", deep), "nesting too deep (limit 512)")
	wantInvalid(t, "[] as a job", s.do("POST", "/api/v1/jobs", `[]`), "must be a JSON object")
	wantInvalid(t, "null as a key", s.do("POST", "/api/v1/api-keys", `null`), "must be a JSON object")
	wantInvalid(t, "a field of the wrong type", s.do("POST", "/api/v1/jobs", `{"plugin_name": 7}`), "field plugin_name must be a string, not a number")
}

// A synchronous retry with the idempotency key of an asynchronous call
// that is still running is answered when the result lands, not at the
// next poll of the database (every 2 s).
func TestKeyedRetryAnswersWhenTheResultLands(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", nil))
	const key = "retry-latency"
	if resp := s.do("POST", "/invoke/echo", `{"sleep_ms": 800}`, "Prefer", "respond-async", "Idempotency-Key", key); resp.status != http.StatusAccepted {
		t.Fatalf("async: %d %s", resp.status, resp.body)
	}
	start := time.Now()
	var resp *response
	for {
		// A retry before the first request's publish mark is "in progress".
		resp = s.do("POST", "/invoke/echo", `{"sleep_ms": 800}`, "Idempotency-Key", key)
		if resp.status != http.StatusConflict || time.Since(start) > 5*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	if resp.status != http.StatusOK || !strings.Contains(string(resp.body), `"sleep_ms":800`) {
		t.Fatalf("sync retry: %d %s", resp.status, resp.body)
	}
	if took > 1800*time.Millisecond {
		t.Fatalf("the sync retry took %v for a run of 0.8 s: it waited for a poll", took)
	}
	t.Logf("sync retry answered after %v", took)
}
