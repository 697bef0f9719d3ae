package docker_test

import (
	"context"
	"log/slog"
	"net"
	"os/exec"
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
	"github.com/orc-gateway/orc/runtime/drivertest"
)

const probeImage = drivertest.ProbeImage

// testInstallation is the installation of this run's drivers.
var testInstallation = drivertest.Installation("docker")

// TestDriver runs the driver suite against the Docker driver in process.
func TestDriver(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		Name: "docker", CLI: "docker", Installation: testInstallation,
		New: func(t *testing.T, l drivertest.Limits) drivertest.Driver {
			return newDriver(t, docker.Config{StdoutLimit: l.Stdout, StderrLimit: l.Stderr})
		},
	})
}

// TestRunHostConfig inspects a running container's host settings through
// the Engine API, then cancels its run.
func TestRunHostConfig(t *testing.T) {
	d := newDriver(t, docker.Config{})
	spec := &orc.ContainerSpec{
		InvocationID: drivertest.InvocationID(t),
		Attempt:      3,
		Image:        probeImage,
		Args:         []string{"sleep", "60000"},
		Resources:    orc.Resources{CPU: 1.5, MemoryMB: 64},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := d.Run(ctx, spec)
		done <- err
	}()

	info := waitRunning(t, spec.InvocationID)
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
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after cancel")
	}
}

// TestEngineDown: a driver whose engine cannot be reached says so, with
// orc.EUNAVAILABLE, on a run and on a fingerprint.
func TestEngineDown(t *testing.T) {
	down, err := docker.New(docker.Config{Host: "unix:///nonexistent/docker.sock"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })
	res, err := down.Run(context.Background(), &orc.ContainerSpec{InvocationID: drivertest.InvocationID(t),
		Image: probeImage, Args: []string{"sleep", "0"}})
	if code, msg := orc.ErrorCode(err), orc.ErrorMessage(err); code != orc.EUNAVAILABLE || msg != "the docker engine cannot be reached" {
		t.Errorf("Run = %+v, %v; want EUNAVAILABLE", res, err)
	}
	info, err := down.Fingerprint(context.Background())
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

// newDriver returns a driver for the engine of the environment, checked
// with Fingerprint, and makes sure the probe image exists. A missing engine
// fails the test: only -short skips it.
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
	drivertest.BuildProbe(t, "docker")
	return d
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

// waitRunning waits for the invocation's container to run and inspects it.
func waitRunning(t *testing.T, invocationID string) container.InspectResponse {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		list, err := engine(t).ContainerList(context.Background(), container.ListOptions{
			Filters: filters.NewArgs(filters.Arg("label", docker.LabelInvocation+"="+invocationID)),
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
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
	listener := drivertest.InvocationID(t)
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
	res, err := d.Run(context.Background(), &orc.ContainerSpec{InvocationID: drivertest.InvocationID(t), Image: probeImage,
		Args: []string{"dial", addr}, Network: orc.NetworkBridge})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); !strings.HasPrefix(got, "blocked") {
		t.Fatalf("a bridge container dialed another: %q, want blocked", got)
	}
}
