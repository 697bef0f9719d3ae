package plugin_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/drivertest"
	"github.com/orc-gateway/orc/runtime/plugin"
)

var installation = drivertest.Installation("docker-plugin")

func TestMain(m *testing.M) {
	if path := os.Getenv(echoEnv); path != "" {
		serveEcho(path) // BenchmarkHop's other process
		return
	}
	os.Exit(m.Run())
}

// TestDockerOverPlugin runs the driver suite against the Docker driver in
// a process of its own (orc driver docker), through go-plugin.
func TestDockerOverPlugin(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		Name: "docker", CLI: "docker", Installation: installation,
		New: func(t *testing.T, l drivertest.Limits) drivertest.Driver {
			args := []string{"driver", "docker", "--installation", installation}
			if l.Stdout > 0 || l.Stderr > 0 {
				args = append(args, "--stdout-limit", strconv.FormatInt(l.Stdout, 10), "--stderr-limit", strconv.FormatInt(l.Stderr, 10))
			}
			return open(t, plugin.ExternalConfig{Name: "docker", Path: orcBinary(t), Args: args})
		},
	})
}

// TestPodmanOverPlugin runs the driver suite against the Podman driver, an
// external driver binary (cmd/orc-driver-podman), through go-plugin.
func TestPodmanOverPlugin(t *testing.T) {
	installation := drivertest.Installation("podman")
	drivertest.Run(t, drivertest.Harness{
		Name: "podman", CLI: "podman", Installation: installation,
		New: func(t *testing.T, l drivertest.Limits) drivertest.Driver {
			args := []string{"--installation", installation}
			if l.Stdout > 0 || l.Stderr > 0 {
				args = append(args, "--stdout-limit", strconv.FormatInt(l.Stdout, 10), "--stderr-limit", strconv.FormatInt(l.Stderr, 10))
			}
			return open(t, plugin.ExternalConfig{Name: "podman", Path: binary(t, "orc-driver-podman"), Args: args})
		},
	})
}

// A driver process killed in the middle of a run: the run ends with an
// error that hands the task back, the container it left runs on, and the
// next call starts the driver again, whose Reap (the next attempt's)
// removes it.
func TestDriverProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against the docker engine (-short)")
	}
	drivertest.BuildProbe(t, "docker")
	e := open(t, plugin.ExternalConfig{Name: "docker", Path: orcBinary(t),
		Args: []string{"driver", "docker", "--installation", installation}})
	id := drivertest.InvocationID(t)
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), &orc.ContainerSpec{InvocationID: id, Attempt: 1,
			Image: drivertest.ProbeImage, Args: []string{"sleep", "60000"}})
		done <- err
	}()
	waitContainers(t, id, 1)
	pid := e.Pid()
	if pid == 0 {
		t.Fatal("no driver process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, orc.ErrHandedBack) {
			t.Fatalf("Run after its driver died = %v, want an error wrapping ErrHandedBack", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20s after its driver died")
	}
	if n := len(containers(t, id)); n != 1 {
		t.Fatalf("%d containers of the lost run, want 1 (it runs on)", n)
	}
	// The next attempt: its Reap starts the driver again and removes the
	// lost run's container; then it runs.
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err = e.Reap(context.Background(), id, 2); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("Reap after a restart: %v", err)
	}
	if e.Starts() != 2 {
		t.Errorf("driver started %d times, want 2", e.Starts())
	}
	waitContainers(t, id, 0)
	res, err := e.Run(context.Background(), &orc.ContainerSpec{InvocationID: id, Attempt: 2,
		Image: drivertest.ProbeImage, Args: []string{"fail", "0", "done"}})
	if err != nil || res.ExitCode != 0 || string(res.Stderr) != "done\n" {
		t.Fatalf("the next attempt = %+v, %v", res, err)
	}
}

// A driver binary that does not match its configured SHA-256 is not
// started; one that does is.
func TestDriverChecksum(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against the docker engine (-short)")
	}
	bin := orcBinary(t)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	args := []string{"driver", "docker", "--installation", installation}
	bad := sum
	bad[0] ^= 0xff
	_, err = plugin.Open(context.Background(), plugin.ExternalConfig{Name: "docker", Path: bin, Args: args, SHA256: bad[:]})
	if orc.ErrorCode(err) != orc.EINVALID || !strings.Contains(orc.ErrorMessage(err), "does not match its checksum") {
		t.Errorf("Open with a wrong checksum = %v, want EINVALID", err)
	}
	e := open(t, plugin.ExternalConfig{Name: "docker", Path: bin, Args: args, SHA256: sum[:]})
	if info, err := e.Fingerprint(context.Background()); err != nil || !info.Healthy || !info.External {
		t.Errorf("Fingerprint = %+v, %v; want a healthy external driver", info, err)
	}
}

// A driver that speaks no protocol version the worker does is refused at
// the handshake, with an error that says so.
func TestDriverProtocolVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a driver")
	}
	_, err := plugin.Open(context.Background(), plugin.ExternalConfig{Name: "v2",
		Path: binary(t, "runtime/plugin/testdata/v2driver")})
	if orc.ErrorCode(err) != orc.EINVALID || orc.ErrorMessage(err) != "the v2 driver speaks another protocol version" {
		t.Errorf("Open of a version 2 driver = %v, want EINVALID", err)
	}
}

func open(t testing.TB, cfg plugin.ExternalConfig) *plugin.External {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the docker engine (-short)")
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e, err := plugin.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var builds sync.Map // command -> func() (string, error)

// binary builds one of the repository's commands (cmd/<name>, or a
// package path from the repository's root) once per test binary and
// returns its path.
func binary(t testing.TB, name string) string {
	t.Helper()
	f, _ := builds.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		_, self, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "orc-driver-test-")
		if err != nil {
			return "", err
		}
		pkg := "./" + name
		if !strings.Contains(name, "/") {
			pkg = "./cmd/" + name
		}
		bin := filepath.Join(dir, filepath.Base(name))
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = filepath.Join(filepath.Dir(self), "..", "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return "", errors.New(string(out))
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatalf("go build ./cmd/%s: %v", name, err)
	}
	return bin
}

// orcBinary builds the orc binary once per test binary.
func orcBinary(t testing.TB) string {
	t.Helper()
	return binary(t, "orc")
}

// containers returns the ids of the invocation's containers.
func containers(t *testing.T, id string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=orc.invocation="+id).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// waitContainers waits for the invocation to have n containers.
func waitContainers(t *testing.T, id string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if len(containers(t, id)) == n {
			return
		}
	}
	t.Fatalf("the invocation has %d containers, want %d", len(containers(t, id)), n)
}

// testWriter sends the driver's logs to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
