package main

import (
	"context"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// TestWorkerKilledMidRun kills -9 the worker while the plugin runs: the task
// is delivered again, runs on another worker, and is recorded once.
func TestWorkerKilledMidRun(t *testing.T) {
	s := newStack(t, nil, true)
	s.register(manifest(t, "echo", func(m map[string]any) { m["timeout_s"] = 60 }))
	first := s.workerProcess()

	resp := s.do("POST", "/invoke/echo", `{"sleep_ms": 3000, "n": 7}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	id := resp.header.Get("X-Orc-Invocation-Id")
	running := s.waitFor(id, 30*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	waitContainers(t, id, 1)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()

	s.workerProcess()
	inv := s.waitFor(id, 60*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || string(inv.Output) != `{"sleep_ms":3000,"n":7}` {
		t.Fatalf("after the kill: %+v output %s", inv, inv.Output)
	}
	if inv.Attempts != 2 || inv.Worker == running.Worker {
		t.Fatalf("attempts %d on worker %s (first %s), want 2 on another worker", inv.Attempts, inv.Worker, running.Worker)
	}
	// The orphaned container of the first attempt is gone too.
	waitContainers(t, id, 0)
	// Exactly once: one invocation, one final result, no further changes.
	time.Sleep(500 * time.Millisecond)
	again := s.waitFor(id, time.Second, terminal)
	if again.Attempts != 2 || again.FinishedAt == nil || !again.FinishedAt.Equal(*inv.FinishedAt) {
		t.Fatalf("invocation changed after its result: %+v", again)
	}
}

// TestBrokerRestart restarts RabbitMQ between two invocations: while it is
// down the gateway answers 503 at once; after it is back, the second
// invocation succeeds without restarting Orc.
func TestBrokerRestart(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", nil))
	if resp := s.do("POST", "/invoke/echo", `{"call": 1}`); resp.status != http.StatusOK {
		t.Fatalf("first invoke: %d %s", resp.status, resp.body)
	}

	rabbitmqctl(t, "stop_app")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			rabbitmqctl(t, "start_app")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for s.do("GET", "/readyz", nil).status != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("readyz still ok with the broker down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	resp := s.do("POST", "/invoke/echo", `{"call": "down"}`)
	if resp.status != http.StatusServiceUnavailable || resp.apiError(t).Error.Code != orc.EUNAVAILABLE {
		t.Fatalf("invoke with the broker down: %d %s", resp.status, resp.body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("invoke with the broker down took %s", took)
	}

	rabbitmqctl(t, "start_app")
	restarted = true
	deadline = time.Now().Add(60 * time.Second)
	for s.do("GET", "/readyz", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("gateway did not reconnect to the broker")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.worker.Broker.WaitReady(waitCtx(t, 60*time.Second)); err != nil {
		t.Fatalf("worker did not reconnect: %v", err)
	}
	resp = s.do("POST", "/invoke/echo", `{"call": 2}`)
	if resp.status != http.StatusOK || string(resp.body) != `{"call":2}` {
		t.Fatalf("second invoke: %d %s", resp.status, resp.body)
	}
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
	}
}
