package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// newTestClient serves h and returns a client of it with the token "tok".
func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestNewRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "localhost:5900", "ftp://host", "http://", "://x"} {
		if _, err := New(u, ""); err == nil {
			t.Errorf("New(%q) accepted it", u)
		}
	}
	c, err := New("https://orc.example.com/base/", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.InvokeURL("a b"); got != "https://orc.example.com/base/invoke/a%20b" {
		t.Errorf("InvokeURL = %q", got)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/api/v1/auth/token" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("login sent a token: %q", r.Header.Get("Authorization"))
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		if r.FormValue("username") != "ada@example.com" {
			t.Errorf("username = %q", r.FormValue("username"))
		}
		if r.FormValue("password") != "right&pass" {
			writeJSON(w, 401, `{"error": {"code": "unauthorized", "message": "incorrect username or password"}}`)
			return
		}
		writeJSON(w, 200, `{"access_token": "orc_new", "token_type": "bearer", "expires_in": 86400}`)
	})
	ctx := context.Background()
	tok, err := c.Login(ctx, "ada@example.com", "right&pass")
	if err != nil || tok != "orc_new" {
		t.Fatalf("Login = %q, %v", tok, err)
	}
	_, err = c.Login(ctx, "ada@example.com", "wrong")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != orc.EUNAUTHORIZED || ae.Message != "incorrect username or password" {
		t.Fatalf("wrong password: %#v", err)
	}
	if err.Error() != "unauthorized: incorrect username or password" {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestMe(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			writeJSON(w, 401, `{"error": {"code": "unauthorized", "message": "no token"}}`)
			return
		}
		writeJSON(w, 200, `{"id": 7, "email": "ada@example.com", "name": "Ada", "role": "developer", "is_active": true, "auth_method": "token"}`)
	})
	a, err := c.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if *a != (Account{ID: 7, Email: "ada@example.com", Name: "Ada", Role: orc.RoleDeveloper, Active: true, AuthMethod: "token"}) {
		t.Errorf("Me = %+v", a)
	}
}

func TestRegisterPlugin(t *testing.T) {
	t.Parallel()
	manifest := `{"name": "hello", "version": "0.1.0", "docker_image": "orc-hello:0.1.0"}`
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/api/v1/plugins" || !strings.HasPrefix(string(body), `{"name": "hello"`) {
			t.Errorf("request %s %s %s", r.Method, r.URL.Path, body)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		if strings.Contains(string(body), `"0.2.0"`) {
			writeJSON(w, 409, `{"error": {"code": "conflict", "message": "version 0.2.0 of hello exists"}}`)
			return
		}
		writeJSON(w, 201, `{"id": 3, "name": "hello", "version": "0.1.0", "docker_image": "orc-hello:0.1.0", "protocol": "exec", "timeout_s": 60}`)
	})
	v, err := c.RegisterPlugin(context.Background(), json.RawMessage(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != 3 || v.Plugin != "hello" || v.Version != "0.1.0" || v.Protocol != orc.ProtocolExec || v.TimeoutS != 60 {
		t.Errorf("version = %+v", v)
	}
	_, err = c.RegisterPlugin(context.Background(), json.RawMessage(strings.Replace(manifest, "0.1.0", "0.2.0", 1)))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != orc.ECONFLICT {
		t.Fatalf("existing version: %v", err)
	}
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || !strings.HasPrefix(r.URL.Path, "/invoke/") {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		body, _ := io.ReadAll(r.Body)
		h := w.Header()
		switch strings.TrimPrefix(r.URL.Path, "/invoke/") {
		case "sync":
			if r.URL.Query().Get("version") != "1.2.0" || r.Header.Get("Idempotency-Key") != "k1" || r.Header.Get("Prefer") != "" {
				t.Errorf("sync request: %v %v", r.URL.Query(), r.Header)
			}
			h.Set("X-Orc-Invocation-Id", "inv-1")
			h.Set("X-Orc-Version", "1.2.0")
			h.Set("Server-Timing", "queue;dur=1.0, cold;dur=200.5, run;dur=3.0")
			writeJSON(w, 200, string(body))
		case "async":
			if r.Header.Get("Prefer") != "respond-async" {
				t.Errorf("Prefer = %q", r.Header.Get("Prefer"))
			}
			h.Set("X-Orc-Invocation-Id", "inv-2")
			h.Set("X-Orc-Version", "1.0.0")
			h.Set("Location", "/api/v1/invocations/inv-2")
			writeJSON(w, 202, `{"id": "inv-2", "plugin": "async", "version": "1.0.0", "status": "queued", "async": true}`)
		case "failing":
			h.Set("X-Orc-Invocation-Id", "inv-3")
			writeJSON(w, 502, `{"error": {"code": "plugin_failed", "message": "boom", "invocation_id": "inv-3"}}`)
		case "strict":
			writeJSON(w, 400, `{"error": {"code": "invalid", "message": "input does not match the schema",
				"details": [{"pointer": "/name", "message": "missing"}, {"pointer": "/n", "message": "want integer"}]}}`)
		case "proxied":
			w.WriteHeader(502)
			io.WriteString(w, "<html>Bad Gateway</html>\n")
		default:
			writeJSON(w, 404, `{"error": {"code": "not_found", "message": "no plugin"}}`)
		}
	})
	ctx := context.Background()

	res, err := c.Invoke(ctx, "sync", []byte(`{"n":1}`), InvokeOptions{Version: "1.2.0", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || res.InvocationID != "inv-1" || res.Version != "1.2.0" || string(res.Output) != `{"n":1}` ||
		!strings.Contains(res.ServerTiming, "cold;dur=200.5") || res.Invocation != nil {
		t.Errorf("sync result = %+v", res)
	}

	res, err = c.Invoke(ctx, "async", []byte(`{}`), InvokeOptions{Async: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 202 || res.InvocationID != "inv-2" || res.Invocation == nil || res.Invocation.Status != orc.StatusQueued || res.Output != nil {
		t.Errorf("async result = %+v", res)
	}

	tests := []struct {
		plugin string
		status int
		code   string
		id     string
		msg    string
		viol   []Violation
	}{
		{plugin: "failing", status: 502, code: orc.EPLUGIN, id: "inv-3", msg: "boom"},
		{plugin: "strict", status: 400, code: orc.EINVALID, msg: "input does not match the schema",
			viol: []Violation{{"/name", "missing"}, {"/n", "want integer"}}},
		{plugin: "proxied", status: 502, msg: "<html>Bad Gateway</html>"},
		{plugin: "nope", status: 404, code: orc.ENOTFOUND, msg: "no plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			_, err := c.Invoke(ctx, tt.plugin, []byte(`{}`), InvokeOptions{})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if ae.Status != tt.status || ae.Code != tt.code || ae.InvocationID != tt.id || ae.Message != tt.msg {
				t.Errorf("error = %+v", ae)
			}
			if got := ae.Violations(); len(got) != len(tt.viol) || (len(got) > 0 && got[1] != tt.viol[1]) {
				t.Errorf("violations = %+v, want %+v", got, tt.viol)
			}
		})
	}
}

func TestWaitPollsUntilTerminal(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/invocations/inv-1" {
			writeJSON(w, 404, `{"error": {"code": "not_found", "message": "no invocation"}}`)
			return
		}
		switch polls.Add(1) {
		case 1:
			writeJSON(w, 200, `{"id": "inv-1", "status": "queued"}`)
		case 2:
			writeJSON(w, 200, `{"id": "inv-1", "status": "running"}`)
		default:
			writeJSON(w, 200, `{"id": "inv-1", "status": "failed", "error": {"code": "plugin_failed", "message": "boom"}}`)
		}
	})
	ctx := context.Background()
	inv, err := c.Wait(ctx, "inv-1", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != orc.StatusFailed || polls.Load() != 3 {
		t.Fatalf("Wait = %+v after %d polls", inv, polls.Load())
	}
	var ae *APIError
	if err := ResultError(inv); !errors.As(err, &ae) || ae.Code != orc.EPLUGIN || ae.Message != "boom" || ae.InvocationID != "inv-1" {
		t.Errorf("ResultError = %v", err)
	}
	if _, err := c.Wait(ctx, "other", time.Millisecond); !errors.As(err, &ae) || ae.Code != orc.ENOTFOUND {
		t.Errorf("Wait on an unknown invocation = %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Wait(cctx, "inv-1", time.Millisecond); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a canceled context = %v", err)
	}
}

func TestResultError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		inv  orc.Invocation
		code string
		msg  string
	}{
		{"succeeded", orc.Invocation{Status: orc.StatusSucceeded}, "", ""},
		{"timed out", orc.Invocation{Status: orc.StatusTimedOut, Error: &orc.InvocationError{Code: "timeout", Message: "ran past 30s"}}, orc.ETIMEOUT, "ran past 30s"},
		{"canceled", orc.Invocation{Status: orc.StatusCanceled}, orc.ECANCELED, "the invocation was canceled"},
		{"dead without error", orc.Invocation{Status: orc.StatusDead}, orc.EPLUGIN, "the plugin failed"},
		{"still running", orc.Invocation{Status: orc.StatusRunning}, orc.ECONFLICT, "the invocation is still running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ResultError(&tt.inv)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ResultError = %v", err)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tt.code || ae.Message != tt.msg {
				t.Errorf("ResultError = %#v", err)
			}
		})
	}
}

func TestLogsAndCancel(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /api/v1/invocations/inv-1/logs":
			if r.URL.Query().Get("after") != "2" {
				t.Errorf("after = %q", r.URL.Query().Get("after"))
			}
			writeJSON(w, 200, `{"invocation_id": "inv-1", "status": "running",
				"lines": [{"seq": 3, "attempt": 1, "stream": "stderr", "line": "loading"}]}`)
		case "POST /api/v1/invocations/inv-1/cancel":
			writeJSON(w, 200, `{"id": "inv-1", "status": "canceled"}`)
		case "POST /api/v1/invocations/done/cancel":
			writeJSON(w, 409, `{"error": {"code": "conflict", "message": "the invocation already finished"}}`)
		default:
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
	})
	ctx := context.Background()
	lines, status, err := c.Logs(ctx, "inv-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if status != orc.StatusRunning || len(lines) != 1 || lines[0].Seq != 3 || lines[0].Stream != "stderr" || lines[0].Line != "loading" {
		t.Errorf("Logs = %+v %s", lines, status)
	}
	inv, err := c.Cancel(ctx, "inv-1")
	if err != nil || inv.Status != orc.StatusCanceled {
		t.Errorf("Cancel = %+v, %v", inv, err)
	}
	var ae *APIError
	if _, err := c.Cancel(ctx, "done"); !errors.As(err, &ae) || ae.Code != orc.ECONFLICT {
		t.Errorf("Cancel of a finished invocation = %v", err)
	}
	if _, _, err := c.Logs(ctx, "", 0); err == nil {
		t.Error("Logs without an id succeeded")
	}
}

func TestWithOptions(t *testing.T) {
	t.Parallel()
	var ua atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.Header.Get("User-Agent"))
		writeJSON(w, 200, `{"id": 1}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "", WithUserAgent("orc-cli/test"), WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ua.Load() != "orc-cli/test" {
		t.Errorf("User-Agent = %v", ua.Load())
	}
}
