package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGateway answers the author commands' API calls the way the gateway
// does, for one account (ada@example.com / pw) and one plugin, hello.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	versions map[string]bool
	polls    int // GETs of the async invocation so far
	logReads int
}

const fakeToken = "orc_fake"

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	g := &fakeGateway{t: t, versions: map[string]bool{"0.0.1": true}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/token", g.token)
	mux.Handle("GET /api/v1/auth/me", g.authed(g.me))
	mux.Handle("POST /api/v1/plugins", g.authed(g.register))
	mux.Handle("POST /invoke/{plugin}", g.authed(g.invoke))
	mux.Handle("GET /api/v1/invocations/{id}", g.authed(g.invocation))
	mux.Handle("GET /api/v1/invocations/{id}/logs", g.authed(g.logs))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func fakeError(w http.ResponseWriter, status int, code, msg, id string) {
	w.Header().Set("Content-Type", "application/json")
	if id != "" {
		w.Header().Set("X-Orc-Invocation-Id", id)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": {"code": %q, "message": %q, "invocation_id": %q}}`, code, msg, id)
}

func fakeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (g *fakeGateway) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			fakeError(w, 401, "unauthorized", "invalid or expired token", "")
			return
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "orc-cli/") {
			g.t.Errorf("User-Agent = %q", ua)
		}
		h(w, r)
	})
}

func (g *fakeGateway) token(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("username") != "ada@example.com" || r.FormValue("password") != "pw" {
		fakeError(w, 401, "unauthorized", "incorrect username or password", "")
		return
	}
	fakeJSON(w, 200, `{"access_token": "`+fakeToken+`", "token_type": "bearer", "expires_in": 86400}`)
}

func (g *fakeGateway) me(w http.ResponseWriter, r *http.Request) {
	fakeJSON(w, 200, `{"id": 1, "email": "ada@example.com", "role": "developer", "is_active": true, "auth_method": "token"}`)
}

func (g *fakeGateway) register(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Image   string `json:"docker_image"`
	}
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		fakeError(w, 400, "invalid", "malformed JSON body", "")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.versions[m.Version] {
		fakeError(w, 409, "conflict", fmt.Sprintf("version %s of %s exists", m.Version, m.Name), "")
		return
	}
	g.versions[m.Version] = true
	fakeJSON(w, 201, fmt.Sprintf(`{"id": 2, "name": %q, "version": %q, "docker_image": %q, "protocol": "exec", "timeout_s": 30}`,
		m.Name, m.Version, m.Image))
}

func (g *fakeGateway) invoke(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("plugin") != "hello" {
		fakeError(w, 404, "not_found", "plugin not found", "")
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	switch {
	case in.Name == "":
		fakeJSON(w, 400, `{"error": {"code": "invalid", "message": "the input does not match the plugin's input_schema",
			"details": [{"pointer": "/name", "message": "minLength: got 0, want 1"}]}}`)
		return
	case in.Name == "boom":
		fakeError(w, 502, "plugin_failed", "boom went the plugin", "inv-failed")
		return
	}
	w.Header().Set("X-Orc-Version", "0.1.0")
	if r.Header.Get("Prefer") == "respond-async" {
		w.Header().Set("X-Orc-Invocation-Id", "inv-async")
		w.Header().Set("Location", "/api/v1/invocations/inv-async")
		fakeJSON(w, 202, `{"id": "inv-async", "plugin": "hello", "version": "0.1.0", "status": "queued", "async": true}`)
		return
	}
	w.Header().Set("X-Orc-Invocation-Id", "inv-sync")
	w.Header().Set("Server-Timing", "queue;dur=1.5, cold;dur=250.0, run;dur=3.2")
	fakeJSON(w, 200, fmt.Sprintf(`{"greeting":"Hello, %s!"}`, in.Name))
}

// invocation answers queued, then running, then succeeded.
func (g *fakeGateway) invocation(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != "inv-async" {
		fakeError(w, 404, "not_found", "invocation not found", "")
		return
	}
	g.mu.Lock()
	g.polls++
	n := g.polls
	g.mu.Unlock()
	switch n {
	case 1:
		fakeJSON(w, 200, `{"id": "inv-async", "plugin": "hello", "version": "0.1.0", "status": "queued"}`)
	case 2:
		fakeJSON(w, 200, `{"id": "inv-async", "plugin": "hello", "version": "0.1.0", "status": "running"}`)
	default:
		fakeJSON(w, 200, `{"id": "inv-async", "plugin": "hello", "version": "0.1.0", "status": "succeeded",
			"output": {"greeting": "Hello, Grace!"}, "cold_start": true, "timing": {"queue_ms": 2, "cold_ms": 300, "run_ms": 4}}`)
	}
}

// logs answers two lines while the invocation runs, then a line of a
// second attempt and the end.
func (g *fakeGateway) logs(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.logReads++
	n := g.logReads
	g.mu.Unlock()
	after := r.URL.Query().Get("after")
	switch {
	case n == 1 && after == "":
		fakeJSON(w, 200, `{"invocation_id": "inv-async", "status": "running", "lines": [
			{"seq": 1, "attempt": 1, "stream": "orc", "line": "container started"},
			{"seq": 2, "attempt": 1, "stream": "stderr", "line": "greeting Grace"}]}`)
	case n == 2 && after == "2":
		fakeJSON(w, 200, `{"invocation_id": "inv-async", "status": "running", "lines": []}`)
	case n == 3 && after == "2":
		fakeJSON(w, 200, `{"invocation_id": "inv-async", "status": "succeeded", "lines": [
			{"seq": 3, "attempt": 2, "stream": "stderr", "line": "greeting Grace again"}]}`)
	default:
		g.t.Errorf("logs read %d with after=%q", n, after)
		fakeJSON(w, 200, `{"status": "succeeded", "lines": []}`)
	}
}

// cliEnv returns an environment that points the author commands at a
// config file of the test's own (which does not exist yet) and sets
// nothing else.
func cliEnv(t *testing.T) Env {
	t.Helper()
	return Env{ConfigPath: filepath.Join(t.TempDir(), "orc", "config.json")}
}

// signedIn writes a config file signed in to g and returns the environment
// that uses it.
func signedIn(t *testing.T, g *fakeGateway) Env {
	t.Helper()
	env := cliEnv(t)
	if err := saveConfig(env.ConfigPath, config{URL: g.srv.URL, Token: fakeToken}); err != nil {
		t.Fatal(err)
	}
	return env
}

// runCLI runs an author command line in env as the orc binary does and
// returns its exit code and output. The binary's run (cmd/orc) maps the command's
// error to the exit code as here: nil and flag.ErrHelp to 0, ErrUsage to 2,
// anything else to 1 with "orc: " and the error on stderr; cmd/orc's
// TestRunAuthorCommands holds it to that.
func runCLI(t *testing.T, env Env, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx := context.Background()
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "login":
		err = Login(ctx, env, rest, os.Stdin, &stdout, &stderr)
	case "plugin":
		err = Plugin(ctx, env, rest, &stdout, &stderr)
	case "invoke":
		err = Invoke(ctx, env, rest, os.Stdin, &stdout, &stderr)
	case "logs":
		err = Logs(ctx, env, rest, &stdout, &stderr)
	default:
		t.Fatalf("runCLI: %q is not an author command", cmd)
	}
	code := 0
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, ErrUsage):
		code = 2
	default:
		code = 1
		fmt.Fprintf(&stderr, "orc: %v\n", err)
	}
	return code, stdout.String(), stderr.String()
}

func TestLoginSavesTheToken(t *testing.T) {
	g := newFakeGateway(t)
	env := cliEnv(t)
	env.Password = "pw"
	code, out, errOut := runCLI(t, env, "login", "--url", g.srv.URL+"/", "--email", "ada@example.com")
	if code != 0 {
		t.Fatalf("login: exit %d: %s", code, errOut)
	}
	if want := "Signed in to " + g.srv.URL + " as ada@example.com (developer).\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	st, err := os.Stat(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", st.Mode().Perm())
	}
	saved, _, err := loadConfig(env)
	if err != nil || saved != (config{URL: g.srv.URL, Token: fakeToken}) {
		t.Errorf("saved %+v, %v", saved, err)
	}

	env.Password = "wrong"
	code, _, errOut = runCLI(t, env, "login", "--url", g.srv.URL, "--email", "ada@example.com", "--json")
	if code != 1 || !strings.Contains(errOut, "incorrect username or password") {
		t.Errorf("wrong password: exit %d: %s", code, errOut)
	}
	if saved2, _, _ := loadConfig(env); saved2 != saved {
		t.Errorf("a failed login changed the config: %+v", saved2)
	}
}

func TestLoginPasswordStdin(t *testing.T) {
	g := newFakeGateway(t)
	env := cliEnv(t)
	env.Password = "wrong" // --password-stdin wins over ORC_PASSWORD
	var stdout, stderr bytes.Buffer
	err := Login(context.Background(), env, []string{"--url", g.srv.URL, "--email", "ada@example.com", "--password-stdin", "--json"},
		strings.NewReader("pw\n"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("login: %v %s", err, stderr.String())
	}
	var res struct{ URL, Email, Role string }
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Email != "ada@example.com" || res.Role != "developer" {
		t.Errorf("--json printed %q (%v)", stdout.String(), err)
	}
}

func TestLoginUsage(t *testing.T) {
	env := cliEnv(t)
	tests := []struct {
		name string
		args []string
		err  error // ErrUsage, flag.ErrHelp, or nil for any other error
		msg  string
	}{
		{"no email off a terminal", []string{"--url", "http://127.0.0.1:1", "--password-stdin"}, ErrUsage, "--email is required"},
		{"an argument", []string{"extra"}, ErrUsage, "unexpected arguments: extra"},
		{"no password", []string{"--url", "http://127.0.0.1:1", "--email", "a@b"}, nil, "no password: set ORC_PASSWORD"},
		{"sso unreachable", []string{"--sso", "--url", "http://127.0.0.1:1"}, nil, "check single sign-on"},
		{"sso not configured", []string{"--sso", "--url", newFakeGateway(t).srv.URL}, nil, "no single sign-on configured"},
		{"help", []string{"-h"}, flag.ErrHelp, "Usage: orc login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Standard input is not a terminal, so nothing is asked for.
			var stdout, stderr bytes.Buffer
			err := Login(context.Background(), env, tt.args, strings.NewReader(""), &stdout, &stderr)
			if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if text := stderr.String() + err.Error(); !strings.Contains(text, tt.msg) {
				t.Errorf("%q does not say %q", text, tt.msg)
			}
		})
	}
}

func TestCommandsNeedASignIn(t *testing.T) {
	code, _, errOut := runCLI(t, cliEnv(t), "invoke", "hello", "--url", "http://orc.example.com:5900")
	if code != 1 || !strings.Contains(errOut, "not signed in to http://orc.example.com:5900: run orc login --url http://orc.example.com:5900") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}

	// A token saved for one gateway is not sent to another.
	g := newFakeGateway(t)
	env := signedIn(t, g)
	other := newFakeGateway(t)
	code, _, errOut = runCLI(t, env, "invoke", "hello", "--url", other.srv.URL)
	if code != 1 || !strings.Contains(errOut, "not signed in to "+other.srv.URL) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// ORC_TOKEN is sent to whichever gateway is named.
	env.Token = fakeToken
	env.URL = other.srv.URL
	if code, out, errOut := runCLI(t, env, "invoke", "hello", "-d", `{"name": "Env"}`); code != 0 || !strings.Contains(out, "Hello, Env!") {
		t.Errorf("ORC_TOKEN and ORC_URL: exit %d, %q %q", code, out, errOut)
	}
	env.Token = "stale"
	if code, _, errOut := runCLI(t, env, "invoke", "hello"); code != 1 || !strings.Contains(errOut, "sign in again with: orc login") {
		t.Errorf("a stale token: exit %d, %q", code, errOut)
	}
}

func TestDeploy(t *testing.T) {
	g := newFakeGateway(t)
	env := signedIn(t, g)
	dir := t.TempDir()
	manifest := `{"name": "hello", "version": "0.1.0", "docker_image": "orc-hello:0.1.0"}`
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, env, "plugin", "deploy", dir)
	if code != 0 {
		t.Fatalf("deploy: exit %d: %s", code, errOut)
	}
	want := "Deployed hello 0.1.0 (image orc-hello:0.1.0, protocol exec).\nEndpoint: POST " + g.srv.URL + "/invoke/hello\n"
	if out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}

	code, out, errOut = runCLI(t, env, "plugin", "deploy", "--json", dir)
	if code != 1 || !strings.Contains(errOut, `bump "version" in `+filepath.Join(dir, "plugin.json")) {
		t.Errorf("second deploy: exit %d, stderr %q", code, errOut)
	}
	var e errorJSON
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Error.Code != "conflict" || e.Error.Status != 409 {
		t.Errorf("--json error = %q (%v)", out, err)
	}

	if code, _, errOut := runCLI(t, env, "plugin", "deploy", t.TempDir()); code != 1 || !strings.Contains(errOut, "read plugin.json") {
		t.Errorf("no plugin.json: exit %d, %q", code, errOut)
	}
}

func TestInvokeOutput(t *testing.T) {
	g := newFakeGateway(t)
	env := signedIn(t, g)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{name: "sync", args: []string{"invoke", "hello", "-d", `{"name": "Ada"}`}, stdout: "{\n  \"greeting\": \"Hello, Ada!\"\n}\n",
			stderr: []string{"invocation inv-sync (hello 0.1.0): queue 1.5ms, cold 250ms, run 3.2ms"}},
		{name: "sync json", args: []string{"invoke", "--json", "hello", "-d", `{"name": "Ada"}`},
			stdout: `{"invocation_id":"inv-sync","version":"0.1.0","output":{"greeting":"Hello, Ada!"},"server_timing":"queue;dur=1.5, cold;dur=250.0, run;dur=3.2"}` + "\n"},
		{name: "async", args: []string{"invoke", "hello", "-d", `{"name": "Grace"}`, "--async"}, stdout: "inv-async\n",
			stderr: []string{"orc logs -f inv-async"}},
		{name: "wait", args: []string{"invoke", "hello", "-d", `{"name": "Grace"}`, "--async", "--wait", "--poll", "1ms"},
			stdout: "{\n  \"greeting\": \"Hello, Grace!\"\n}\n",
			stderr: []string{"invocation inv-async (hello 0.1.0) succeeded, cold start: queue 2.0ms, cold 300ms, run 4.0ms"}},
		{name: "schema violation", args: []string{"invoke", "hello", "-d", `{"name": ""}`}, code: 1,
			stderr: []string{"orc: invalid: the input does not match the plugin's input_schema\n  /name: minLength: got 0, want 1\n"}},
		{name: "plugin failed", args: []string{"invoke", "hello", "-d", `{"name": "boom"}`}, code: 1,
			stderr: []string{"plugin_failed: boom went the plugin", "invocation inv-failed (its logs: orc logs inv-failed)"}},
		{name: "plugin failed json", args: []string{"invoke", "--json", "hello", "-d", `{"name": "boom"}`}, code: 1,
			stdout: `{"error":{"status":502,"code":"plugin_failed","message":"boom went the plugin","invocation_id":"inv-failed"}}` + "\n"},
		{name: "unknown plugin", args: []string{"invoke", "nope"}, code: 1, stderr: []string{"not_found: plugin not found"}},
		{name: "not JSON", args: []string{"invoke", "hello", "-d", "{name}"}, code: 2, stderr: []string{"the input is not JSON"}},
		{name: "no name", args: []string{"invoke", "-d", "{}"}, code: 2, stderr: []string{"missing plugin NAME"}},
		{name: "two names", args: []string{"invoke", "a", "b"}, code: 2, stderr: []string{"unexpected arguments: b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.mu.Lock()
			g.polls = 0
			g.mu.Unlock()
			code, out, errOut := runCLI(t, env, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			if out != tt.stdout {
				t.Errorf("stdout = %q, want %q", out, tt.stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q does not say %q", errOut, s)
				}
			}
		})
	}
}

func TestInvokeInputFromStdin(t *testing.T) {
	g := newFakeGateway(t)
	env := signedIn(t, g)
	var stdout, stderr bytes.Buffer
	err := Invoke(context.Background(), env, []string{"hello", "-d", "@-", "--json"}, strings.NewReader(`{"name": "Stdin"}`), &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), `"output":{"greeting":"Hello, Stdin!"}`) {
		t.Errorf("invoke -d @-: %v, %q %q", err, stdout.String(), stderr.String())
	}
}

func TestLogsFollow(t *testing.T) {
	g := newFakeGateway(t)
	code, out, errOut := runCLI(t, signedIn(t, g), "logs", "-f", "inv-async", "--poll", "1ms")
	if code != 0 {
		t.Fatalf("logs -f: exit %d: %s", code, errOut)
	}
	want := "orc     container started\nstderr  greeting Grace\n--- attempt 2\nstderr  greeting Grace again\n"
	if out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if errOut != "invocation inv-async succeeded\n" {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestLogsOnceAndJSON(t *testing.T) {
	g := newFakeGateway(t)
	env := signedIn(t, g)
	code, out, errOut := runCLI(t, env, "logs", "--json", "inv-async")
	if code != 0 {
		t.Fatalf("logs: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first struct {
		Seq    int    `json:"seq"`
		Stream string `json:"stream"`
		Line   string `json:"line"`
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || first.Seq != 1 || first.Line != "container started" {
		t.Errorf("--json printed %q", out)
	}
	if code, _, errOut := runCLI(t, env, "logs"); code != 2 || !strings.Contains(errOut, "missing INVOCATION id") {
		t.Errorf("no id: exit %d, %q", code, errOut)
	}
}

func TestPluginUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"plugin"}, 2, "Usage: orc plugin <command>"},
		{[]string{"plugin", "publish"}, 2, `unknown command "publish"`},
		{[]string{"plugin", "build", "a", "b"}, 2, "unexpected arguments: b"},
		{[]string{"plugin", "build", t.TempDir()}, 1, "read plugin.json"},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, Env{}, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.msg)
		}
	}
}
