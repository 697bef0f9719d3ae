package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// serversOf lists the running warm containers of a plugin version of an
// installation (queue prefix): other installations on the engine may run
// the same plugin.
func serversOf(t testing.TB, prefix, plugin, version string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=orc.server",
		"--filter", "label=orc.installation="+prefix, "--filter", "label=orc.plugin="+plugin, "--filter", "label=orc.version="+version).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	return strings.Fields(string(out))
}

func waitServers(t testing.TB, prefix, plugin, version string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(serversOf(t, prefix, plugin, version)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s %s has %d warm containers, want %d", plugin, version, len(serversOf(t, prefix, plugin, version)), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func warmEcho(t testing.TB, name string, minWarm, maxReplicas, concurrency int) map[string]any {
	return manifest(t, "echo", func(m map[string]any) {
		m["name"], m["protocol"] = name, "http"
		m["min_warm"], m["max_replicas"], m["concurrency"] = minWarm, maxReplicas, concurrency
		m["timeout_s"] = 30
	})
}

func TestWarmPool(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(warmEcho(t, "echo-warm", 1, 2, 2))

	// min_warm: a ready container before the first call.
	waitServers(t, s.cfg.QueuePrefix, "echo-warm", "1.0.0", 1, 30*time.Second)
	for i := 0; i < 3; i++ {
		resp := s.do("POST", "/invoke/echo-warm", fmt.Sprintf(`{"call": %d}`, i))
		if resp.status != http.StatusOK || string(resp.body) != fmt.Sprintf(`{"call":%d}`, i) {
			t.Fatalf("call %d: %d %s", i, resp.status, resp.body)
		}
		inv := s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal)
		if inv.ColdStart || inv.Timing.ColdMS != 0 {
			t.Fatalf("call %d on a warm container recorded a cold start: %+v", i, inv.Timing)
		}
		if !strings.Contains(resp.header.Get("Server-Timing"), "cold;dur=0.0") {
			t.Fatalf("Server-Timing = %q", resp.header.Get("Server-Timing"))
		}
	}
	if n := len(serversOf(t, s.cfg.QueuePrefix, "echo-warm", "1.0.0")); n != 1 {
		t.Fatalf("sequential calls started %d containers, want the one warm container", n)
	}

	// More concurrent calls than 2 containers × 2 slots: they wait, none is
	// refused, and the pool grows to max_replicas only.
	var wg sync.WaitGroup
	statuses := make([]int, 7)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.do("POST", "/invoke/echo-warm", `{"sleep_ms": 700}`).status
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Fatalf("concurrent call %d: %d", i, st)
		}
	}
	if n := len(serversOf(t, s.cfg.QueuePrefix, "echo-warm", "1.0.0")); n != 2 {
		t.Fatalf("%d containers under load, want max_replicas 2", n)
	}

	// A plugin error fails the call and the container keeps serving.
	resp := s.do("POST", "/invoke/echo-warm", `{"fail": "bad model"}`)
	if resp.status != http.StatusBadGateway || !strings.Contains(string(resp.body), "bad model") {
		t.Fatalf("failing call: %d %s", resp.status, resp.body)
	}

	// A container killed mid-call: the call ends clearly, the pool heals.
	resp = s.do("POST", "/invoke/echo-warm", `{"sleep_ms": 20000}`, "Prefer", "respond-async")
	id := resp.header.Get("X-Orc-Invocation-Id")
	s.waitFor(id, 10*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	time.Sleep(300 * time.Millisecond)
	for _, c := range serversOf(t, s.cfg.QueuePrefix, "echo-warm", "1.0.0") {
		exec.Command("docker", "kill", c).Run() //nolint:errcheck
	}
	inv := s.waitFor(id, 30*time.Second, terminal)
	if inv.Status != orc.StatusFailed || inv.Error == nil || !strings.Contains(inv.Error.Message, "stopped answering") {
		t.Fatalf("call on a killed container: %+v %+v", inv, inv.Error)
	}
	if resp := s.do("POST", "/invoke/echo-warm", `{"after": "kill"}`); resp.status != http.StatusOK {
		t.Fatalf("call after the kill: %d %s", resp.status, resp.body)
	}
}

func TestWarmScaleToZero(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Worker.IdleTimeout = 2 * time.Second }, false)
	s.register(warmEcho(t, "echo-idle", 0, 1, 1))
	if n := len(serversOf(t, s.cfg.QueuePrefix, "echo-idle", "1.0.0")); n != 0 {
		t.Fatalf("min_warm 0 started %d containers", n)
	}
	resp := s.do("POST", "/invoke/echo-idle", `{"x": 1}`)
	if resp.status != http.StatusOK {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	inv := s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal)
	if !inv.ColdStart || inv.Timing.ColdMS <= 0 {
		t.Fatalf("the first call started a container but recorded no cold start: %+v", inv.Timing)
	}
	waitServers(t, s.cfg.QueuePrefix, "echo-idle", "1.0.0", 1, time.Second)
	waitServers(t, s.cfg.QueuePrefix, "echo-idle", "1.0.0", 0, 20*time.Second)

	// A new version never reuses the old version's containers.
	m := warmEcho(t, "echo-idle", 0, 1, 1)
	m["version"] = "1.1.0"
	s.register(m)
	if resp := s.do("POST", "/invoke/echo-idle", `{"x": 2}`); resp.status != http.StatusOK || resp.header.Get("X-Orc-Version") != "1.1.0" {
		t.Fatalf("new version: %d %v", resp.status, resp.header)
	}
	if n := len(serversOf(t, s.cfg.QueuePrefix, "echo-idle", "1.0.0")); n != 0 {
		t.Fatalf("old version's containers: %d", n)
	}
}

// TestClassifier runs the scikit-learn example through Orc: warm
// containers, the model loaded once, correct classes for known samples.
func TestClassifier(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "classifier", nil))
	waitServers(t, s.cfg.QueuePrefix, "classifier", "1.0.0", 1, 60*time.Second)
	for _, tc := range []struct {
		features string
		class    string
	}{
		{"[5.1, 3.5, 1.4, 0.2]", "setosa"},
		{"[5.9, 3.0, 4.2, 1.5]", "versicolor"},
		{"[6.7, 3.0, 5.2, 2.3]", "virginica"},
	} {
		resp := s.do("POST", "/invoke/classifier", `{"features": `+tc.features+`}`)
		if resp.status != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.features, resp.status, resp.body)
		}
		var out struct {
			Class         string             `json:"class"`
			Probabilities map[string]float64 `json:"probabilities"`
		}
		resp.json(t, &out)
		sum := 0.0
		for _, p := range out.Probabilities {
			sum += p
		}
		if out.Class != tc.class || sum < 0.99 || sum > 1.01 {
			t.Fatalf("%s: %s", tc.features, resp.body)
		}
		inv := s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal)
		if inv.ColdStart {
			t.Fatalf("a call to the warm classifier started a container")
		}
	}
	if resp := s.do("POST", "/invoke/classifier", `{"features": [1, 2]}`); resp.status != http.StatusBadRequest {
		t.Fatalf("short features: %d %s", resp.status, resp.body)
	}
	if n := len(serversOf(t, s.cfg.QueuePrefix, "classifier", "1.0.0")); n != 1 {
		t.Fatalf("%d classifier containers for sequential calls, want 1", n)
	}
}
