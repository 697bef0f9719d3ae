// Package drivertest is the test suite every container driver passes:
// the same assertions (hardening, exec, warm servers, timeouts, cancels,
// output caps, reaping) against the built-in Docker driver in process,
// the Docker driver over go-plugin, and the Podman driver.
//
// A driver's tests call Run with a Harness: how to make the driver, and
// the engine's command line, through which the suite checks the driver's
// work (docker and podman take the same commands for what it asks).
package drivertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// ProbeImage is the suite's test image, built from testdata/probe.
const ProbeImage = "orc-test-probe:latest"

// The labels every driver sets on its containers (containerproto's), by
// which the suite finds them through the engine's CLI.
const (
	LabelManaged      = containerproto.LabelManaged
	LabelInvocation   = containerproto.LabelInvocation
	LabelAttempt      = containerproto.LabelAttempt
	LabelDeadline     = containerproto.LabelDeadline
	LabelInstallation = containerproto.LabelInstallation
	LabelServer       = containerproto.LabelServer
)

// Driver is what the suite tests: the whole driver contract.
type Driver interface {
	orc.Driver
	orc.Fingerprinter
	orc.Reaper
	orc.OutputStreamer
	orc.Servers
}

// Limits are a driver's output caps; zero fields take the driver's
// defaults.
type Limits struct {
	Stdout, Stderr int64
}

// Harness is a driver under test.
type Harness struct {
	// Name is the driver's name as Fingerprint reports it.
	Name string
	// CLI is the engine's command line, docker or podman.
	CLI string
	// Installation is the installation the drivers New makes belong to.
	Installation string
	// New returns a driver with the given caps, closed by t's cleanup.
	New func(t *testing.T, limits Limits) Driver
}

// Installation returns an installation name unique to this test binary
// and engine: an Orc on the same engine keeps its containers through the
// suite's reaps.
func Installation(engine string) string {
	return fmt.Sprintf("orct-%s-%d", engine, os.Getpid())
}

var probeOnce sync.Map // CLI -> func() error

// BuildProbe builds the probe image on the engine of cli, once per test
// binary.
func BuildProbe(t testing.TB, cli string) {
	t.Helper()
	f, _ := probeOnce.LoadOrStore(cli, sync.OnceValue(func() error { return buildProbe(cli) }))
	if err := f.(func() error)(); err != nil {
		t.Fatal(err)
	}
}

func buildProbe(cli string) error {
	_, self, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "orc-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "probe"), "./testdata/probe")
	build.Dir = filepath.Dir(self)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build probe: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY probe /probe\nUSER 65534:65534\nENTRYPOINT [\"/probe\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	img := exec.Command(cli, "build", "-q", "-t", ProbeImage, dir)
	img.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("%s build probe: %v\n%s", cli, err, out)
	}
	return nil
}

// InvocationID returns an invocation id unique to the test and the moment.
func InvocationID(t testing.TB) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("test-%s-%d", name, time.Now().UnixNano())
}

// engine runs the engine's command line.
type engine struct {
	cli string
}

func (e engine) run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(e.cli, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v %s", e.cli, strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(string(out))
}

// containers returns the ids of the containers, in any state, that have
// the label.
func (e engine) containers(t testing.TB, label string) []string {
	t.Helper()
	return strings.Fields(e.run(t, "ps", "-a", "-q", "--no-trunc", "--filter", "label="+label))
}

// ofInvocation returns the ids of the invocation's containers.
func (e engine) ofInvocation(t testing.TB, id string) []string {
	t.Helper()
	return e.containers(t, LabelInvocation+"="+id)
}

// wantRemoved checks that no container of the invocation remains.
func (e engine) wantRemoved(t testing.TB, id string) {
	t.Helper()
	for _, c := range e.ofInvocation(t, id) {
		t.Errorf("container %.12s of %s remains", c, id)
	}
}

// labels returns a container's labels.
func (e engine) labels(t testing.TB, id string) map[string]string {
	t.Helper()
	var l map[string]string
	if err := json.Unmarshal([]byte(e.run(t, "inspect", "--format", "{{json .Config.Labels}}", id)), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// waitRunning waits for the invocation's container to run and returns it.
func (e engine) waitRunning(t testing.TB, id string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ids := strings.Fields(e.run(t, "ps", "-q", "--no-trunc", "--filter", "label="+LabelInvocation+"="+id, "--filter", "status=running"))
		if len(ids) > 0 {
			return ids[0]
		}
	}
	t.Fatalf("no running container of %s", id)
	return ""
}

// startLeftover starts a probe container labelled as a driver labels its
// own, as a worker killed mid-run would leave it: still running, or
// exited. The test's cleanup removes it if the test did not.
func (e engine) startLeftover(t testing.TB, installation, invocationID string, attempt int, running bool, deadline time.Time) {
	t.Helper()
	// Leftovers stand for what a driver left: they take rlimits any
	// host allows, as the drivers' containers do.
	args := []string{"run", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--label", LabelManaged + "=true", "--label", LabelInvocation + "=" + invocationID,
		"--label", fmt.Sprintf("%s=%d", LabelAttempt, attempt), "--label", LabelInstallation + "=" + installation}
	if !deadline.IsZero() {
		args = append(args, "--label", fmt.Sprintf("%s=%d", LabelDeadline, deadline.Unix()))
	}
	if running {
		args = append(args, "-d", ProbeImage, "sleep", "60000")
	} else {
		args = append(args, ProbeImage, "fail", "0", "done")
	}
	t.Cleanup(func() {
		for _, id := range e.ofInvocation(t, invocationID) {
			exec.Command(e.cli, "rm", "-f", id).Run() //nolint:errcheck // gone already, as the test wanted
		}
	})
	e.run(t, args...)
}

// run runs spec and fails the test on an error.
func run(t *testing.T, d orc.Driver, ctx context.Context, spec *orc.ContainerSpec) *orc.ContainerResult {
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

// Report is what `probe sandbox` prints.
type Report struct {
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

func sandboxReport(t *testing.T, res *orc.ContainerResult) Report {
	t.Helper()
	var r Report
	if res.ExitCode != 0 {
		t.Fatalf("probe sandbox exited %d: %s", res.ExitCode, res.Stderr)
	}
	if err := json.Unmarshal(res.Stdout, &r); err != nil {
		t.Fatalf("probe sandbox printed %q: %v", res.Stdout, err)
	}
	return r
}
