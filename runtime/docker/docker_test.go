package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/docker"
)

// probeImage is the test image built from testdata/probe.
const probeImage = "orc-test-probe:latest"

func TestRun(t *testing.T) {
	d := newDriver(t, docker.Config{})
	big := bytes.Repeat([]byte(`{"k":"0123456789abcdef"}`+"\n"), 1<<16) // 1.5 MiB
	input := `{"text": "it's a \"quoted\" input", "n": [1, 2]}`
	tests := []struct {
		name   string
		args   []string
		stdin  []byte
		env    map[string]string
		check  func(t *testing.T, res *orc.ContainerResult)
		labels map[string]string
	}{
		{
			name:  "stdin round trip",
			args:  []string{"stdin"},
			stdin: []byte(input),
			check: func(t *testing.T, res *orc.ContainerResult) {
				wantOutput(t, res, 0, input, "")
			},
		},
		{
			name:  "large stdin",
			args:  []string{"stdin"},
			stdin: big,
			check: func(t *testing.T, res *orc.ContainerResult) {
				if !bytes.Equal(res.Stdout, big) {
					t.Errorf("stdout is %d bytes, want the %d bytes of stdin", len(res.Stdout), len(big))
				}
			},
		},
		{
			name:  "no stdin",
			args:  []string{"stdin"},
			check: func(t *testing.T, res *orc.ContainerResult) { wantOutput(t, res, 0, "", "") },
		},
		{
			name:  "input as last arg",
			args:  []string{"args", "first", input},
			stdin: []byte(input),
			check: func(t *testing.T, res *orc.ContainerResult) {
				var got []string
				if err := json.Unmarshal(res.Stdout, &got); err != nil {
					t.Fatalf("stdout %q: %v", res.Stdout, err)
				}
				if want := []string{"first", input}; !slices.Equal(got, want) {
					t.Errorf("args = %q, want %q", got, want)
				}
			},
		},
		{
			name: "non-zero exit and stderr",
			args: []string{"fail", "7", "model file is missing"},
			check: func(t *testing.T, res *orc.ContainerResult) {
				wantOutput(t, res, 7, "", "model file is missing\n")
			},
		},
		{
			name: "zero exit with stderr",
			args: []string{"fail", "0", "just a log line"},
			check: func(t *testing.T, res *orc.ContainerResult) {
				wantOutput(t, res, 0, "", "just a log line\n")
			},
		},
		{
			name: "env and labels",
			args: []string{"sandbox"},
			env:  map[string]string{"ORC_TEST": "1"},
			labels: map[string]string{
				"team":              "ml",
				docker.LabelManaged: "false", // must not hide the container from Reap
			},
			check: func(t *testing.T, res *orc.ContainerResult) {
				if r := sandboxReport(t, res); r.Home != "/tmp" {
					t.Errorf("HOME = %q, want /tmp", r.Home)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := &orc.ContainerSpec{
				InvocationID: invocationID(t),
				Attempt:      1,
				Image:        probeImage,
				Args:         tt.args,
				Stdin:        tt.stdin,
				Env:          tt.env,
				Labels:       tt.labels,
			}
			res := run(t, d, context.Background(), spec)
			if res.TimedOut || res.Canceled || res.OOMKilled {
				t.Errorf("result = %+v, want a plain exit", res)
			}
			if res.Cold <= 0 || res.Run <= 0 {
				t.Errorf("cold = %v, run = %v, want both > 0", res.Cold, res.Run)
			}
			tt.check(t, res)
			wantRemoved(t, spec.InvocationID)
		})
	}
}

func TestRunHardened(t *testing.T) {
	d := newDriver(t, docker.Config{})
	tests := []struct {
		name       string
		network    orc.Network
		resources  orc.Resources
		interfaces []string
		pids       string
		memory     string
	}{
		{
			name:       "defaults",
			interfaces: []string{"lo"},
			pids:       fmt.Sprint(orc.DefaultPids),
			memory:     fmt.Sprint(orc.DefaultMemoryMB << 20),
		},
		{
			name:       "resources and bridge",
			network:    orc.NetworkBridge,
			resources:  orc.Resources{CPU: 0.5, MemoryMB: 96, Pids: 32},
			interfaces: []string{"eth0", "lo"},
			pids:       "32",
			memory:     fmt.Sprint(96 << 20),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, d, context.Background(), &orc.ContainerSpec{
				InvocationID: invocationID(t),
				Image:        probeImage,
				Args:         []string{"sandbox"},
				Network:      tt.network,
				Resources:    tt.resources,
			})
			r := sandboxReport(t, res)
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
			if !slices.Equal(r.Interfaces, tt.interfaces) {
				t.Errorf("network interfaces = %q, want %q", r.Interfaces, tt.interfaces)
			}
			if r.CapEff != "0000000000000000" {
				t.Errorf("effective capabilities = %s, want none", r.CapEff)
			}
			if r.NoNewPrivs != "1" {
				t.Errorf("NoNewPrivs = %q, want 1", r.NoNewPrivs)
			}
			if r.PidsMax != tt.pids {
				t.Errorf("pids limit = %q, want %s", r.PidsMax, tt.pids)
			}
			if r.MemoryMax != tt.memory {
				t.Errorf("memory limit = %q, want %s", r.MemoryMax, tt.memory)
			}
		})
	}
}

// TestRunWhileRunning inspects a running container through the API, then
// cancels its run.
func TestRunWhileRunning(t *testing.T) {
	d := newDriver(t, docker.Config{})
	t.Parallel()
	spec := &orc.ContainerSpec{
		InvocationID: invocationID(t),
		Attempt:      3,
		Image:        probeImage,
		Args:         []string{"sleep", "60000"},
		Resources:    orc.Resources{CPU: 1.5, MemoryMB: 64},
		Labels:       map[string]string{"team": "ml"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res *orc.ContainerResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := d.Run(ctx, spec)
		done <- outcome{res, err}
	}()

	info := waitRunning(t, spec.InvocationID)
	wantLabels := map[string]string{
		docker.LabelManaged: "true", docker.LabelInvocation: spec.InvocationID,
		docker.LabelAttempt: "3", "team": "ml",
	}
	for k, v := range wantLabels {
		if got := info.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	hc := info.HostConfig
	if !slices.Equal(hc.CapDrop, []string{"ALL"}) || !slices.Contains(hc.SecurityOpt, "no-new-privileges") ||
		!hc.ReadonlyRootfs || hc.NetworkMode != "none" || hc.Privileged {
		t.Errorf("host config not hardened: capdrop %v, securityopt %v, readonly %v, network %s, privileged %v",
			hc.CapDrop, hc.SecurityOpt, hc.ReadonlyRootfs, hc.NetworkMode, hc.Privileged)
	}
	if hc.Memory != 64<<20 || hc.MemorySwap != hc.Memory || hc.NanoCPUs != 1.5e9 {
		t.Errorf("memory %d, swap %d, nano cpus %d; want %d, %d, %d",
			hc.Memory, hc.MemorySwap, hc.NanoCPUs, 64<<20, 64<<20, int64(1.5e9))
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != orc.DefaultPids {
		t.Errorf("pids limit = %v, want %d", hc.PidsLimit, orc.DefaultPids)
	}
	if info.Config.User != docker.DefaultUser {
		t.Errorf("user = %q, want %q", info.Config.User, docker.DefaultUser)
	}

	cancel()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("Run: %v", o.err)
		}
		if !o.res.Canceled || o.res.TimedOut {
			t.Errorf("canceled = %v, timed out = %v; want canceled", o.res.Canceled, o.res.TimedOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after cancel")
	}
	wantRemoved(t, spec.InvocationID)
}

func TestRunEndsEarly(t *testing.T) {
	d := newDriver(t, docker.Config{})
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
			spec := &orc.ContainerSpec{
				InvocationID: invocationID(t),
				Image:        probeImage,
				Args:         []string{"sleep", "60000"},
			}
			begin := time.Now()
			res := run(t, d, ctx, spec)
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
			wantRemoved(t, spec.InvocationID)
		})
	}
}

func TestRunOutputCaps(t *testing.T) {
	d := newDriver(t, docker.Config{StdoutLimit: 4096, StderrLimit: 1000})
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
			res := run(t, d, context.Background(), &orc.ContainerSpec{
				InvocationID: invocationID(t),
				Image:        probeImage,
				Args:         tt.args,
			})
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

// TestRunStreaming: the writers get the container's output while it runs
// (a line before the container writes the next), all of it (also what the
// result's buffers drop), and the result is Run's.
func TestRunStreaming(t *testing.T) {
	d := newDriver(t, docker.Config{StdoutLimit: 4096})
	t.Run("while it runs", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr timedWriter
		res, err := d.RunStreaming(context.Background(), &orc.ContainerSpec{
			InvocationID: invocationID(t), Image: probeImage, Args: []string{"drip", "3", "700"},
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
		res, err := d.RunStreaming(context.Background(), &orc.ContainerSpec{
			InvocationID: invocationID(t), Image: probeImage, Args: []string{"spam", "100000"},
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

func TestRunOOM(t *testing.T) {
	d := newDriver(t, docker.Config{})
	t.Parallel()
	res := run(t, d, context.Background(), &orc.ContainerSpec{
		InvocationID: invocationID(t),
		Image:        probeImage,
		Args:         []string{"oom"},
		Resources:    orc.Resources{MemoryMB: 32},
	})
	if !res.OOMKilled || res.ExitCode == 0 {
		t.Errorf("oom killed = %v, exit code = %d; want killed", res.OOMKilled, res.ExitCode)
	}
}

func TestRunErrors(t *testing.T) {
	d := newDriver(t, docker.Config{})
	down, err := docker.New(docker.Config{Host: "unix:///nonexistent/docker.sock"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })
	tests := []struct {
		name    string
		driver  *docker.Driver
		image   string
		code    string
		message string
	}{
		{"missing image", d, "orc-test-missing:0.0.0", orc.EINVALID, `image "orc-test-missing:0.0.0" is not on this worker`},
		{"no image", d, "", orc.EINVALID, "task has no image"},
		{"engine down", down, probeImage, orc.EUNAVAILABLE, "the docker engine cannot be reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := tt.driver.Run(context.Background(), &orc.ContainerSpec{
				InvocationID: invocationID(t),
				Image:        tt.image,
				Args:         []string{"sleep", "0"},
			})
			if err == nil {
				t.Fatalf("Run = %+v, want an error", res)
			}
			if code, msg := orc.ErrorCode(err), orc.ErrorMessage(err); code != tt.code || msg != tt.message {
				t.Errorf("Run error %q: code %q, message %q; want %q, %q", err, code, msg, tt.code, tt.message)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	d := newDriver(t, docker.Config{})
	info, err := d.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "docker" || info.Version == "" || !info.Healthy {
		t.Errorf("Fingerprint = %+v, want a healthy docker with a version", info)
	}

	down, err := docker.New(docker.Config{Host: "unix:///nonexistent/docker.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	info, err = down.Fingerprint(context.Background())
	if orc.ErrorCode(err) != orc.EUNAVAILABLE || info == nil || info.Healthy || info.Detail == "" {
		t.Errorf("Fingerprint of a missing engine = %+v, %v; want unhealthy and EUNAVAILABLE", info, err)
	}
}

func TestNewRejectsRoot(t *testing.T) {
	for _, user := range []string{"0", "root", "0:0", "root:65534"} {
		if _, err := docker.New(docker.Config{User: user}); err == nil {
			t.Errorf("New(User: %q) succeeded, want an error", user)
		}
	}
}

func TestReap(t *testing.T) {
	d := newDriver(t, docker.Config{})
	t.Parallel()
	ctx := context.Background()
	victim, bystander := invocationID(t)+"-victim", invocationID(t)+"-bystander"
	startLeftover(t, victim, 1, true, time.Time{})
	startLeftover(t, victim, 2, false, time.Time{})
	startLeftover(t, victim, 3, true, time.Time{})
	startLeftover(t, bystander, 1, true, time.Time{})

	if err := d.Reap(ctx, victim, 3); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if n := len(listInvocation(t, victim)); n != 1 {
		t.Errorf("Reap before attempt 3 left %d containers, want 1 (attempt 3's)", n)
	}
	if n := len(listInvocation(t, bystander)); n != 1 {
		t.Errorf("Reap removed another invocation's container: %d left, want 1", n)
	}
	if err := d.Reap(ctx, victim, 4); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	wantRemoved(t, victim)
	if err := d.Reap(ctx, victim, 4); err != nil {
		t.Errorf("Reap of nothing: %v", err)
	}
}

func TestReapExpired(t *testing.T) {
	d := newDriver(t, docker.Config{})
	t.Parallel()
	now := time.Now()
	expired, live, unlabelled := invocationID(t)+"-expired", invocationID(t)+"-live", invocationID(t)+"-unlabelled"
	others := invocationID(t) + "-another-installation"
	startLeftover(t, expired, 1, true, now.Add(-time.Minute))
	startLeftover(t, live, 1, true, now.Add(time.Hour))
	startLeftover(t, unlabelled, 1, true, time.Time{})
	startLeftoverOf(t, testInstallation+"-other", others, 1, true, now.Add(-time.Minute))
	if err := d.ReapExpired(context.Background(), now); err != nil {
		t.Fatalf("ReapExpired: %v", err)
	}
	wantRemoved(t, expired)
	for _, id := range []string{live, unlabelled, others} {
		if n := len(listInvocation(t, id)); n != 1 {
			t.Errorf("ReapExpired removed %s: %d left, want 1", id, n)
		}
	}
}

// TestReapExited is not parallel: it removes every exited Orc container on
// the engine, and parallel tests must not lose theirs before inspecting them.
func TestReapExited(t *testing.T) {
	d := newDriver(t, docker.Config{})
	exited, running := invocationID(t)+"-exited", invocationID(t)+"-running"
	others := invocationID(t) + "-another-installation"
	startLeftover(t, exited, 1, false, time.Time{})
	startLeftover(t, running, 1, true, time.Time{})
	startLeftoverOf(t, testInstallation+"-other", others, 1, false, time.Time{})

	if err := d.ReapExited(context.Background()); err != nil {
		t.Fatalf("ReapExited: %v", err)
	}
	wantRemoved(t, exited)
	if n := len(listInvocation(t, running)); n != 1 {
		t.Errorf("ReapExited removed a running container: %d left, want 1", n)
	}
	if n := len(listInvocation(t, others)); n != 1 {
		t.Errorf("ReapExited removed another installation's container: %d left, want 1", n)
	}
}

// newDriver returns a driver for the engine of the environment, checked
// with Fingerprint, and makes sure the probe image exists. A missing engine
// fails the test: only -short skips it.
// testInstallation is the installation of this run's drivers: an Orc on
// the same engine ("orc") keeps its containers through the reaps.
var testInstallation = fmt.Sprintf("orct-docker-%d", os.Getpid())

func newDriver(t *testing.T, cfg docker.Config) *docker.Driver {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the docker engine (-short)")
	}
	if cfg.Installation == "" {
		cfg.Installation = testInstallation
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := docker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Fingerprint(context.Background()); err != nil {
		t.Fatalf("docker engine: %v (start it with deploy/local/services.sh)", err)
	}
	buildProbe(t)
	return d
}

var probeOnce = sync.OnceValue(func() error {
	dir, err := os.MkdirTemp("", "orc-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "probe"), "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build probe: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY probe /probe\nUSER 65534:65534\nENTRYPOINT [\"/probe\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	img := exec.Command("docker", "build", "-q", "-t", probeImage, dir)
	img.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build probe: %v\n%s", err, out)
	}
	return nil
})

// buildProbe builds the probe image, once per test binary.
func buildProbe(t *testing.T) {
	t.Helper()
	if err := probeOnce(); err != nil {
		t.Fatal(err)
	}
}

// run runs spec and fails the test on an error.
func run(t *testing.T, d *docker.Driver, ctx context.Context, spec *orc.ContainerSpec) *orc.ContainerResult {
	t.Helper()
	res, err := d.Run(ctx, spec)
	if err != nil {
		t.Fatalf("Run(%q): %v", spec.Args, err)
	}
	return res
}

// wantOutput checks a result's exit code, stdout and stderr.
func wantOutput(t *testing.T, res *orc.ContainerResult, code int, stdout, stderr string) {
	t.Helper()
	if res.ExitCode != code || string(res.Stdout) != stdout || string(res.Stderr) != stderr {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
			res.ExitCode, res.Stdout, res.Stderr, code, stdout, stderr)
	}
	if res.StdoutTruncated || res.StderrTruncated {
		t.Error("output marked truncated")
	}
}

// report is what `probe sandbox` prints.
type report struct {
	UID        int      `json:"uid"`
	GID        int      `json:"gid"`
	Home       string   `json:"home"`
	EtcWrite   string   `json:"etc_write"`
	EtcRO      bool     `json:"etc_ro"`
	TmpWrite   string   `json:"tmp_write"`
	TmpMount   string   `json:"tmp_mount"`
	Interfaces []string `json:"interfaces"`
	CapEff     string   `json:"cap_eff"`
	NoNewPrivs string   `json:"no_new_privs"`
	PidsMax    string   `json:"pids_max"`
	MemoryMax  string   `json:"memory_max"`
}

func sandboxReport(t *testing.T, res *orc.ContainerResult) report {
	t.Helper()
	var r report
	if res.ExitCode != 0 {
		t.Fatalf("probe sandbox exited %d: %s", res.ExitCode, res.Stderr)
	}
	if err := json.Unmarshal(res.Stdout, &r); err != nil {
		t.Fatalf("probe sandbox printed %q: %v", res.Stdout, err)
	}
	return r
}

// invocationID returns an invocation id unique to the test and the moment.
func invocationID(t *testing.T) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("test-%s-%d", name, time.Now().UnixNano())
}

// engine returns a client of the tests' own, to check the driver's work.
func engine(t *testing.T) *client.Client {
	t.Helper()
	cli, err := engineOnce()
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

var engineOnce = sync.OnceValues(func() (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	// Negotiate before concurrent use: ContainerList reads the version
	// before the client's lazy negotiation, a data race.
	cli.NegotiateAPIVersion(context.Background())
	return cli, nil
})

// listInvocation returns the containers, in any state, of an invocation.
func listInvocation(t *testing.T, invocationID string) []container.Summary {
	t.Helper()
	list, err := engine(t).ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", docker.LabelInvocation+"="+invocationID)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// wantRemoved checks that no container of the invocation remains.
func wantRemoved(t *testing.T, invocationID string) {
	t.Helper()
	for _, c := range listInvocation(t, invocationID) {
		t.Errorf("container %.12s of %s remains (%s)", c.ID, invocationID, c.State)
	}
}

// waitRunning waits for the invocation's container to run and inspects it.
func waitRunning(t *testing.T, invocationID string) container.InspectResponse {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range listInvocation(t, invocationID) {
			if c.State == container.StateRunning {
				info, err := engine(t).ContainerInspect(context.Background(), c.ID)
				if err != nil {
					t.Fatal(err)
				}
				return info
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no running container of %s", invocationID)
	return container.InspectResponse{}
}

// startLeftover starts a probe container labelled as the driver labels its
// own, as a worker killed mid-run would leave it: still running, or exited.
// The test's cleanup removes it if the test did not.
func startLeftover(t *testing.T, invocationID string, attempt int, running bool, deadline time.Time) {
	t.Helper()
	startLeftoverOf(t, testInstallation, invocationID, attempt, running, deadline)
}

// startLeftoverOf is startLeftover for a container of another installation.
func startLeftoverOf(t *testing.T, installation, invocationID string, attempt int, running bool, deadline time.Time) {
	t.Helper()
	ctx := context.Background()
	cli := engine(t)
	cmd := []string{"fail", "0", "done"}
	if running {
		cmd = []string{"sleep", "60000"}
	}
	labels := map[string]string{
		docker.LabelManaged:      "true",
		docker.LabelInvocation:   invocationID,
		docker.LabelAttempt:      fmt.Sprint(attempt),
		docker.LabelInstallation: installation,
	}
	if !deadline.IsZero() {
		labels[docker.LabelDeadline] = fmt.Sprint(deadline.Unix())
	}
	c, err := cli.ContainerCreate(ctx, &container.Config{
		Image:  probeImage,
		Cmd:    cmd,
		Labels: labels,
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
		if err != nil && !strings.Contains(err.Error(), "No such container") {
			t.Errorf("remove leftover: %v", err)
		}
	})
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if running {
		return
	}
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("leftover did not exit")
	}
}

// testWriter sends the driver's logs to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// A plugin container that asked for network reaches the outside (here: the
// host), never another plugin's container: bridge runs are on Orc's
// network without traffic between containers, not on Docker's default
// bridge, where they could reach each other.
func TestBridgeContainersAreIsolated(t *testing.T) {
	d := newDriver(t, docker.Config{})
	listener := invocationID(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(context.Background(), &orc.ContainerSpec{InvocationID: listener, Image: probeImage, //nolint:errcheck
			Args: []string{"listen", "8080", "6000"}, Network: orc.NetworkBridge})
	}()
	t.Cleanup(func() { <-done })
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _ := exec.Command("docker", "ps", "-q", "--filter", "label="+docker.LabelInvocation+"="+listener).Output()
		id := strings.TrimSpace(string(out))
		if id == "" {
			continue
		}
		ip, _ := exec.Command("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id).Output()
		if s := strings.TrimSpace(string(ip)); s != "" {
			addr = s + ":8080"
		}
	}
	if addr == "" {
		t.Fatal("the listening plugin container did not start")
	}
	// It answers the host: a refusal below is the network's.
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host cannot reach the listener at %s: %v", addr, err)
		}
	}
	res := run(t, d, context.Background(), &orc.ContainerSpec{InvocationID: invocationID(t), Image: probeImage,
		Args: []string{"dial", addr}, Network: orc.NetworkBridge})
	if got := strings.TrimSpace(string(res.Stdout)); !strings.HasPrefix(got, "blocked") {
		t.Fatalf("a bridge container dialed another: %q, want blocked", got)
	}
}
