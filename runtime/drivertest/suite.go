package drivertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// Run runs the suite against the harness's driver.
func Run(t *testing.T, h Harness) {
	if testing.Short() {
		t.Skip("integration test against a container engine (-short)")
	}
	BuildProbe(t, h.CLI)
	s := &suite{h: h, e: engine{cli: h.CLI}}
	s.d = h.New(t, Limits{})
	s.capped = h.New(t, Limits{Stdout: 4096, Stderr: 1000})
	info, err := s.d.Fingerprint(context.Background())
	if err != nil || info.Name != h.Name || info.Version == "" || !info.Healthy {
		t.Fatalf("Fingerprint = %+v, %v; want a healthy %s with a version", info, err, h.Name)
	}
	// First, alone: it removes every exited container of the
	// installation, which the parallel tests must not lose.
	t.Run("ReapExited", s.reapExited)
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"Exec", s.exec},
		{"Hardened", s.hardened},
		{"Labels", s.labels},
		{"EndsEarly", s.endsEarly},
		{"OutputCaps", s.outputCaps},
		{"Streaming", s.streaming},
		{"OOM", s.oom},
		{"Errors", s.errors},
		{"Reap", s.reap},
		{"ReapExpired", s.reapExpired},
		{"Servers", s.servers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t)
		})
	}
}

type suite struct {
	h         Harness
	e         engine
	d, capped Driver
}

func (s *suite) exec(t *testing.T) {
	big := bytes.Repeat([]byte(`{"k":"0123456789abcdef"}`+"\n"), 1<<16) // 1.5 MiB
	input := `{"text": "it's a \"quoted\" input", "n": [1, 2]}`
	tests := []struct {
		name  string
		args  []string
		stdin []byte
		env   map[string]string
		check func(t *testing.T, res *orc.ContainerResult)
	}{
		{name: "stdin round trip", args: []string{"stdin"}, stdin: []byte(input),
			check: func(t *testing.T, res *orc.ContainerResult) { wantOutput(t, res, 0, input, "") }},
		{name: "large stdin", args: []string{"stdin"}, stdin: big,
			check: func(t *testing.T, res *orc.ContainerResult) {
				if !bytes.Equal(res.Stdout, big) {
					t.Errorf("stdout is %d bytes, want the %d bytes of stdin", len(res.Stdout), len(big))
				}
			}},
		{name: "no stdin", args: []string{"stdin"},
			check: func(t *testing.T, res *orc.ContainerResult) { wantOutput(t, res, 0, "", "") }},
		{name: "input as last arg", args: []string{"args", "first", input}, stdin: []byte(input),
			check: func(t *testing.T, res *orc.ContainerResult) {
				var got []string
				if err := json.Unmarshal(res.Stdout, &got); err != nil {
					t.Fatalf("stdout %q: %v", res.Stdout, err)
				}
				if want := []string{"first", input}; !slices.Equal(got, want) {
					t.Errorf("args = %q, want %q", got, want)
				}
			}},
		{name: "non-zero exit and stderr", args: []string{"fail", "7", "model file is missing"},
			check: func(t *testing.T, res *orc.ContainerResult) { wantOutput(t, res, 7, "", "model file is missing\n") }},
		{name: "zero exit with stderr", args: []string{"fail", "0", "just a log line"},
			check: func(t *testing.T, res *orc.ContainerResult) { wantOutput(t, res, 0, "", "just a log line\n") }},
		{name: "env", args: []string{"sandbox"}, env: map[string]string{"ORC_TEST": "1"},
			check: func(t *testing.T, res *orc.ContainerResult) {
				if r := sandboxReport(t, res); r.Home != "/tmp" {
					t.Errorf("HOME = %q, want /tmp", r.Home)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := &orc.ContainerSpec{InvocationID: InvocationID(t), Attempt: 1, Image: ProbeImage,
				Args: tt.args, Stdin: tt.stdin, Env: tt.env}
			res := run(t, s.d, context.Background(), spec)
			if res.TimedOut || res.Canceled || res.OOMKilled {
				t.Errorf("result = %+v, want a plain exit", res)
			}
			if res.Cold <= 0 || res.Run <= 0 {
				t.Errorf("cold = %v, run = %v, want both > 0", res.Cold, res.Run)
			}
			tt.check(t, res)
			s.e.wantRemoved(t, spec.InvocationID)
		})
	}
}

// wantHardened checks a sandbox report against the plugin container
// protocol's hardening.
func wantHardened(t *testing.T, r Report, interfaces []string, pids, memory int64) {
	t.Helper()
	if r.UID != 65534 || r.GID != 65534 {
		t.Errorf("uid:gid = %d:%d, want 65534:65534", r.UID, r.GID)
	}
	if !r.EtcRO {
		t.Errorf("writing /etc: %q, want a read-only file system", r.EtcWrite)
	}
	if r.TmpWrite != "" {
		t.Errorf("writing /tmp: %s", r.TmpWrite)
	}
	for _, opt := range []string{"rw", "nosuid", "noexec", "nodev", "size=65536k"} {
		if !slices.Contains(strings.Split(r.TmpMount, ","), opt) {
			t.Errorf("/tmp mount options %q lack %q", r.TmpMount, opt)
		}
	}
	slices.Sort(r.Interfaces)
	if !slices.Equal(r.Interfaces, interfaces) {
		t.Errorf("network interfaces = %q, want %q", r.Interfaces, interfaces)
	}
	if r.CapEff != "0000000000000000" {
		t.Errorf("effective capabilities = %s, want none", r.CapEff)
	}
	if r.NoNewPrivs != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", r.NoNewPrivs)
	}
	if r.PidsMax != fmt.Sprint(pids) {
		t.Errorf("pids limit = %q, want %d", r.PidsMax, pids)
	}
	if r.MemoryMax != fmt.Sprint(memory) {
		t.Errorf("memory limit = %q, want %d", r.MemoryMax, memory)
	}
}

func (s *suite) hardened(t *testing.T) {
	tests := []struct {
		name       string
		network    orc.Network
		resources  orc.Resources
		interfaces []string
		pids       int64
		memory     int64
	}{
		{name: "defaults", interfaces: []string{"lo"}, pids: orc.DefaultPids, memory: orc.DefaultMemoryMB << 20},
		{name: "resources and bridge", network: orc.NetworkBridge, resources: orc.Resources{CPU: 0.5, MemoryMB: 96, Pids: 32},
			interfaces: []string{"eth0", "lo"}, pids: 32, memory: 96 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, s.d, context.Background(), &orc.ContainerSpec{InvocationID: InvocationID(t), Image: ProbeImage,
				Args: []string{"sandbox"}, Network: tt.network, Resources: tt.resources})
			wantHardened(t, sandboxReport(t, res), tt.interfaces, tt.pids, tt.memory)
		})
	}
}

// labels checks a running container's labels through the engine, then
// cancels its run.
func (s *suite) labels(t *testing.T) {
	spec := &orc.ContainerSpec{
		InvocationID: InvocationID(t), Attempt: 3, Image: ProbeImage, Args: []string{"sleep", "60000"},
		Labels: map[string]string{"team": "ml", LabelManaged: "false"}, // must not hide it from Reap
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *orc.ContainerResult, 1)
	go func() {
		res, err := s.d.Run(ctx, spec)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- res
	}()
	labels := s.e.labels(t, s.e.waitRunning(t, spec.InvocationID))
	want := map[string]string{LabelManaged: "true", LabelInvocation: spec.InvocationID, LabelAttempt: "3",
		LabelInstallation: s.h.Installation, "team": "ml"}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
	cancel()
	select {
	case res := <-done:
		if res != nil && (!res.Canceled || res.TimedOut) {
			t.Errorf("canceled = %v, timed out = %v; want canceled", res.Canceled, res.TimedOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after cancel")
	}
	s.e.wantRemoved(t, spec.InvocationID)
}

func (s *suite) endsEarly(t *testing.T) {
	tests := []struct {
		name     string
		after    time.Duration
		deadline bool // a deadline rather than a cancel
	}{
		{"timeout", time.Second, true},
		{"cancel", time.Second, false},
		{"timeout before start", 0, true},
		{"cancel before start", 0, false},
		// A cancel while the container is being created or started must
		// not leave it behind.
		{"cancel after 10ms", 10 * time.Millisecond, false},
		{"cancel after 50ms", 50 * time.Millisecond, false},
		{"cancel after 100ms", 100 * time.Millisecond, false},
		{"cancel after 200ms", 200 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			if tt.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), tt.after)
			} else {
				time.AfterFunc(tt.after, cancel)
			}
			defer cancel()
			spec := &orc.ContainerSpec{InvocationID: InvocationID(t), Image: ProbeImage, Args: []string{"sleep", "60000"}}
			begin := time.Now()
			res := run(t, s.d, ctx, spec)
			if took := time.Since(begin); took > 20*time.Second {
				t.Errorf("Run took %v", took)
			}
			if res.TimedOut != tt.deadline || res.Canceled == tt.deadline {
				t.Errorf("timed out = %v, canceled = %v; want timed out = %v", res.TimedOut, res.Canceled, tt.deadline)
			}
			if string(res.Stdout) == "slept\n" {
				t.Error("the container ran to its end")
			}
			if tt.after >= time.Second && res.ExitCode != 137 {
				t.Errorf("exit code = %d, want 137 (SIGKILL)", res.ExitCode)
			}
			s.e.wantRemoved(t, spec.InvocationID)
		})
	}
}

func (s *suite) outputCaps(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		stdout, stderr int
		truncated      bool
	}{
		{"stdout under cap", []string{"spam", "4000"}, 4003, 0, false},
		{"stdout over cap", []string{"spam", "3000000"}, 4096, 0, true},
		{"stderr over cap", []string{"spam", "3000000", "stderr"}, 0, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, s.capped, context.Background(), &orc.ContainerSpec{InvocationID: InvocationID(t), Image: ProbeImage, Args: tt.args})
			if len(res.Stdout) != tt.stdout || len(res.Stderr) != tt.stderr {
				t.Errorf("kept %d bytes of stdout and %d of stderr, want %d and %d",
					len(res.Stdout), len(res.Stderr), tt.stdout, tt.stderr)
			}
			wantStdout, wantStderr := tt.truncated && tt.stdout > 0, tt.truncated && tt.stderr > 0
			if res.StdoutTruncated != wantStdout || res.StderrTruncated != wantStderr {
				t.Errorf("truncated: stdout %v, stderr %v; want %v, %v",
					res.StdoutTruncated, res.StderrTruncated, wantStdout, wantStderr)
			}
			if tt.stderr > 0 && !bytes.HasSuffix(res.Stderr, []byte("\nEND")) {
				t.Errorf("stderr tail %q does not end the stream", res.Stderr[max(0, len(res.Stderr)-20):])
			}
			if tt.stdout > 0 && !bytes.HasPrefix(res.Stdout, []byte("xxxx")) {
				t.Errorf("stdout head = %q", res.Stdout[:min(20, len(res.Stdout))])
			}
		})
	}
}

// streaming: the writers get the container's output while it runs (a
// line before the container writes the next), all of it (also what the
// result's buffers drop), and the result is Run's.
func (s *suite) streaming(t *testing.T) {
	t.Run("while it runs", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr timedWriter
		res, err := s.capped.RunStreaming(context.Background(), &orc.ContainerSpec{
			InvocationID: InvocationID(t), Image: ProbeImage, Args: []string{"drip", "3", "700"},
		}, &stdout, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		ended := time.Now()
		wantOutput(t, res, 0, "done\n", "line 1\nline 2\nline 3\n")
		if stderr.String() != string(res.Stderr) || stdout.String() != string(res.Stdout) {
			t.Errorf("streamed stdout %q, stderr %q; want the result's", stdout.String(), stderr.String())
		}
		// The drips are 0.7 s apart: the first line came well before the end.
		if first := stderr.first(); first.IsZero() || ended.Sub(first) < time.Second {
			t.Errorf("the first line came %v before the run ended, want over 1s", ended.Sub(first))
		}
	})
	t.Run("over the cap", func(t *testing.T) {
		t.Parallel()
		var stdout timedWriter
		res, err := s.capped.RunStreaming(context.Background(), &orc.ContainerSpec{
			InvocationID: InvocationID(t), Image: ProbeImage, Args: []string{"spam", "100000"},
		}, &stdout, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.StdoutTruncated || len(res.Stdout) != 4096 {
			t.Errorf("the result kept %d bytes (truncated %v), want the cap", len(res.Stdout), res.StdoutTruncated)
		}
		if n := len(stdout.String()); n != 100003 {
			t.Errorf("streamed %d bytes of stdout, want all 100003", n)
		}
	})
}

// timedWriter keeps what is written to it and when the first write came.
type timedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	start time.Time
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start.IsZero() {
		w.start = time.Now()
	}
	return w.buf.Write(p)
}

func (w *timedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *timedWriter) first() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.start
}

func (s *suite) oom(t *testing.T) {
	res := run(t, s.d, context.Background(), &orc.ContainerSpec{InvocationID: InvocationID(t), Image: ProbeImage,
		Args: []string{"oom"}, Resources: orc.Resources{MemoryMB: 32}})
	if !res.OOMKilled || res.ExitCode == 0 {
		t.Errorf("oom killed = %v, exit code = %d; want killed", res.OOMKilled, res.ExitCode)
	}
}

func (s *suite) errors(t *testing.T) {
	tests := []struct {
		name    string
		image   string
		code    string
		message string
	}{
		{"missing image", "orc-test-missing:0.0.0", orc.EINVALID, `image "orc-test-missing:0.0.0" is not on this worker`},
		{"no image", "", orc.EINVALID, "task has no image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := &orc.ContainerSpec{InvocationID: InvocationID(t), Image: tt.image, Args: []string{"sleep", "0"}}
			res, err := s.d.Run(context.Background(), spec)
			if err == nil {
				t.Fatalf("Run = %+v, want an error", res)
			}
			if code, msg := orc.ErrorCode(err), orc.ErrorMessage(err); code != tt.code || msg != tt.message {
				t.Errorf("Run error %q: code %q, message %q; want %q, %q", err, code, msg, tt.code, tt.message)
			}
			s.e.wantRemoved(t, spec.InvocationID)
		})
	}
}

func (s *suite) reap(t *testing.T) {
	ctx := context.Background()
	victim, bystander := InvocationID(t)+"-victim", InvocationID(t)+"-bystander"
	s.e.startLeftover(t, s.h.Installation, victim, 1, true, time.Time{})
	s.e.startLeftover(t, s.h.Installation, victim, 2, false, time.Time{})
	s.e.startLeftover(t, s.h.Installation, victim, 3, true, time.Time{})
	s.e.startLeftover(t, s.h.Installation, bystander, 1, true, time.Time{})
	if err := s.d.Reap(ctx, victim, 3); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if n := len(s.e.ofInvocation(t, victim)); n != 1 {
		t.Errorf("Reap before attempt 3 left %d containers, want 1 (attempt 3's)", n)
	}
	if n := len(s.e.ofInvocation(t, bystander)); n != 1 {
		t.Errorf("Reap removed another invocation's container: %d left, want 1", n)
	}
	if err := s.d.Reap(ctx, victim, 4); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	s.e.wantRemoved(t, victim)
	if err := s.d.Reap(ctx, victim, 4); err != nil {
		t.Errorf("Reap of nothing: %v", err)
	}
}

func (s *suite) reapExpired(t *testing.T) {
	now := time.Now()
	expired, live, unlabelled := InvocationID(t)+"-expired", InvocationID(t)+"-live", InvocationID(t)+"-unlabelled"
	others := InvocationID(t) + "-another-installation"
	s.e.startLeftover(t, s.h.Installation, expired, 1, true, now.Add(-time.Minute))
	s.e.startLeftover(t, s.h.Installation, live, 1, true, now.Add(time.Hour))
	s.e.startLeftover(t, s.h.Installation, unlabelled, 1, true, time.Time{})
	s.e.startLeftover(t, s.h.Installation+"-other", others, 1, true, now.Add(-time.Minute))
	if err := s.d.ReapExpired(context.Background(), now); err != nil {
		t.Fatalf("ReapExpired: %v", err)
	}
	s.e.wantRemoved(t, expired)
	for _, id := range []string{live, unlabelled, others} {
		if n := len(s.e.ofInvocation(t, id)); n != 1 {
			t.Errorf("ReapExpired removed %s: %d left, want 1", id, n)
		}
	}
}

func (s *suite) reapExited(t *testing.T) {
	exited, running := InvocationID(t)+"-exited", InvocationID(t)+"-running"
	others := InvocationID(t) + "-another-installation"
	s.e.startLeftover(t, s.h.Installation, exited, 1, false, time.Time{})
	s.e.startLeftover(t, s.h.Installation, running, 1, true, time.Time{})
	s.e.startLeftover(t, s.h.Installation+"-other", others, 1, false, time.Time{})
	if err := s.d.ReapExited(context.Background()); err != nil {
		t.Fatalf("ReapExited: %v", err)
	}
	s.e.wantRemoved(t, exited)
	if n := len(s.e.ofInvocation(t, running)); n != 1 {
		t.Errorf("ReapExited removed a running container: %d left, want 1", n)
	}
	if n := len(s.e.ofInvocation(t, others)); n != 1 {
		t.Errorf("ReapExited removed another installation's container: %d left, want 1", n)
	}
}

// servers starts a warm server, calls it at its URL, checks its sandbox
// and its listing, and stops it.
func (s *suite) servers(t *testing.T) {
	ctx := context.Background()
	key := InvocationID(t)
	srv, err := s.d.StartServer(ctx, &orc.ServerSpec{Key: key, Image: ProbeImage,
		Resources: orc.Resources{MemoryMB: 64, Pids: 16}, Labels: map[string]string{"orc.worker": "w1"}})
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Cleanup(func() { s.d.StopServer(context.Background(), srv.ID) }) //nolint:errcheck
	waitHealthy(t, srv.URL)
	resp, err := http.Post(srv.URL+"/invoke", "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"x":1}` {
		t.Errorf("POST /invoke answered %q, want the input back", body)
	}
	resp, err = http.Get(srv.URL + "/sandbox")
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A server has an interface: its worker reaches it.
	wantHardened(t, r, []string{"eth0", "lo"}, 16, 64<<20)

	list, err := s.d.ListServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(p orc.PluginServer) bool { return p.ID == srv.ID })
	if i < 0 {
		t.Fatalf("ListServers = %+v, lacks %s", list, srv.ID)
	}
	if l := list[i].Labels; l[LabelServer] != key || l["orc.worker"] != "w1" || l[LabelInstallation] != s.h.Installation {
		t.Errorf("server labels = %v", l)
	}
	if err := s.d.StopServer(ctx, srv.ID); err != nil {
		t.Fatal(err)
	}
	if ids := s.e.containers(t, LabelServer+"="+key); len(ids) != 0 {
		t.Errorf("the stopped server's container remains: %v", ids)
	}
	list, err = s.d.ListServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(list, func(p orc.PluginServer) bool { return p.ID == srv.ID }) {
		t.Error("ListServers still lists the stopped server")
	}
}

// waitHealthy waits for GET /healthz at url to answer 200.
func waitHealthy(t *testing.T, url string) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
	}
	t.Fatalf("server at %s not healthy: %v", url, last)
}
