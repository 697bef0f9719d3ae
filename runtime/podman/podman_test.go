package podman_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/drivertest"
	"github.com/orc-gateway/orc/runtime/podman"
)

// probeImage is the driver suite's probe: it runs the probe's commands,
// and is a plugin server when started as one.
const probeImage = drivertest.ProbeImage

// testInstallation is the installation of this run's drivers: an Orc on
// the same host ("orc") keeps its containers.
var testInstallation = drivertest.Installation("podman-driver")

func TestNewRejectsRoot(t *testing.T) {
	t.Parallel()
	for _, user := range []string{"0", "root", "0:0", "root:65534"} {
		if _, err := podman.New(podman.Config{User: user}); err == nil {
			t.Errorf("New(User: %q) succeeded, want an error", user)
		}
	}
}

func TestFingerprint(t *testing.T) {
	d := newDriver(t, podman.Config{})
	info, err := d.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "podman" || info.Version == "" || !info.Healthy || !strings.Contains(info.Detail, "rootful") {
		t.Errorf("Fingerprint = %+v, want a healthy rootful podman with a version", info)
	}
}

// A podman that is missing, broken, or rootless on cgroup v1 (which cannot
// apply a run's limits) is unhealthy and unavailable, and runs nothing.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	rootlessV1 := fakePodman(t, `{"host": {"cgroupVersion": "v1", "networkBackend": "netavark",
		"ociRuntime": {"name": "runc"}, "security": {"rootless": true}}, "version": {"Version": "4.3.1"}}`)
	tests := []struct {
		name   string
		binary string
		detail string
	}{
		{"missing", "/nonexistent/podman", "no such file"},
		{"broken", "/bin/false", "exit status 1"},
		{"rootless on cgroup v1", rootlessV1, "cannot enforce memory, pids and cpu limits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := podman.New(podman.Config{Binary: tt.binary, Installation: testInstallation})
			if err != nil {
				t.Fatal(err)
			}
			info, err := d.Fingerprint(context.Background())
			if orc.ErrorCode(err) != orc.EUNAVAILABLE || info == nil || info.Healthy || !strings.Contains(info.Detail, tt.detail) {
				t.Errorf("Fingerprint = %+v, %v; want unhealthy (%q) and EUNAVAILABLE", info, err, tt.detail)
			}
			res, err := d.Run(context.Background(), &orc.ContainerSpec{InvocationID: invocationID(t), Image: probeImage})
			if orc.ErrorCode(err) != orc.EUNAVAILABLE {
				t.Errorf("Run = %+v, %v; want EUNAVAILABLE", res, err)
			}
			if _, err := d.StartServer(context.Background(), &orc.ServerSpec{Key: "k", Image: probeImage}); orc.ErrorCode(err) != orc.EUNAVAILABLE {
				t.Errorf("StartServer: %v; want EUNAVAILABLE", err)
			}
		})
	}
}

// fakePodman returns a podman that answers info with the given JSON.
func fakePodman(t *testing.T, info string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "podman")
	script := "#!/bin/sh\n[ \"$1\" = info ] || exit 125\ncat <<'EOF'\n" + info + "\nEOF\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// The host reaches servers on both networks; a bridge run reaches no other
// container, neither on its network nor on WarmNetwork through the host.
func TestServersAreIsolated(t *testing.T) {
	d := newDriver(t, podman.Config{})
	ctx := context.Background()
	start := func(key string, network orc.Network) *orc.PluginServer {
		t.Helper()
		s, err := d.StartServer(ctx, &orc.ServerSpec{Key: key, Image: probeImage, Network: network,
			Labels: map[string]string{"team": "ml"}})
		if err != nil {
			t.Fatalf("StartServer(%s): %v", network, err)
		}
		t.Cleanup(func() { d.StopServer(context.Background(), s.ID) }) //nolint:errcheck
		return s
	}
	bridged := start("test-bridge", orc.NetworkBridge)
	bridged2 := start("test-bridge-2", orc.NetworkBridge)
	internal := start("test-none", orc.NetworkNone)

	for _, s := range []*orc.PluginServer{bridged, bridged2, internal} {
		wantReachable(t, s.URL)
	}
	dial := func(to *orc.PluginServer) string {
		t.Helper()
		u, err := url.Parse(to.URL)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Run(ctx, &orc.ContainerSpec{InvocationID: invocationID(t), Image: probeImage,
			Args: []string{"dial", u.Host}, Network: orc.NetworkBridge})
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(res.Stdout))
	}
	if got := dial(bridged); !strings.HasPrefix(got, "blocked") {
		t.Errorf("a bridge run dialed a server on its network: %q, want blocked", got)
	}
	if got := dial(internal); !strings.HasPrefix(got, "blocked") {
		t.Errorf("a bridge run dialed a server without network: %q, want blocked", got)
	}

	servers, err := d.ListServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]orc.PluginServer{}
	for _, s := range servers {
		found[s.ID] = s
	}
	for _, s := range []*orc.PluginServer{bridged, bridged2, internal} {
		got, ok := found[s.ID]
		if !ok || got.URL != s.URL || got.Labels["team"] != "ml" || got.Labels[podman.LabelServer] == "" {
			t.Errorf("ListServers has %+v for %s, want its URL %s and labels", got, s.ID, s.URL)
		}
	}
	if err := d.StopServer(ctx, internal.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.StopServer(ctx, internal.ID); err != nil {
		t.Errorf("StopServer of a stopped server: %v", err)
	}
}

// wantReachable waits for a server's port to accept a connection from the
// host.
func wantReachable(t *testing.T, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host cannot reach %s: %v", rawURL, err)
		}
	}
}

// BenchmarkPodmanRun is one driver run of `probe stdin` with a small input:
// create, start attached, inspect, remove.
func BenchmarkPodmanRun(b *testing.B) {
	d := newDriver(b, podman.Config{Logger: slog.New(slog.DiscardHandler)})
	input := []byte(`{"text": "hello"}`)
	for b.Loop() {
		res, err := d.Run(context.Background(), &orc.ContainerSpec{InvocationID: "bench", Image: probeImage,
			Args: []string{"stdin"}, Stdin: input})
		if err != nil || !bytes.Equal(res.Stdout, input) {
			b.Fatalf("Run = %+v, %v", res, err)
		}
	}
}

// BenchmarkPodmanCLIRun is the floor: `podman run --rm -i` with the
// driver's hardening flags, as one command.
func BenchmarkPodmanCLIRun(b *testing.B) {
	newDriver(b, podman.Config{})
	input := []byte(`{"text": "hello"}`)
	args := []string{"run", "--rm", "-i", "--log-driver=none", "--pull=never", "--user", podman.DefaultUser,
		"--cap-drop=all", "--security-opt=no-new-privileges", "--read-only", "--read-only-tmpfs=false",
		"--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=67108864", "--network", "none",
		"--memory", "536870912", "--memory-swap", "536870912", "--cpus", "1", "--pids-limit", "256",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--env", "HOME=/tmp",
		"--label", podman.LabelManaged + "=true", "--label", podman.LabelInstallation + "=" + testInstallation,
		"--", probeImage, "stdin"}
	for b.Loop() {
		cmd := exec.Command("podman", args...)
		cmd.Stdin = bytes.NewReader(input)
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, input) {
			b.Fatalf("podman run = %q, %v", out, err)
		}
	}
}

// newDriver returns a driver of the test installation, checked with
// Fingerprint, and makes sure the test images exist.
func newDriver(tb testing.TB, cfg podman.Config) *podman.Driver {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test against podman (-short)")
	}
	if cfg.Installation == "" {
		cfg.Installation = testInstallation
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := podman.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := d.Fingerprint(context.Background()); err != nil {
		tb.Fatalf("podman: %v (install it with deploy/local/services.sh)", err)
	}
	drivertest.BuildProbe(tb, "podman")
	return d
}

// invocationID returns an invocation id unique to the test and the moment.
func invocationID(t *testing.T) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("test-%s-%d", name, time.Now().UnixNano())
}

// testWriter sends the driver's logs to the test's log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
