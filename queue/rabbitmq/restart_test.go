package rabbitmq

import (
	"context"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// rabbitmqctl runs a rabbitmqctl command against the local node.
func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
	}
	t.Logf("rabbitmqctl %v took %s", args, time.Since(start).Round(time.Millisecond))
}

// TestBrokerRestart stops and starts the RabbitMQ application under a
// running Broker. It is not parallel, so the package's parallel tests wait
// for it; other packages' tests using the same broker at the same time see
// the restart too.
func TestBrokerRestart(t *testing.T) {
	needBroker(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Fatalf("the restart test needs rabbitmqctl on PATH: %v", err)
	}
	b := newBroker(t, Config{ReconnectMax: time.Second})
	ctx := context.Background()

	replies := make(chan string, 10)
	b.OnReply(func(r *orc.Reply) { replies <- r.InvocationID })
	cancels := make(chan string, 10)
	b.OnCancel(func(id string) { cancels <- id })

	got := make(chan string, 10)
	stop := consumeInBackground(t, b, "live", 1, func(ctx context.Context, d *Delivery) error {
		got <- d.Task.InvocationID
		return nil
	})
	if err := b.Publish(ctx, &orc.Task{InvocationID: "before", Pool: "live"}); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, got, 5*time.Second, "delivery before the restart"); id != "before" {
		t.Fatalf("got %q, want before", id)
	}
	// Parked in a pool nobody consumes yet; it must survive the restart.
	if err := b.Publish(ctx, &orc.Task{InvocationID: "parked", Pool: "parked"}); err != nil {
		t.Fatal(err)
	}

	var stopped atomic.Bool
	t.Cleanup(func() {
		if stopped.Load() {
			rabbitmqctl(t, "start_app")
		}
	})
	stopped.Store(true)
	rabbitmqctl(t, "stop_app")

	eventually(t, 10*time.Second, "Ready() reports the lost connection", func() bool { return b.Ready() != nil })
	if code := orc.ErrorCode(b.Ready()); code != orc.EUNAVAILABLE {
		t.Errorf("Ready() code = %q while down, want %q", code, orc.EUNAVAILABLE)
	}
	start := time.Now()
	err := b.Publish(ctx, &orc.Task{InvocationID: "while-down", Pool: "live"})
	if code := orc.ErrorCode(err); code != orc.EUNAVAILABLE {
		t.Errorf("Publish while down = %v, want code %q", err, orc.EUNAVAILABLE)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Publish while down took %s, want under 1s", d)
	}

	rabbitmqctl(t, "start_app")
	stopped.Store(false)
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.WaitReady(waitCtx); err != nil {
		t.Fatalf("not reconnected 30s after start_app: %v", err)
	}
	if err := b.Ready(); err != nil {
		t.Errorf("Ready() after reconnect = %v", err)
	}

	// Quorum queues may take a moment to elect their leader after a
	// restart; the gateway answers 503 meanwhile.
	var perr error
	eventually(t, 15*time.Second, "Publish after the restart succeeds", func() bool {
		perr = b.Publish(ctx, &orc.Task{InvocationID: "after", Pool: "live"})
		return perr == nil
	})
	if id := recv(t, got, 10*time.Second, "delivery after the restart"); id != "after" {
		t.Errorf("the reconnected Consume got %q, want after", id)
	}
	// The reply and cancel subscriptions are back too.
	if err := b.Reply(ctx, b.ReplyQueue(), &orc.Reply{InvocationID: "after", Status: orc.StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, replies, 5*time.Second, "reply after the restart"); id != "after" {
		t.Errorf("reply for %q, want after", id)
	}
	if err := b.BroadcastCancel(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, cancels, 5*time.Second, "cancel after the restart"); id != "after" {
		t.Errorf("cancel of %q, want after", id)
	}
	if err := stop(); err != nil {
		t.Errorf("Consume = %v, want nil", err)
	}

	parked := make(chan string, 1)
	consumeInBackground(t, b, "parked", 1, func(ctx context.Context, d *Delivery) error {
		parked <- d.Task.InvocationID
		return nil
	})
	if id := recv(t, parked, 10*time.Second, "task published before the restart"); id != "parked" {
		t.Errorf("got %q, want parked", id)
	}
}
