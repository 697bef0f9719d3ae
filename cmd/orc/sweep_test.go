package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

// fastSweeps makes the sweeps run often and their bounds short.
func fastSweeps(c *Config) {
	c.Sweep.Every, c.Sweep.LostAfter, c.Sweep.StrandedAfter = 300*time.Millisecond, time.Second, 2*time.Second
}

// purgePool empties a pool's queue, as a broker that lost its messages
// would, and says how many it held.
func (s *stack) purgePool(pool string) int {
	t := s.t
	t.Helper()
	conn, err := amqp.Dial(s.cfg.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	n, err := ch.QueuePurge(s.cfg.QueuePrefix+".pool."+pool, false)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestQueuedInvocationsExpire: invocations of a pool that no worker serves
// end expired once their version's queue_timeout_s has passed, with the
// reason, whether a synchronous caller waits for them or not.
func TestQueuedInvocationsExpire(t *testing.T) {
	s := newStack(t, fastSweeps, false)
	s.register(manifest(t, "echo", func(m map[string]any) {
		m["name"], m["pool"], m["timeout_s"], m["queue_timeout_s"] = "echo-nowhere", "nowhere", 1, 2
	}))
	events, _ := s.openEvents(t, s.token, "")
	id := s.invokeAsync(t, "echo-nowhere", `{"a":1}`)
	// The live views hear of the expiry too.
	heard := make(chan []orc.Status, 1)
	go func() { heard <- events.statuses(id, 15*time.Second) }()

	// The synchronous call waits longer than the queue timeout (1 s run +
	// the grace), and is told it expired, not that it timed out.
	resp := s.do("POST", "/invoke/echo-nowhere", `{"b":2}`)
	if resp.status != http.StatusServiceUnavailable || resp.apiError(t).Error.Code != orc.EEXPIRED {
		t.Fatalf("sync call to a pool nobody serves: %d %s", resp.status, resp.body)
	}
	inv := s.waitFor(id, 10*time.Second, terminal)
	if inv.Status != orc.StatusExpired || inv.Error == nil || inv.Error.Code != orc.EEXPIRED ||
		!strings.Contains(inv.Error.Message, "queue_timeout_s (2 s)") {
		t.Fatalf("async invocation: %s %+v", inv.Status, inv.Error)
	}
	if inv.FinishedAt == nil || inv.Attempts != 0 {
		t.Errorf("expired invocation finished %v after %d attempts, want finished, 0", inv.FinishedAt, inv.Attempts)
	}
	if got := <-heard; len(got) == 0 || got[len(got)-1] != orc.StatusExpired {
		t.Errorf("the event stream told %v, want it to end expired", got)
	}
	// The invocation is final: cancel has nothing to stop.
	if resp := s.do("POST", "/api/v1/invocations/"+id+"/cancel", nil); resp.status != http.StatusConflict {
		t.Errorf("cancel of an expired invocation: %d %s", resp.status, resp.body)
	}

	// A version that is served is not touched however long its queue.
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["queue_timeout_s"] = "echo-served", 2 }))
	if inv := s.invokeSync(t, "echo-served", `{"c":3}`); inv.Status != orc.StatusSucceeded {
		t.Fatalf("served invocation: %s %+v", inv.Status, inv.Error)
	}
}

// TestLostTaskIsQueuedAgain: a queued invocation whose task the broker
// lost (its queue purged) is queued again by the sweep and runs.
func TestLostTaskIsQueuedAgain(t *testing.T) {
	s := newStack(t, fastSweeps, true)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"] = "echo-lost" }))
	id := s.invokeAsync(t, "echo-lost", `{"lost":true}`)
	deadline := time.Now().Add(5 * time.Second)
	for s.purgePool("default") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the task never reached its queue")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.startWorker()
	inv := s.waitFor(id, 20*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || string(inv.Output) != `{"lost":true}` || inv.Attempts != 1 {
		t.Fatalf("lost invocation: %s after %d attempts, output %s (%+v)", inv.Status, inv.Attempts, inv.Output, inv.Error)
	}
}

// TestStrandedInvocationIsQueuedAgain: a running invocation whose worker
// stopped reporting, and whose task the broker no longer holds, is queued
// again and finished by another worker.
func TestStrandedInvocationIsQueuedAgain(t *testing.T) {
	s := newStack(t, fastSweeps, true)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"] = "echo-stranded" }))
	id := s.invokeAsync(t, "echo-stranded", `{"stranded":true}`)
	deadline := time.Now().Add(5 * time.Second)
	for s.purgePool("default") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the task never reached its queue")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A worker that has never reported started it a minute ago, and went
	// silent with its task.
	if _, err := s.db.StartAttempt(context.Background(), id, "ghost-worker", "ghost-node", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.startWorker()
	inv := s.waitFor(id, 20*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || string(inv.Output) != `{"stranded":true}` || inv.Attempts != 2 || inv.Worker == "ghost-worker" {
		t.Fatalf("stranded invocation: %s after %d attempts on %s, output %s (%+v)", inv.Status, inv.Attempts, inv.Worker, inv.Output, inv.Error)
	}
}
