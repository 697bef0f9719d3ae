package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

func TestInvokeSyncAndAsync(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "processor", nil))

	resp := s.do("POST", "/invoke/example-processor", `{"data": [1, 2, 3, 4, 5], "operation": "sum"}`)
	if resp.status != http.StatusOK {
		t.Fatalf("sync invoke: %d %s", resp.status, resp.body)
	}
	var out struct {
		Result    float64 `json:"result"`
		Operation string  `json:"operation"`
	}
	resp.json(t, &out)
	if out.Result != 15 || out.Operation != "sum" {
		t.Fatalf("output = %s", resp.body)
	}
	id := resp.header.Get("X-Orc-Invocation-Id")
	if id == "" || resp.header.Get("X-Orc-Version") != "1.0.0" || !strings.Contains(resp.header.Get("Server-Timing"), "run;dur=") {
		t.Fatalf("headers = %v", resp.header)
	}
	if tp := resp.header.Get("traceparent"); tp != "" {
		t.Fatalf("traceparent %q with tracing off", tp)
	}
	inv := s.waitFor(id, time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || inv.Attempts != 1 || !inv.ColdStart || inv.Worker == "" || inv.Timing.RunMS <= 0 {
		t.Fatalf("stored invocation = %+v", inv)
	}

	resp = s.do("POST", "/invoke/example-processor", `{"data": [3, 1, 2], "operation": "sort"}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("async invoke: %d %s", resp.status, resp.body)
	}
	loc := resp.header.Get("Location")
	id = resp.header.Get("X-Orc-Invocation-Id")
	if loc != "/api/v1/invocations/"+id {
		t.Fatalf("Location = %q for %s", loc, id)
	}
	inv = s.waitFor(id, 30*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || !strings.Contains(string(inv.Output), "[1,2,3]") {
		t.Fatalf("async result = %+v output %s", inv, inv.Output)
	}

	// Failing and succeeding calls leave logs; listing finds both.
	list := s.do("GET", "/api/v1/invocations?plugin=example-processor&limit=1", nil)
	var page struct {
		Items      []orc.Invocation `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	list.json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != id || page.NextCursor == "" {
		t.Fatalf("first page = %s", list.body)
	}
	list = s.do("GET", "/api/v1/invocations?limit=1&cursor="+page.NextCursor, nil)
	list.json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID == id {
		t.Fatalf("second page = %s", list.body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", nil))

	first := s.do("POST", "/invoke/echo", `{"n": 1}`, "Idempotency-Key", "order-42")
	second := s.do("POST", "/invoke/echo", `{"n": 1}`, "Idempotency-Key", "order-42")
	if first.status != http.StatusOK || second.status != http.StatusOK {
		t.Fatalf("statuses %d %d: %s %s", first.status, second.status, first.body, second.body)
	}
	id := first.header.Get("X-Orc-Invocation-Id")
	if second.header.Get("X-Orc-Invocation-Id") != id || string(first.body) != string(second.body) {
		t.Fatalf("retry got another invocation: %v vs %v", first.header, second.header)
	}
	if resp := s.do("POST", "/invoke/echo", `{"n": 2}`, "Idempotency-Key", "order-42"); resp.status != http.StatusConflict {
		t.Fatalf("the key with another body: %d %s", resp.status, resp.body)
	}
	async := s.do("POST", "/invoke/echo", `{"n": 1}`, "Idempotency-Key", "order-42", "Prefer", "respond-async")
	if async.status != http.StatusAccepted || async.header.Get("X-Orc-Invocation-Id") != id {
		t.Fatalf("async retry: %d %v", async.status, async.header)
	}
	list := s.do("GET", "/api/v1/invocations?plugin=echo", nil)
	var page struct {
		Items []orc.Invocation `json:"items"`
	}
	list.json(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("%d invocations recorded for one key, want 1", len(page.Items))
	}
}

func TestInvokeErrors(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Gateway.MaxBodyBytes = 4096 }, false)
	s.register(manifest(t, "processor", nil))
	s.register(manifest(t, "echo", func(m map[string]any) { m["timeout_s"] = 1 }))

	t.Run("schema violations", func(t *testing.T) {
		resp := s.do("POST", "/invoke/example-processor", `{"data": [1, "x", 3, "y"], "operation": "median"}`)
		if resp.status != http.StatusBadRequest {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		e := resp.apiError(t)
		var pointers []string
		for _, d := range e.Error.Details {
			pointers = append(pointers, d.Pointer)
		}
		if e.Error.Code != orc.EINVALID || strings.Join(pointers, " ") != "/data/1 /data/3 /operation" {
			t.Fatalf("error = %s", resp.body)
		}
	})
	t.Run("unknown plugin", func(t *testing.T) {
		resp := s.do("POST", "/invoke/no-such-plugin", `{}`)
		if resp.status != http.StatusNotFound || resp.apiError(t).Error.Code != orc.ENOTFOUND {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	})
	t.Run("malformed json", func(t *testing.T) {
		resp := s.do("POST", "/invoke/echo", `{"a": `)
		if resp.status != http.StatusBadRequest || resp.apiError(t).Error.Code != orc.EINVALID {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	})
	t.Run("too large", func(t *testing.T) {
		resp := s.do("POST", "/invoke/echo", `{"pad": "`+strings.Repeat("x", 5000)+`"}`)
		if resp.status != http.StatusRequestEntityTooLarge || resp.apiError(t).Error.Code != orc.ETOOLARGE {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		resp := s.do("POST", "/invoke/echo", `{}`, "Authorization", "")
		if resp.status != http.StatusUnauthorized || resp.apiError(t).Error.Code != orc.EUNAUTHORIZED {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		resp = s.do("GET", "/api/v1/plugins", nil, "Authorization", "Bearer orc_t_forged")
		if resp.status != http.StatusUnauthorized {
			t.Fatalf("forged token: %d", resp.status)
		}
	})
	t.Run("plugin fails", func(t *testing.T) {
		resp := s.do("POST", "/invoke/echo", `{"fail": "model weights are corrupt", "exit_code": 3}`)
		if resp.status != http.StatusBadGateway {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		e := resp.apiError(t)
		if e.Error.Code != orc.EPLUGIN || !strings.Contains(e.Error.Message, "model weights are corrupt") || e.Error.InvocationID == "" {
			t.Fatalf("error = %s", resp.body)
		}
		inv := s.waitFor(e.Error.InvocationID, time.Second, terminal)
		if inv.Status != orc.StatusFailed {
			t.Fatalf("stored status %s", inv.Status)
		}
		logs := s.do("GET", "/api/v1/invocations/"+inv.ID+"/logs", nil)
		if logs.status != http.StatusOK || !strings.Contains(string(logs.body), "model weights are corrupt") {
			t.Fatalf("logs: %d %s", logs.status, logs.body)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		resp := s.do("POST", "/invoke/echo", `{"sleep_ms": 10000}`)
		if resp.status != http.StatusGatewayTimeout {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		e := resp.apiError(t)
		if e.Error.Code != orc.ETIMEOUT {
			t.Fatalf("error = %s", resp.body)
		}
		inv := s.waitFor(e.Error.InvocationID, time.Second, terminal)
		if inv.Status != orc.StatusTimedOut {
			t.Fatalf("stored status %s", inv.Status)
		}
		if left := containersOf(t, inv.ID); len(left) != 0 {
			t.Fatalf("containers left after timeout: %v", left)
		}
	})
	t.Run("method not allowed", func(t *testing.T) {
		resp := s.do("GET", "/invoke/echo", nil)
		if resp.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", resp.status)
		}
	})
}

func TestRegistryAPI(t *testing.T) {
	s := newStack(t, nil, true)
	m := manifest(t, "echo", func(m map[string]any) {
		m["public"] = true
		m["env"] = map[string]any{"API_KEY": "s3cret"}
	})
	s.register(m)
	delete(m, "env")

	m["version"] = "1.1.0"
	resp := s.do("POST", "/api/v1/plugins/echo/versions", m)
	if resp.status != http.StatusCreated {
		t.Fatalf("new version: %d %s", resp.status, resp.body)
	}
	if resp = s.do("POST", "/api/v1/plugins", m); resp.status != http.StatusConflict {
		t.Fatalf("duplicate version: %d %s", resp.status, resp.body)
	}
	bad := manifest(t, "echo", func(m map[string]any) {
		m["version"] = "2.0.0"
		m["input_schema"] = map[string]any{"type": "nonsense"}
	})
	if resp = s.do("POST", "/api/v1/plugins", bad); resp.status != http.StatusBadRequest {
		t.Fatalf("bad schema: %d %s", resp.status, resp.body)
	}
	owner := manifest(t, "echo", func(m map[string]any) { m["version"] = "3.0.0"; m["owner_id"] = 99 })
	if resp = s.do("POST", "/api/v1/plugins", owner); resp.status != http.StatusBadRequest {
		t.Fatalf("a body naming its owner must be refused: %d %s", resp.status, resp.body)
	}

	var p orc.Plugin
	resp = s.do("GET", "/api/v1/plugins/echo", nil)
	resp.json(t, &p)
	if p.LatestVersion != "1.1.0" || p.Latest == nil || p.Latest.Image == "" {
		t.Fatalf("plugin = %s", resp.body)
	}
	var versions []orc.Version
	s.do("GET", "/api/v1/plugins/echo/versions", nil).json(t, &versions)
	if len(versions) != 2 {
		t.Fatalf("versions = %d", len(versions))
	}

	// Roles: an invoker may not register, and sees no private plugin.
	invoker := s.addUser("carol@example.com", orc.RoleInvoker)
	if resp = s.do("POST", "/api/v1/plugins", m, "Authorization", "Bearer "+invoker); resp.status != http.StatusForbidden {
		t.Fatalf("invoker registers: %d", resp.status)
	}
	if resp = s.do("GET", "/api/v1/plugins/echo/versions/1.0.0", nil, "Authorization", "Bearer "+invoker); resp.status != http.StatusOK || strings.Contains(string(resp.body), "s3cret") {
		t.Fatalf("another user sees the env values of a public plugin: %d %s", resp.status, resp.body)
	}
	if resp = s.do("GET", "/api/v1/plugins/echo/versions/1.0.0", nil); !strings.Contains(string(resp.body), "s3cret") {
		t.Fatalf("the owner does not see the env: %s", resp.body)
	}
	private := manifest(t, "processor", nil)
	s.register(private)
	if resp = s.do("GET", "/api/v1/plugins/example-processor", nil, "Authorization", "Bearer "+invoker); resp.status != http.StatusNotFound {
		t.Fatalf("invoker sees a private plugin: %d", resp.status)
	}
	if resp = s.do("POST", "/invoke/example-processor", `{"data":[1],"operation":"sum"}`, "Authorization", "Bearer "+invoker); resp.status != http.StatusNotFound {
		t.Fatalf("invoker invokes a private plugin: %d", resp.status)
	}

	if resp = s.do("DELETE", "/api/v1/plugins/echo", nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.status, resp.body)
	}
	if resp = s.do("GET", "/api/v1/plugins/echo", nil); resp.status != http.StatusNotFound {
		t.Fatalf("after delete: %d", resp.status)
	}
}

func TestSeedCompatibility(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "processor", nil))

	var me map[string]any
	s.do("GET", "/api/v1/auth/me", nil).json(t, &me)
	if me["email"] != adminEmail || me["role"] != "admin" || me["is_active"] != true {
		t.Fatalf("me = %v", me)
	}
	if resp := s.do("POST", "/api/v1/auth/token", "username=admin@example.com&password=wrong",
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", ""); resp.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.status)
	}

	resp := s.do("POST", "/api/v1/jobs", `{"plugin_name": "example-processor", "input_data": {"data": [1,2,3,4,5], "operation": "sum"}}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("create job: %d %s", resp.status, resp.body)
	}
	var job struct {
		ID         string          `json:"id"`
		Status     string          `json:"status"`
		PluginName string          `json:"plugin_name"`
		OutputData json.RawMessage `json:"output_data"`
	}
	resp.json(t, &job)
	if job.Status != "pending" || job.PluginName != "example-processor" {
		t.Fatalf("job = %s", resp.body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for job.Status != "completed" {
		if time.Now().After(deadline) || job.Status == "failed" {
			t.Fatalf("job = %+v", job)
		}
		time.Sleep(100 * time.Millisecond)
		s.do("GET", "/api/v1/jobs/"+job.ID, nil).json(t, &job)
	}
	if !strings.Contains(string(job.OutputData), `"result":15`) {
		t.Fatalf("output_data = %s", job.OutputData)
	}
	var jobs []map[string]any
	s.do("GET", "/api/v1/jobs", nil).json(t, &jobs)
	if len(jobs) != 1 || jobs[0]["id"] != job.ID {
		t.Fatalf("jobs = %v", jobs)
	}

	// Another user's job is not found, not forbidden.
	other := s.addUser("dave@example.com", orc.RoleInvoker)
	if resp := s.do("GET", "/api/v1/jobs/"+job.ID, nil, "Authorization", "Bearer "+other); resp.status != http.StatusNotFound {
		t.Fatalf("another user's job: %d", resp.status)
	}
	if resp := s.do("POST", "/api/v1/invocations/"+job.ID+"/cancel", nil, "Authorization", "Bearer "+other); resp.status != http.StatusNotFound {
		t.Fatalf("cancel another user's job: %d", resp.status)
	}
}

func TestCancelRunningInvocation(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["timeout_s"] = 60 }))
	resp := s.do("POST", "/invoke/echo", `{"sleep_ms": 30000}`, "Prefer", "respond-async")
	id := resp.header.Get("X-Orc-Invocation-Id")
	s.waitFor(id, 30*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	waitContainers(t, id, 1)
	if resp = s.do("POST", "/api/v1/invocations/"+id+"/cancel", nil); resp.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.status, resp.body)
	}
	inv := s.waitFor(id, time.Second, terminal)
	if inv.Status != orc.StatusCanceled {
		t.Fatalf("status %s", inv.Status)
	}
	waitContainers(t, id, 0)
	if resp = s.do("POST", "/api/v1/invocations/"+id+"/cancel", nil); resp.status != http.StatusConflict {
		t.Fatalf("second cancel: %d", resp.status)
	}
}

// waitContainers waits until an invocation has n containers.
func waitContainers(t *testing.T, id string, n int) {
	t.Helper()
	waitContainersWithin(t, id, n, 15*time.Second)
}

// waitContainersWithin is waitContainers with a limit of the caller's:
// a container that a Ray job starts waits for the job's own start.
func waitContainersWithin(t *testing.T, id string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(containersOf(t, id)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("invocation %s has containers %v, want %d", id, containersOf(t, id), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestHealthMetricsAndOpenAPI(t *testing.T) {
	s := newStack(t, func(c *Config) { c.MetricsToken = "scrape-secret" }, false)
	s.register(manifest(t, "echo", nil))
	if resp := s.do("POST", "/invoke/echo", `{"x": 1}`); resp.status != http.StatusOK {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp := s.do("GET", path, nil, "Authorization", ""); resp.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.status, resp.body)
		}
	}
	if resp := s.do("GET", "/metrics", nil, "Authorization", ""); resp.status != http.StatusUnauthorized {
		t.Fatalf("metrics without a token: %d", resp.status)
	}
	invoker := s.addUser("erin@example.com", orc.RoleInvoker)
	if resp := s.do("GET", "/metrics", nil, "Authorization", "Bearer "+invoker); resp.status != http.StatusForbidden {
		t.Fatalf("metrics for an invoker: %d", resp.status)
	}
	if resp := s.do("GET", "/metrics", nil, "Authorization", "Bearer scrape-secret"); resp.status != http.StatusOK {
		t.Fatalf("metrics with the scrape token: %d", resp.status)
	}
	metrics := string(s.do("GET", "/metrics", nil).body)
	for _, want := range []string{
		`orc_invocations_accepted_total{mode="sync",plugin="echo"} 1`,
		`orc_invocations{plugin="echo",status="succeeded"} 1`,
		`orc_invoke_duration_seconds_count{mode="sync",plugin="echo",status="succeeded"} 1`,
		`orc_queue_depth{pool="default"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var doc map[string]any
	s.do("GET", "/openapi.json", nil).json(t, &doc)
	if doc["openapi"] == nil {
		t.Fatalf("openapi.json = %v", doc)
	}
}

// A client that trickles its request is cut off at the read timeout; a
// synchronous call that runs longer than it, its body sent, is not.
func TestSlowClients(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Gateway.ReadTimeout = time.Second }, false)
	s.register(manifest(t, "echo", nil))
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.gw.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /invoke/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"a\":", s.token)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	io.ReadAll(conn)                                       //nolint:errcheck // until the gateway gives up on it
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a trickled body held its connection for %v", took)
	}
	resp := s.do("POST", "/invoke/echo", `{"sleep_ms": 2500}`)
	if resp.status != http.StatusOK {
		t.Fatalf("a call longer than the read timeout: %d %s", resp.status, resp.body)
	}
}
