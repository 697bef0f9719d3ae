package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	chrome "github.com/orc-gateway/orc/internal/testenv/browser"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/runtime/plugin"
)

// TestDriverProcessKilled: a worker whose driver runs in a process of its
// own (orc driver docker over go-plugin) loses that process in the middle
// of an invocation. The invocation completes once, on its second attempt;
// the worker starts its driver again; the cluster view shows the driver
// and the invocation records it.
func TestDriverProcessKilled(t *testing.T) {
	bin := buildOrc(t)
	selfBinary = func() (string, error) { return bin, nil }
	t.Cleanup(func() { selfBinary = os.Executable })
	s := newStack(t, func(c *Config) { c.Worker.DriverProcess = true }, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["timeout_s"] = "echo-driver", 60 }))
	ext, ok := s.worker.Driver.(*plugin.External)
	if !ok {
		t.Fatalf("the worker's driver is a %T, want an external one", s.worker.Driver)
	}

	input := `{"message":"once","sleep_ms":4000}`
	id := s.invokeAsync(t, "echo-driver", input)
	s.waitFor(id, 30*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	waitContainer(t, id)
	pid := ext.Pid()
	if pid == 0 {
		t.Fatal("no driver process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	inv := s.waitFor(id, time.Minute, terminal)
	if inv.Status != orc.StatusSucceeded || inv.Attempts != 2 || inv.Driver != "docker" {
		t.Fatalf("after the driver died: status %s, attempts %d, driver %q; want succeeded on attempt 2 by docker (%+v)",
			inv.Status, inv.Attempts, inv.Driver, inv.Error)
	}
	var out map[string]any
	if err := json.Unmarshal(inv.Output, &out); err != nil || out["message"] != "once" {
		t.Errorf("output = %s, want the input's message", inv.Output)
	}
	var history struct {
		Attempts []orc.Attempt `json:"attempts"`
	}
	s.do("GET", "/api/v1/invocations/"+id+"/attempts", nil).json(t, &history)
	if attempts := history.Attempts; len(attempts) != 2 || attempts[0].Error == nil || attempts[0].Error.Message != "handed back: its container engine or driver was lost during the run" {
		t.Errorf("attempts = %+v, want the first handed back for its lost driver", history.Attempts)
	}
	if n := ext.Starts(); n != 2 {
		t.Errorf("the driver process was started %d times, want 2", n)
	}
	if left := containersOf(t, id); len(left) != 0 {
		t.Errorf("containers of the invocation remain: %v", left)
	}

	// The cluster view shows the worker's driver, from its heartbeats.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var c struct {
			Workers []*orc.WorkerInfo `json:"workers"`
		}
		resp := s.do("GET", "/api/v1/cluster", nil)
		if resp.status != http.StatusOK {
			t.Fatalf("cluster: %d %s", resp.status, resp.body)
		}
		resp.json(t, &c)
		if len(c.Workers) == 1 && c.Workers[0].Driver != nil {
			d := c.Workers[0].Driver
			if d.Name != "docker" || !d.External || !d.Healthy || d.Version == "" {
				t.Errorf("the worker's driver = %+v, want a healthy external docker", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster workers = %+v, want one with its driver", c.Workers)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitContainer waits for an invocation's container to exist.
func waitContainer(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if len(containersOf(t, id)) > 0 {
			return
		}
	}
	t.Fatalf("no container of %s", id)
}

func TestDriverChecksum(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	tests := []struct {
		name, flag, driver string
		want               string // hex; "" none
		err                bool
	}{
		{"none", "", "podman", "", false},
		{"one", sum, "podman", sum, false},
		{"by name", "docker=" + other + ",podman=" + sum, "podman", sum, false},
		{"not named", "docker=" + other, "podman", "", false},
		{"short", "abcd", "podman", "", true},
		{"not hex", strings.Repeat("zz", 32), "podman", "", true},
		{"bad pair", "podman=", "podman", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := driverChecksum(tt.flag, tt.driver)
			if (err != nil) != tt.err || hex.EncodeToString(got) != tt.want {
				t.Errorf("driverChecksum(%q, %q) = %x, %v; want %s (error %v)", tt.flag, tt.driver, got, err, tt.want, tt.err)
			}
		})
	}
}

// A worker refuses a driver it cannot find or whose name is not one, and
// says which.
func TestOpenDriverRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ driver, want string }{
		{"../../bin/sh", "want docker or a driver's name"},
		{"Podman", "want docker or a driver's name"},
		{"missing", "orc-driver-missing: no such file or directory"},
	} {
		cfg := DefaultConfig()
		cfg.Worker.Driver, cfg.Worker.DriverDir = tc.driver, dir
		_, err := openDriver(context.Background(), &cfg, slog.New(slog.DiscardHandler), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--driver %s: %v, want an error saying %q", tc.driver, err, tc.want)
		}
	}
}

// TestPodmanWorker: a worker whose driver is Podman, an external driver
// found in its driver folder and checked against its SHA-256, runs an exec
// invocation and a warm one; both record the driver, and the cluster view
// shows it.
func TestPodmanWorker(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "orc-driver-podman")
	if out, err := exec.Command("go", "build", "-o", bin, "../orc-driver-podman").CombinedOutput(); err != nil {
		t.Fatalf("build the podman driver: %v %s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(binData)
	testenv.PodmanImage(t, "orc-echo:1.0.0")
	s := newStack(t, func(c *Config) {
		c.Worker.Driver, c.Worker.DriverDir = "podman", dir
		c.Worker.DriverSHA256 = "docker=" + strings.Repeat("0", 64) + ",podman=" + hex.EncodeToString(sum[:])
	}, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"] = "echo-podman" }))
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["protocol"] = "echo-podman-warm", "http" }))
	var last string
	for _, plugin := range []string{"echo-podman", "echo-podman-warm"} {
		inv := s.invokeSync(t, plugin, `{"message":"podman"}`)
		last = inv.ID
		if inv.Status != orc.StatusSucceeded || inv.Driver != "podman" || !strings.Contains(string(inv.Output), `"podman"`) {
			t.Errorf("%s: status %s, driver %q, output %s; want succeeded by podman", plugin, inv.Status, inv.Driver, inv.Output)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var c struct {
			Workers []*orc.WorkerInfo `json:"workers"`
		}
		s.do("GET", "/api/v1/cluster", nil).json(t, &c)
		if len(c.Workers) == 1 && c.Workers[0].Driver != nil {
			if d := c.Workers[0].Driver; d.Name != "podman" || !d.External || !d.Healthy || !strings.Contains(d.Detail, "rootful") {
				t.Errorf("the worker's driver = %+v, want a healthy external rootful podman", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster workers = %+v, want one with its driver", c.Workers)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The console shows the driver of the worker and of the invocation.
	b := chrome.New(t)
	base := s.gw.URL()
	consoleSignIn(t, b, base, adminEmail, adminPassword)
	b.Navigate(t, base+"/console/cluster")
	b.WaitVisible(t, "table")
	if body := b.Text(t, "main"); !strings.Contains(body, "podman 4.") || !strings.Contains(body, "own process") {
		t.Errorf("the cluster page does not show the worker's podman driver:\n%s", body)
	}
	consoleShot(t, b, "cluster-driver")
	b.Navigate(t, base+"/console/invocations/"+last)
	b.WaitVisible(t, "dl")
	if body := b.Text(t, "dl"); !strings.Contains(body, "Driver") || !strings.Contains(body, "podman") {
		t.Errorf("the invocation page does not show its driver:\n%s", body)
	}
	consoleShot(t, b, "invocation-driver")
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("the pages logged errors: %q", errs)
	}
}

// A worker killed with kill -9 takes its driver process with it (go-plugin's
// server ends when its connection to the worker does): restarts of a
// worker leave no driver processes behind.
func TestDriverProcessEndsWithItsWorker(t *testing.T) {
	s := newStack(t, nil, true)
	worker := s.workerProcess("--driver-process")
	var driver int
	for deadline := time.Now().Add(30 * time.Second); driver == 0; time.Sleep(100 * time.Millisecond) {
		for _, pid := range procTree(worker.Process.Pid)[1:] {
			if procParent(pid) == worker.Process.Pid && procName(pid) == "orc" {
				driver = pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker started no driver process")
		}
	}
	if err := worker.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	worker.Wait() //nolint:errcheck // killed
	for deadline := time.Now().Add(10 * time.Second); procParent(driver) != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the driver process %d outlived its worker by 10s", driver)
		}
	}
}
