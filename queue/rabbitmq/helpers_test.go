package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// testURL is the broker the integration tests use.
func testURL() string {
	if u := os.Getenv("ORC_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://orc:orc@127.0.0.1:5672/"
}

// testPrefix returns a prefix no other test uses.
func testPrefix(t *testing.T) string {
	t.Helper()
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "orct-" + hex.EncodeToString(b[:])
}

// needBroker skips in -short mode; otherwise the broker must be there.
func needBroker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs RabbitMQ (ORC_AMQP_URL)")
	}
}

// testLogger logs to t until the test ends, then drops lines.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// newBroker opens a connected Broker on the test broker, with cfg's fields
// where set and a fresh prefix unless cfg has one. Cleanup deletes its
// topology and closes it.
func newBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	needBroker(t)
	cfg.URL = testURL()
	if cfg.Prefix == "" {
		cfg.Prefix = testPrefix(t)
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	b := Open(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.DeleteTopology(ctx); err != nil {
			t.Errorf("delete topology: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatalf("RabbitMQ at %s is not reachable (start it with deploy/local/services.sh): %v", redactURL(cfg.URL), err)
	}
	return b
}

// consumeInBackground runs b.Consume until the returned stop is called or
// the test ends; stop returns Consume's error.
func consumeInBackground(t *testing.T, b *Broker, pool string, prefetch int, h Handler) (stop func() error) {
	t.Helper()
	return runInBackground(t, func(ctx context.Context) error { return b.Consume(ctx, pool, prefetch, h) })
}

func runInBackground(t *testing.T, run func(ctx context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Errorf("consumer did not return 15s after its context ended")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// recv returns the next value of ch or fails the test after d.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
	}
	var zero T
	return zero
}

// rawChannel opens a channel on a connection of its own, for what the
// Broker would never do (malformed bodies, deleting queues under it).
func rawChannel(t *testing.T) *amqp.Channel {
	t.Helper()
	needBroker(t)
	conn, err := amqp.Dial(testURL())
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	return ch
}

// eventually polls cond every 20ms until it is true or d passed.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
