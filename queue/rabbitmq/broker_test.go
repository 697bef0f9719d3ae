package rabbitmq

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// syncBuffer is a bytes.Buffer safe for the Broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUnreachableBrokerFailsFast(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	b := Open(Config{
		URL:          "amqp://orc:s3cret-pw@127.0.0.1:1/",
		Prefix:       testPrefix(t),
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	defer b.Close()

	if code := orc.ErrorCode(b.Ready()); code != orc.EUNAVAILABLE {
		t.Errorf("Ready() code = %q, want %q", code, orc.EUNAVAILABLE)
	}
	start := time.Now()
	err := b.Publish(context.Background(), &orc.Task{InvocationID: "inv-1", Pool: "default"})
	if code := orc.ErrorCode(err); code != orc.EUNAVAILABLE {
		t.Errorf("Publish() = %v, want code %q", err, orc.EUNAVAILABLE)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Publish took %s while disconnected, want it immediate", d)
	}
	if _, err := b.QueueDepth(context.Background(), "default"); orc.ErrorCode(err) != orc.EUNAVAILABLE {
		t.Errorf("QueueDepth() = %v, want code %q", err, orc.EUNAVAILABLE)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = b.WaitReady(ctx)
	if code := orc.ErrorCode(err); code != orc.EUNAVAILABLE {
		t.Errorf("WaitReady() = %v, want code %q", err, orc.EUNAVAILABLE)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("WaitReady() = %v, want the last dial error in it", err)
	}

	start = time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s while redialing", d)
	}
	if code := orc.ErrorCode(b.Ready()); code != orc.EUNAVAILABLE {
		t.Errorf("Ready() after Close code = %q, want %q", code, orc.EUNAVAILABLE)
	}
	out := logs.String()
	if strings.Contains(out, "s3cret-pw") {
		t.Errorf("logs contain the password:\n%s", out)
	}
	if !strings.Contains(out, "cannot connect") {
		t.Errorf("logs do not mention the failed dials:\n%s", out)
	}
}

func TestPublishRejectsBadTasks(t *testing.T) {
	t.Parallel()
	b := Open(Config{URL: "amqp://127.0.0.1:1/", Logger: slog.New(slog.DiscardHandler)})
	defer b.Close()
	tests := []struct {
		name string
		task *orc.Task
	}{
		{"nil", nil},
		{"no invocation id", &orc.Task{Pool: "default"}},
		{"no pool", &orc.Task{InvocationID: "inv-1"}},
		{"pool too long", &orc.Task{InvocationID: "inv-1", Pool: strings.Repeat("p", 300)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Publish(context.Background(), tt.task)
			if code := orc.ErrorCode(err); code != orc.EINVALID {
				t.Errorf("Publish() = %v, want code %q", err, orc.EINVALID)
			}
		})
	}
}

func TestQueueDepth(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	ctx := context.Background()

	if n, err := b.QueueDepth(ctx, "nothing-here"); err != nil || n != 0 {
		t.Errorf("QueueDepth(no queue) = %d, %v; want 0, nil", n, err)
	}
	const tasks = 40
	var wg sync.WaitGroup
	errs := make(chan error, tasks)
	for i := range tasks {
		wg.Go(func() {
			errs <- b.Publish(ctx, &orc.Task{InvocationID: fmt.Sprintf("inv-%d", i), Pool: "depth"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	if n, err := b.QueueDepth(ctx, "depth"); err != nil || n != tasks {
		t.Errorf("QueueDepth = %d, %v; want %d, nil", n, err, tasks)
	}
}

// A pool queue deleted behind the Broker's back makes the next publish come
// back unroutable; Publish declares the queue again and succeeds.
func TestPublishRedeclaresVanishedQueue(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	ctx := context.Background()
	if err := b.Publish(ctx, &orc.Task{InvocationID: "inv-1", Pool: "gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rawChannel(t).QueueDelete(b.poolQueue("gone"), false, false, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, &orc.Task{InvocationID: "inv-2", Pool: "gone"}); err != nil {
		t.Fatalf("Publish after the queue vanished: %v", err)
	}
	if n, err := b.QueueDepth(ctx, "gone"); err != nil || n != 1 {
		t.Errorf("QueueDepth = %d, %v; want 1, nil", n, err)
	}
}

// An exchange deleted behind the Broker's back closes its publisher channel;
// the next publish opens a new one and declares the topology again.
func TestPublishHealsDeletedExchange(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	ctx := context.Background()
	if err := b.Publish(ctx, &orc.Task{InvocationID: "inv-1", Pool: "heal"}); err != nil {
		t.Fatal(err)
	}
	if err := rawChannel(t).ExchangeDelete(b.invokeExchange(), false, false); err != nil {
		t.Fatal(err)
	}
	// The first publish may be lost with the channel: it must say so.
	err := b.Publish(ctx, &orc.Task{InvocationID: "inv-2", Pool: "heal"})
	if err != nil && orc.ErrorCode(err) != orc.EUNAVAILABLE {
		t.Fatalf("Publish to a deleted exchange = %v, want nil or code %q", err, orc.EUNAVAILABLE)
	}
	if err := b.Publish(ctx, &orc.Task{InvocationID: "inv-3", Pool: "heal"}); err != nil {
		t.Fatalf("Publish after the channel error: %v", err)
	}
	want := 3 // the queue outlived its exchange
	if err != nil {
		want = 2
	}
	if n, err := b.QueueDepth(ctx, "heal"); err != nil || n != want {
		t.Errorf("QueueDepth = %d, %v; want %d, nil", n, err, want)
	}
}
