package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// TestWarmFastPath: a short warm call commits its result and its start in
// one statement, and is recorded like any run (one attempt, started,
// worker, node, queue time); a long one shows running while it runs and
// can be canceled; an input too large to travel with the task takes the
// usual path.
func TestWarmFastPath(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(warmEcho(t, "echo-fast", 1, 2, 4))
	waitServers(t, s.cfg.QueuePrefix, "echo-fast", "1.0.0", 1, 30*time.Second)

	check := func(inv *orc.Invocation, what string) {
		t.Helper()
		if inv.Status != orc.StatusSucceeded || inv.Attempts != 1 || inv.StartedAt == nil || inv.FinishedAt == nil ||
			inv.StartedAt.After(*inv.FinishedAt) || inv.Worker == "" || inv.Node == "" || inv.Timing.QueueMS < 0 {
			t.Fatalf("%s: %+v", what, inv)
		}
	}
	for i := 0; i < 3; i++ {
		resp := s.do("POST", "/invoke/echo-fast", fmt.Sprintf(`{"n":%d}`, i))
		if resp.status != http.StatusOK || string(resp.body) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("short call: %d %s", resp.status, resp.body)
		}
		if !strings.Contains(resp.header.Get("Server-Timing"), "queue;dur=") {
			t.Fatalf("Server-Timing = %q", resp.header.Get("Server-Timing"))
		}
		check(s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal), "short call")
	}

	// Asynchronous short calls take the same path.
	id := s.invokeAsync(t, "echo-fast", `{"async":true}`)
	check(s.waitFor(id, 10*time.Second, terminal), "async short call")

	// A long call is running while it runs.
	id = s.invokeAsync(t, "echo-fast", `{"sleep_ms":1500}`)
	s.waitFor(id, 10*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	check(s.waitFor(id, 10*time.Second, terminal), "long call")

	// And can be canceled.
	id = s.invokeAsync(t, "echo-fast", `{"sleep_ms":20000}`)
	s.waitFor(id, 10*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	if resp := s.do("POST", "/api/v1/invocations/"+id+"/cancel", nil); resp.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.status, resp.body)
	}
	if inv := s.waitFor(id, 10*time.Second, terminal); inv.Status != orc.StatusCanceled {
		t.Fatalf("canceled long call: %s", inv.Status)
	}

	// An input above orc.MaxTaskInput does not travel with the task.
	big := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", orc.MaxTaskInput))
	resp := s.do("POST", "/invoke/echo-fast", big)
	if resp.status != http.StatusOK || len(resp.body) != len(big) {
		t.Fatalf("large input: %d, %d bytes back of %d", resp.status, len(resp.body), len(big))
	}
	check(s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal), "large input")
}

// TestWarmConcurrentSyncCalls: concurrent synchronous calls, recorded while
// they are queued, all get their own result — also when a worker gets a
// task before its row is committed.
func TestWarmConcurrentSyncCalls(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Gateway.SyncGrace = 5 * time.Second; c.Worker.Concurrency = 8 }, false)
	m := warmEcho(t, "echo-conc", 1, 2, 8)
	m["timeout_s"] = 5
	s.register(m)
	waitServers(t, s.cfg.QueuePrefix, "echo-conc", "1.0.0", 1, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan string, 8*30)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				want := fmt.Sprintf(`{"c":%d,"i":%d}`, c, i)
				resp := s.do("POST", "/invoke/echo-conc", want)
				if resp.status != http.StatusOK || string(resp.body) != want {
					errs <- fmt.Sprintf("%s: %d %s", resp.header.Get("X-Orc-Invocation-Id"), resp.status, resp.body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
