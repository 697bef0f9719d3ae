package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

func TestPublishConsumeAck(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	ctx := context.Background()
	got := make(chan *Delivery, 10)
	stop := consumeInBackground(t, b, "rt", 2, func(ctx context.Context, d *Delivery) error {
		got <- d
		return nil
	})

	want := orc.Task{InvocationID: "inv-rt", VersionID: 7, Pool: "rt", ReplyTo: "somewhere",
		Input: json.RawMessage(`{"x":1}`), CreatedAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	if err := b.Publish(ctx, &want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	d := recv(t, got, 5*time.Second, "delivery")
	if !reflect.DeepEqual(d.Task, want) {
		t.Errorf("task = %+v, want %+v", d.Task, want)
	}
	if d.Redelivered || d.DeliveryCount != 0 {
		t.Errorf("first delivery: Redelivered = %v, DeliveryCount = %d; want false, 0", d.Redelivered, d.DeliveryCount)
	}
	if err := stop(); err != nil {
		t.Errorf("Consume = %v, want nil after its context ended", err)
	}
	// Acked: nothing is left and nothing comes back.
	if n, err := b.QueueDepth(ctx, "rt"); err != nil || n != 0 {
		t.Errorf("QueueDepth after ack = %d, %v; want 0, nil", n, err)
	}
}

func TestHandlerErrorRequeues(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	got := make(chan Delivery, 10)
	consumeInBackground(t, b, "retry", 1, func(ctx context.Context, d *Delivery) error {
		got <- *d
		if d.DeliveryCount < 2 {
			return errors.New("database down")
		}
		return nil
	})
	if err := b.Publish(context.Background(), &orc.Task{InvocationID: "inv-retry", Pool: "retry"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		redelivered bool
		count       int
	}{{false, 0}, {true, 1}, {true, 2}} {
		d := recv(t, got, 5*time.Second, "delivery")
		if d.Task.InvocationID != "inv-retry" || d.Redelivered != want.redelivered || d.DeliveryCount != want.count {
			t.Errorf("delivery %d: %s Redelivered=%v DeliveryCount=%d; want Redelivered=%v DeliveryCount=%d",
				i, d.Task.InvocationID, d.Redelivered, d.DeliveryCount, want.redelivered, want.count)
		}
	}
	select {
	case d := <-got:
		t.Errorf("delivered again after the handler succeeded: %+v", d)
	case <-time.After(300 * time.Millisecond):
	}
}

type deadLetter struct {
	task   orc.Task
	reason string
	// deliveries is what the broker says the task had.
	deliveries int
}

func consumeDeadInBackground(t *testing.T, b *Broker) <-chan deadLetter {
	t.Helper()
	dead := make(chan deadLetter, 10)
	runInBackground(t, func(ctx context.Context) error {
		return b.ConsumeDead(ctx, func(ctx context.Context, task *orc.Task, d orc.Death) error {
			dead <- deadLetter{*task, d.Reason, d.Deliveries}
			return nil
		})
	})
	return dead
}

func TestDeliveryLimitDeadLetters(t *testing.T) {
	t.Parallel()
	const limit = 2
	b := newBroker(t, Config{DeliveryLimit: limit})
	dead := consumeDeadInBackground(t, b)
	deliveries := make(chan int, 10)
	consumeInBackground(t, b, "limit", 1, func(ctx context.Context, d *Delivery) error {
		deliveries <- d.DeliveryCount
		return errors.New("always fails")
	})
	task := orc.Task{InvocationID: "inv-limit", VersionID: 3, Pool: "limit"}
	if err := b.Publish(context.Background(), &task); err != nil {
		t.Fatal(err)
	}
	dl := recv(t, dead, 10*time.Second, "dead letter")
	if !reflect.DeepEqual(dl.task, task) || dl.reason != "delivery_limit" || dl.deliveries != limit+1 {
		t.Errorf("dead letter = %+v %q after %d deliveries, want %+v %q after %d", dl.task, dl.reason, dl.deliveries, task, "delivery_limit", limit+1)
	}
	// The first delivery and one per allowed requeue.
	if n := len(deliveries); n != limit+1 {
		t.Errorf("delivered %d times, want %d", n, limit+1)
	}
}

// A dead letter whose handler keeps failing is tried DeadDeliveryLimit
// times and then parked, headers and all, not requeued forever.
func TestDeadLetterThatKeepsFailingIsParked(t *testing.T) {
	t.Parallel()
	const limit = 3
	b := newBroker(t, Config{DeadDeliveryLimit: limit})
	ctx := context.Background()
	calls := make(chan string, 100)
	runInBackground(t, func(ctx context.Context) error {
		return b.ConsumeDead(ctx, func(ctx context.Context, task *orc.Task, _ orc.Death) error {
			calls <- task.InvocationID
			return errors.New("invocation id is not valid UTF-8")
		})
	})
	eventually(t, 10*time.Second, "dead queue declared", func() bool {
		b.declMu.Lock()
		defer b.declMu.Unlock()
		return b.declared[b.parkedQueue()]
	})
	ch := rawChannel(t)
	err := ch.PublishWithContext(ctx, b.deadExchange(), "", true, false, amqp.Publishing{
		MessageId: "inv-poison", Body: []byte(`{"invocation_id":"inv-poison","pool":"p"}`),
		DeliveryMode: amqp.Persistent, Headers: amqp.Table{"x-first-death-reason": "delivery_limit"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var parked amqp.Queue
	eventually(t, 10*time.Second, "task parked", func() bool {
		parked, err = ch.QueueDeclarePassive(b.parkedQueue(), true, false, false, false, nil)
		return err == nil && parked.Messages == 1
	})
	// No more attempts once parked.
	time.Sleep(300 * time.Millisecond)
	if n := len(calls); n != limit {
		t.Errorf("handler ran %d times, want %d", n, limit)
	}
	d, ok, err := ch.Get(b.parkedQueue(), false)
	if err != nil || !ok {
		t.Fatalf("get parked: %v %v", ok, err)
	}
	if d.MessageId != "inv-poison" || d.Headers["x-orc-parked-error"] != "invocation id is not valid UTF-8" || d.Headers["x-first-death-reason"] != "delivery_limit" {
		t.Errorf("parked message %q headers %v", d.MessageId, d.Headers)
	}
}

func TestMalformedTaskDeadLetters(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	ctx := context.Background()
	dead := consumeDeadInBackground(t, b)
	got := make(chan orc.Task, 10)
	consumeInBackground(t, b, "bad", 1, func(ctx context.Context, d *Delivery) error {
		got <- d.Task
		return nil
	})
	// The valid task declares the queue, so the raw ones are routed.
	valid := orc.Task{InvocationID: "inv-ok", Pool: "bad"}
	if err := b.Publish(ctx, &valid); err != nil {
		t.Fatal(err)
	}
	ch := rawChannel(t)
	for _, body := range []string{"not json", `{"pool":"bad"}`} {
		err := ch.PublishWithContext(ctx, b.invokeExchange(), "bad", true, false, amqp.Publishing{
			MessageId: "inv-bad", Body: []byte(body), DeliveryMode: amqp.Persistent,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if task := recv(t, got, 5*time.Second, "valid task"); !reflect.DeepEqual(task, valid) {
		t.Errorf("handled %+v, want %+v", task, valid)
	}
	for range 2 {
		dl := recv(t, dead, 5*time.Second, "dead letter")
		if dl.task.InvocationID != "inv-bad" || dl.reason != "rejected" {
			t.Errorf("dead letter = %+v %q, want invocation inv-bad, reason rejected", dl.task, dl.reason)
		}
	}
	select {
	case task := <-got:
		t.Errorf("handler got a malformed task: %+v", task)
	default:
	}
}

func TestConsumeDrains(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Config{})
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	finished := make(chan error, 1)
	stop := consumeInBackground(t, b, "drain", 1, func(ctx context.Context, d *Delivery) error {
		close(started)
		<-release
		finished <- ctx.Err() // draining must not have canceled it
		return nil
	})
	if err := b.Publish(ctx, &orc.Task{InvocationID: "inv-drain", Pool: "drain"}); err != nil {
		t.Fatal(err)
	}
	recv(t, started, 5*time.Second, "handler start")

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Consume returned (%v) while its handler ran", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := recv(t, finished, 5*time.Second, "handler end"); err != nil {
		t.Errorf("handler's context ended during the drain: %v", err)
	}
	if err := recv(t, stopped, 5*time.Second, "Consume return"); err != nil {
		t.Errorf("Consume = %v, want nil", err)
	}
	// The task was acked, not requeued when the channel closed.
	time.Sleep(200 * time.Millisecond)
	if n, err := b.QueueDepth(ctx, "drain"); err != nil || n != 0 {
		t.Errorf("QueueDepth after drain = %d, %v; want 0, nil", n, err)
	}
}

func TestConsumeRejectsBadArguments(t *testing.T) {
	t.Parallel()
	b := Open(Config{URL: "amqp://127.0.0.1:1/", Logger: testLogger(t)})
	defer b.Close()
	ok := func(context.Context, *Delivery) error { return nil }
	tests := []struct {
		name     string
		pool     string
		prefetch int
		h        Handler
	}{
		{"no pool", "", 1, ok},
		{"no prefetch", "p", 0, ok},
		{"no handler", "p", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Consume(context.Background(), tt.pool, tt.prefetch, tt.h)
			if code := orc.ErrorCode(err); code != orc.EINVALID {
				t.Errorf("Consume() = %v, want code %q", err, orc.EINVALID)
			}
		})
	}
}
