package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/store/postgres"
)

// orcBinary is the orc binary built for tests that run a worker as a
// separate process (to kill it).
var orcBinary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "orc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	orcBinary = filepath.Join(dir, "orc")
	return m.Run()
}

// buildOrc builds the orc binary once, for the tests that need a process.
func buildOrc(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(orcBinary); err == nil {
		return orcBinary
	}
	out, err := exec.Command("go", "build", "-o", orcBinary, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build orc: %v\n%s", err, out)
	}
	return orcBinary
}

// stack is a gateway and a worker on real PostgreSQL, RabbitMQ and Docker,
// with their own database and queue names.
type stack struct {
	t      testing.TB
	cfg    Config
	gw     *Gateway
	worker *Worker
	stopW  context.CancelFunc
	// stopGateway stops the gateway as SIGTERM does and returns what its
	// Run returned.
	stopGateway func() error
	wdone       chan error
	token       string
	db          *postgres.DB
	// tracing is the gateway's and worker's tracer provider; nil: off.
	tracing trace.TracerProvider
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin123"
)

// testLogger logs to the test's output, at debug level with -v.
func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		// Benchmarks print every log line; keep them to problems.
		return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newStack starts a gateway and, unless noWorker, an in-process worker.
func newStack(t testing.TB, change func(*Config), noWorker bool) *stack {
	t.Helper()
	return newTracedStack(t, change, noWorker, nil)
}

// newTracedStack is newStack whose gateway and worker trace with tp.
func newTracedStack(t testing.TB, change func(*Config), noWorker bool, tp trace.TracerProvider) *stack {
	t.Helper()
	testenv.Docker(t)
	cfg := DefaultConfig()
	cfg.DatabaseURL = testenv.DatabaseURL(t)
	cfg.AMQPURL = testenv.AMQPURL(t)
	cfg.QueuePrefix = "orct-" + testenv.Suffix()
	cfg.Gateway.Addr = "127.0.0.1:0"
	cfg.Gateway.Migrate = true
	cfg.Gateway.AdminEmail, cfg.Gateway.AdminPassword = adminEmail, adminPassword
	cfg.Gateway.SyncGrace = 20 * time.Second
	cfg.Gateway.ShutdownDelay = 0
	cfg.Worker.MetricsAddr = ""
	cfg.Worker.Concurrency = 4
	cfg.Worker.Drain = 30 * time.Second
	if change != nil {
		change(&cfg)
	}
	s := &stack{t: t, cfg: cfg, tracing: tp}
	s.startGateway(cfg)
	s.db = s.gw.DB
	if !noWorker {
		s.startWorker()
	}
	s.token = s.login(adminEmail, adminPassword)
	return s
}

// startGateway runs an in-process gateway until the test ends or
// s.stopGateway is called.
func (s *stack) startGateway(cfg Config) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw := &Gateway{Config: cfg, Logger: testLogger(t), Tracing: s.tracing}
	if err := gw.Open(ctx); err != nil {
		t.Fatalf("open gateway: %v", err)
	}
	gctx, stopG := context.WithCancel(context.Background())
	gdone := make(chan error, 1)
	go func() { gdone <- gw.Run(gctx) }()
	var stopOnce sync.Once
	var runErr error
	stop := func() error {
		stopOnce.Do(func() { stopG(); runErr = <-gdone })
		return runErr
	}
	t.Cleanup(func() {
		stop() //nolint:errcheck // the tests that stop it check
		if err := gw.Broker.DeleteTopology(context.Background()); err != nil {
			t.Logf("delete topology: %v", err)
		}
		gw.Close()
	})
	if err := gw.Broker.WaitReady(ctx); err != nil {
		t.Fatalf("gateway broker: %v", err)
	}
	s.gw, s.stopGateway = gw, stop
}

// restartGateway starts a new gateway on the address of the one stopped.
func (s *stack) restartGateway(url string) {
	cfg := s.cfg
	cfg.Gateway.Addr = strings.TrimPrefix(url, "http://")
	cfg.Gateway.Migrate = false
	s.startGateway(cfg)
}

// startWorker runs an in-process worker until the test ends.
func (s *stack) startWorker() { s.startWorkerWith(nil) }

// startWorkerWith runs an in-process worker, changed by change (when not
// nil) between Open and Run, until the test ends.
func (s *stack) startWorkerWith(change func(*Worker)) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.worker = &Worker{Config: s.cfg, Logger: testLogger(t), Tracing: s.tracing}
	if err := s.worker.Open(ctx); err != nil {
		t.Fatalf("open worker: %v", err)
	}
	if change != nil {
		change(s.worker)
	}
	wctx, stop := context.WithCancel(context.Background())
	s.stopW, s.wdone = stop, make(chan error, 1)
	go func() { s.wdone <- s.worker.Run(wctx) }()
	t.Cleanup(func() {
		stop()
		<-s.wdone
		if err := s.worker.Broker.DeleteTopology(context.Background()); err != nil {
			t.Logf("delete topology: %v", err)
		}
		s.worker.Close()
	})
	if err := s.worker.Broker.WaitReady(ctx); err != nil {
		t.Fatalf("worker broker: %v", err)
	}
}

// workerProcess runs `orc worker` as a separate process of the stack, with
// the given flags besides the stack's.
func (s *stack) workerProcess(flags ...string) *exec.Cmd {
	t := s.t
	t.Helper()
	bin := buildOrc(t)
	cmd := exec.Command(bin, append([]string{"worker", "--metrics-addr=", "--concurrency=2"}, flags...)...)
	cmd.Env = append(os.Environ(),
		"ORC_DATABASE_URL="+s.cfg.DatabaseURL,
		"ORC_AMQP_URL="+s.cfg.AMQPURL,
		"ORC_QUEUE_PREFIX="+s.cfg.QueuePrefix,
		"ORC_LOG_LEVEL=debug",
	)
	cmd.Stdout, cmd.Stderr = tlogWriter{t}, tlogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker process: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiError decodes the API's error shape.
func (r *response) apiError(t testing.TB) errorBodyForTest {
	t.Helper()
	var e errorBodyForTest
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body without code or message: %s", r.body)
	}
	return e
}

type errorBodyForTest struct {
	Error struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		InvocationID string `json:"invocation_id"`
		Details      []struct {
			Pointer string `json:"pointer"`
			Message string `json:"message"`
			Rule    string `json:"rule"`
		} `json:"details"`
	} `json:"error"`
}

// do sends a request with the stack's admin token unless headers say
// otherwise ("Authorization": "" sends none).
func (s *stack) do(method, path string, body any, headers ...string) *response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.gw.URL()+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

// login signs in with the seed's form-encoded token request.
func (s *stack) login(email, pw string) string {
	s.t.Helper()
	resp, err := http.PostForm(s.gw.URL()+"/api/v1/auth/token", url.Values{"username": {email}, "password": {pw}})
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("login %s: %d %s", email, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" || tok.TokenType != "bearer" {
		s.t.Fatalf("token response: %v %+v", err, tok)
	}
	return tok.AccessToken
}

// addUser creates a local account and returns its token.
func (s *stack) addUser(email string, role orc.Role) string {
	s.t.Helper()
	hash, err := identity.HashPassword("password-" + email)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.db.CreateUser(context.Background(), &orc.User{Email: email, Role: role, PasswordHash: hash}); err != nil {
		s.t.Fatal(err)
	}
	return s.login(email, "password-"+email)
}

// manifest reads an example plugin's plugin.json and applies changes.
func manifest(t testing.TB, plugin string, change func(m map[string]any)) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "plugins", plugin, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	testenv.Image(t, m["docker_image"].(string))
	if change != nil {
		change(m)
	}
	return m
}

// register registers a plugin version and fails the test unless it is 201.
func (s *stack) register(m map[string]any) {
	s.t.Helper()
	resp := s.do("POST", "/api/v1/plugins", m)
	if resp.status != http.StatusCreated {
		s.t.Fatalf("register %v: %d %s", m["name"], resp.status, resp.body)
	}
}

// waitFor polls an invocation until cond holds or the time is up.
func (s *stack) waitFor(id string, limit time.Duration, cond func(inv *orc.Invocation) bool) *orc.Invocation {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp := s.do("GET", "/api/v1/invocations/"+id, nil)
		if resp.status != http.StatusOK {
			s.t.Fatalf("get invocation: %d %s", resp.status, resp.body)
		}
		var inv orc.Invocation
		resp.json(s.t, &inv)
		if cond(&inv) {
			return &inv
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("invocation %s still %s after %s", id, inv.Status, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func terminal(inv *orc.Invocation) bool { return inv.Status.Terminal() }

// containersOf lists the containers, running or not, of an invocation.
func containersOf(t testing.TB, id string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=orc.invocation="+id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	return strings.Fields(string(out))
}
