package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
)

// The author commands are package internal/cli, whose own tests run them
// against a fake gateway. The tests here run them through the binary's run
// against a real stack, which only this package can start.

// pythonBaseImage and pythonBaseScript are the names of Orc's Python base
// image and the script that builds it, as a failed plugin build gives them.
const (
	pythonBaseImage  = "orc-python-base"
	pythonBaseScript = "deploy/images/python-base/build.sh"
)

// cliEnv points the author commands at a config file of the test's own,
// with nothing from the environment.
func cliEnv(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orc", "config.json")
	t.Setenv("ORC_CONFIG", path)
	for _, v := range []string{"ORC_URL", "ORC_TOKEN", "ORC_PASSWORD"} {
		t.Setenv(v, "")
	}
	return path
}

// runCLI runs the orc command line as main does and returns its exit code
// and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// cliSession runs the orc command line in process against a stack, signed
// in as the admin through `orc login`.
type cliSession struct {
	t *testing.T
	s *stack
}

func newCLISession(t *testing.T) *cliSession {
	t.Helper()
	s := newStack(t, nil, false)
	cliEnv(t)
	t.Setenv("ORC_PASSWORD", adminPassword)
	c := &cliSession{t: t, s: s}
	out, _ := c.ok("login", "--url", s.gw.URL(), "--email", adminEmail)
	if !strings.Contains(out, "as "+adminEmail+" (admin)") {
		t.Fatalf("login printed %q", out)
	}
	return c
}

// ok runs a command that must succeed and returns its output.
func (c *cliSession) ok(args ...string) (string, string) {
	c.t.Helper()
	code, out, errOut := runCLI(c.t, args...)
	if code != 0 {
		c.t.Fatalf("orc %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// fails runs a command that must exit with 1 and returns its stderr.
func (c *cliSession) fails(args ...string) string {
	c.t.Helper()
	code, out, errOut := runCLI(c.t, args...)
	if code != 1 {
		c.t.Fatalf("orc %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return errOut
}

// initAndBuild writes a new plugin project with a unique image tag, builds
// its image (removed when the test ends) and returns the project's
// directory.
func (c *cliSession) initAndBuild(lang, name string) string {
	t := c.t
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	image := "orc-cli-test-" + name + ":" + testenv.Suffix()
	c.ok("plugin", "init", "--lang", lang, "--dir", dir, "--image", image, name)
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "image", "rm", "-f", image).CombinedOutput(); err != nil {
			t.Logf("remove %s: %v %s", image, err, out)
		}
	})
	out, errOut := c.ok("plugin", "build", dir)
	if !strings.HasPrefix(out, "Built "+image+" (") || !strings.Contains(errOut, "build: Step 1/") {
		t.Fatalf("build printed %q, progress %q", out, errOut)
	}
	testenv.Image(t, image)
	return dir
}

// invocationIDRE finds the invocation id in invoke's report on stderr.
var invocationIDRE = regexp.MustCompile(`invocation (\S+) \(`)

// roundTrip deploys a built plugin and calls it in every way the CLI can.
func (c *cliSession) roundTrip(dir, name string) {
	t := c.t
	t.Helper()
	out, _ := c.ok("plugin", "deploy", dir)
	if want := "Endpoint: POST " + c.s.gw.URL() + "/invoke/" + name + "\n"; !strings.Contains(out, want) || !strings.Contains(out, "Deployed "+name+" 0.1.0") {
		t.Fatalf("deploy printed %q, want %q", out, want)
	}
	if errOut := c.fails("plugin", "deploy", dir); !strings.Contains(errOut, `bump "version"`) {
		t.Errorf("a second deploy said %q", errOut)
	}

	// Synchronous: the output on stdout, the invocation on stderr.
	out, errOut := c.ok("invoke", name, "-d", `{"name": "Ada"}`)
	var greeting struct {
		Greeting string `json:"greeting"`
	}
	if err := json.Unmarshal([]byte(out), &greeting); err != nil || greeting.Greeting != "Hello, Ada!" {
		t.Fatalf("invoke printed %q (%v)", out, err)
	}
	m := invocationIDRE.FindStringSubmatch(errOut)
	if m == nil || !strings.Contains(errOut, "run ") {
		t.Fatalf("invoke reported %q", errOut)
	}
	syncID := m[1]
	out, _ = c.ok("logs", syncID)
	if !strings.Contains(out, "stderr  greeting Ada\n") {
		t.Errorf("logs of %s: %q", syncID, out)
	}

	// Asynchronous, waiting for the end.
	out, _ = c.ok("invoke", name, "-d", `{"name": "Grace"}`, "--async", "--wait", "--json", "--poll", "100ms")
	var inv orc.Invocation
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatalf("invoke --async --wait --json printed %q: %v", out, err)
	}
	if inv.Status != orc.StatusSucceeded || !inv.Async || !strings.Contains(string(inv.Output), "Hello, Grace!") {
		t.Fatalf("waited invocation = %+v, output %s", inv, inv.Output)
	}
	out, errOut = c.ok("logs", "-f", inv.ID)
	if !strings.Contains(out, "stderr  greeting Grace\n") || errOut != "invocation "+inv.ID+" succeeded\n" {
		t.Errorf("logs -f of %s: %q %q", inv.ID, out, errOut)
	}

	// Asynchronous without waiting: the id on stdout.
	out, _ = c.ok("invoke", name, "-d", `{"name": "Edsger"}`, "--async")
	id := strings.TrimSpace(out)
	if got := c.s.waitFor(id, time.Minute, terminal); got.Status != orc.StatusSucceeded {
		t.Errorf("async invocation %s = %+v", id, got)
	}

	// The gateway's refusal of bad input, with the violation.
	if errOut := c.fails("invoke", name, "-d", `{"name": 42}`); !strings.Contains(errOut, "orc: invalid: ") || !strings.Contains(errOut, "/name") {
		t.Errorf("bad input said %q", errOut)
	}
	// The handler's refusal: the schema allows a blank name, the handler does not.
	errOut = c.fails("invoke", name, "-d", `{"name": "  "}`)
	if !strings.Contains(errOut, "name is empty") || !invocationIDRE.MatchString(errOut) {
		t.Errorf("a blank name said %q", errOut)
	}
}

// TestCLIRoundTrip is an author's first hour with Orc, through the orc
// command line: sign in, write a Go plugin, build its image, deploy it,
// call it and read its logs.
func TestCLIRoundTrip(t *testing.T) {
	c := newCLISession(t)
	dir := c.initAndBuild("go", "hello")
	c.roundTrip(dir, "hello")
}

// TestCLIRoundTripPython is the same with a Python plugin, built FROM Orc's
// Python base image. Without that image it checks that the build names
// the script that makes it.
func TestCLIRoundTripPython(t *testing.T) {
	c := newCLISession(t)
	if err := exec.Command("docker", "image", "inspect", pythonBaseImage+":bookworm").Run(); err != nil {
		dir := filepath.Join(t.TempDir(), "hello-py")
		c.ok("plugin", "init", "--lang", "python", "--dir", dir, "--image", "orc-cli-test-never:"+testenv.Suffix(), "hello-py")
		if errOut := c.fails("plugin", "build", dir); !strings.Contains(errOut, pythonBaseScript) {
			t.Fatalf("a build without the base image said %q", errOut)
		}
		t.Logf("%s:bookworm is missing (%s builds it): checked the build's message, not the round trip", pythonBaseImage, pythonBaseScript)
		return
	}
	dir := c.initAndBuild("python", "hello-py")
	c.roundTrip(dir, "hello-py")
}
