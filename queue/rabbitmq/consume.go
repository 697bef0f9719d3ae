package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"

	"github.com/orc-gateway/orc"
)

// Delivery is one delivery of a task to a worker.
type Delivery struct {
	Task orc.Task

	// Redelivered is true when the task was delivered before, to this or
	// another worker.
	Redelivered bool

	// DeliveryCount is how many earlier deliveries of the task ended
	// without an ack (the quorum queue's x-delivery-count); 0 the first
	// time. RabbitMQ 3.10 also counts deliveries that were outstanding when
	// a consumer's channel or connection closed. Once it would pass the
	// delivery limit the task is dead-lettered instead.
	DeliveryCount int
}

// Handler runs one delivered task. Returning nil acknowledges the task;
// returning an error requeues it after Config.RetryDelay, but an error that
// wraps orc.ErrHandedBack queues a fresh copy at once, which spends none of
// the delivery limit.
type Handler func(ctx context.Context, d *Delivery) error

// DeadHandler settles one dead-lettered task. d.Reason is the broker's,
// e.g. "delivery_limit" or "rejected".
type DeadHandler func(ctx context.Context, t *orc.Task, d orc.Death) error

// deadPrefetch is how many dead-lettered tasks are handled at once.
const deadPrefetch = 4

// Consume runs h for the tasks of a pool, at most prefetch at a time, until
// ctx ends. It declares the pool queue and survives broker restarts, consuming
// again after each reconnect.
//
// A body that is not a task is rejected without requeueing, so it is
// dead-lettered.
//
// When ctx ends, Consume drains: it cancels its consumer, waits for the
// handlers that are running (their ctx does not end with Consume's), settles
// their deliveries and returns nil.
//
// # Errors
//
// EINVALID for a bad pool, a prefetch below 1 or a nil handler;
// EUNAVAILABLE when the Broker is closed.
func (b *Broker) Consume(ctx context.Context, pool string, prefetch int, h Handler) error {
	if err := b.checkPool(pool); err != nil {
		return err
	}
	if prefetch < 1 || h == nil {
		return orc.Errorf(orc.EINVALID, "consume needs a prefetch of at least 1 and a handler")
	}
	return b.consume(ctx, consumer{
		kind:     "pool",
		queue:    b.poolQueue(pool),
		prefetch: prefetch,
		declare: func(s *session, ch *amqp.Channel) error {
			if err := b.declarePool(ch, pool); err != nil {
				return err
			}
			s.setPoolDeclared(pool, true)
			return nil
		},
		handle: func(ctx context.Context, d *amqp.Delivery) { b.handleTask(ctx, d, h) },
	})
}

// ConsumeDead runs h for the dead-lettered tasks of every pool until ctx
// ends, like Consume. A dead-lettered body that is not a task reaches h as a
// task with only the invocation id, taken from the message id; without one
// it is logged and dropped.
//
// # Errors
//
// EINVALID for a nil handler, EUNAVAILABLE when the Broker is closed.
func (b *Broker) ConsumeDead(ctx context.Context, h DeadHandler) error {
	if h == nil {
		return orc.Errorf(orc.EINVALID, "consume needs a handler")
	}
	return b.consume(ctx, consumer{
		kind:     "dead",
		queue:    b.deadQueue(),
		prefetch: deadPrefetch,
		declare:  func(_ *session, ch *amqp.Channel) error { return b.declareDead(ch) },
		handle:   func(ctx context.Context, d *amqp.Delivery) { b.handleDead(ctx, d, h) },
	})
}

// consumer is what Consume and ConsumeDead differ in.
type consumer struct {
	kind     string
	queue    string
	prefetch int
	declare  func(*session, *amqp.Channel) error
	// handle settles d; ctx ends when Consume starts draining.
	handle func(ctx context.Context, d *amqp.Delivery)
}

var errConsumerCanceled = errors.New("consumer canceled by the broker")

// consume keeps c consuming across connections until ctx ends.
func (b *Broker) consume(ctx context.Context, c consumer) error {
	var (
		running sync.WaitGroup                    // handlers and channel closers, across channels
		slots   = make(chan struct{}, c.prefetch) // one per running handler
		delay   = b.cfg.ReconnectMin
		log     = b.log.With("queue", c.queue)
	)
	defer running.Wait()
	for {
		if ctx.Err() != nil {
			return nil
		}
		s, err := b.await(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		err = b.consumeOn(ctx, s, c, slots, &running)
		if ctx.Err() != nil {
			return nil
		}
		if s.conn.IsClosed() {
			// The connection manager redials; wait for it to notice.
			delay = b.cfg.ReconnectMin
			select {
			case <-s.done:
			case <-ctx.Done():
			case <-b.ctx.Done():
			}
			continue
		}
		// The connection lives but the consumer could not start or was
		// canceled (its queue deleted, a consumer timeout): try again.
		log.Warn("consumer stopped; consuming again", "err", err, "retry_in", delay)
		t := time.NewTimer(jitter(delay))
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-s.done:
		case <-b.ctx.Done():
		}
		t.Stop()
		delay = min(2*delay, b.cfg.ReconnectMax)
	}
}

// consumeOn consumes on one channel of s until it closes or ctx ends. Each
// delivery waits for a free slot, so no more than prefetch handlers run,
// counting those still running from earlier channels.
func (b *Broker) consumeOn(ctx context.Context, s *session, c consumer, slots chan struct{}, running *sync.WaitGroup) error {
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	var inflight sync.WaitGroup // handlers of this channel's deliveries
	closeLater := func() {
		running.Add(1)
		go func() {
			defer running.Done()
			inflight.Wait()
			_ = ch.Close()
		}()
	}
	// Why the broker closed the channel, if it did: a consumer ack timeout,
	// a queue that cannot be consumed yet.
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := c.declare(s, ch); err != nil {
		_ = ch.Close()
		return err
	}
	if err := ch.Qos(c.prefetch, 0, false); err != nil {
		_ = ch.Close()
		return fmt.Errorf("set prefetch: %w", err)
	}
	tag := b.consumerTag(c.kind)
	deliveries, err := ch.Consume(c.queue, tag, false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return fmt.Errorf("consume %s: %w", c.queue, err)
	}
	b.log.Info("consuming", "queue", c.queue, "prefetch", c.prefetch)

	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return b.drain(s, ch, tag, &inflight)
		}
		select {
		case d, ok := <-deliveries:
			if !ok {
				<-slots
				closeLater()
				if s.conn.IsClosed() {
					return errConnectionLost
				}
				select {
				case aerr := <-chClosed:
					if aerr != nil {
						return fmt.Errorf("channel closed: %w", aerr)
					}
				default:
				}
				return errConsumerCanceled
			}
			running.Add(1)
			inflight.Add(1)
			go func() {
				defer func() {
					<-slots
					inflight.Done()
					running.Done()
				}()
				c.handle(ctx, &d)
			}()
		case <-ctx.Done():
			<-slots
			return b.drain(s, ch, tag, &inflight)
		}
	}
}

// drain stops new deliveries, waits for the running handlers to settle
// theirs and closes the channel. Deliveries that arrived but did not start
// go back to the queue with the channel.
func (b *Broker) drain(s *session, ch *amqp.Channel, tag string, inflight *sync.WaitGroup) error {
	done := make(chan error, 1)
	go func() { done <- ch.Cancel(tag, false) }()
	if err := b.wait(context.Background(), s, done); err != nil {
		b.log.Debug("canceling consumer", "tag", tag, "err", err)
	}
	inflight.Wait()
	_ = ch.Close()
	return nil
}

func (b *Broker) handleTask(ctx context.Context, d *amqp.Delivery, h Handler) {
	var t orc.Task
	if err := json.Unmarshal(d.Body, &t); err != nil || t.InvocationID == "" {
		if err == nil {
			err = errors.New("no invocation id")
		}
		b.log.Warn("malformed task; dead-lettering it", "message_id", d.MessageId, "err", err)
		if err := d.Reject(false); err != nil {
			b.log.Warn("cannot reject malformed task; it will come back", "message_id", d.MessageId, "err", err)
		}
		return
	}
	del := &Delivery{Task: t, Redelivered: d.Redelivered, DeliveryCount: deliveryCount(d.Headers)}
	// The consume continues the trace of the publish, whose context the
	// message carries: the task's run, commit and reply are part of it.
	ctx, span := b.tracer().Start(b.extractTrace(ctx, d.Headers), "consume task", consumerSpan...)
	if span.IsRecording() {
		span.SetAttributes(messagingAttrs("process", b.poolQueue(t.Pool), t.Pool, t.InvocationID)...)
		span.SetAttributes(attribute.Int("messaging.rabbitmq.delivery_count", del.DeliveryCount),
			attribute.Bool("orc.redelivered", d.Redelivered))
	}
	err := safely(func() error { return h(context.WithoutCancel(ctx), del) })
	defer func() { endSpan(span, err) }()
	if errors.Is(err, orc.ErrHandedBack) {
		// The worker stops or cannot run containers: the task did nothing
		// wrong. A fresh copy goes back to the queue, then the delivery
		// is acked, so the hand-back spends none of the delivery limit
		// (a requeue would).
		perr := b.Publish(context.WithoutCancel(ctx), &t)
		if perr == nil {
			b.log.InfoContext(ctx, "task handed back to its queue", "invocation_id", t.InvocationID, "pool", t.Pool, "why", err)
			span.AddEvent("handed back")
			err = nil
			if err := d.Ack(false); err != nil {
				b.log.Warn("ack failed; the broker will redeliver", "invocation_id", t.InvocationID, "err", err)
			}
			return
		}
		err = fmt.Errorf("%w; handing it back failed: %w", err, perr)
	}
	b.settle(ctx, d, err, "invocation_id", t.InvocationID, "pool", t.Pool, "delivery_count", del.DeliveryCount)
}

func (b *Broker) handleDead(ctx context.Context, d *amqp.Delivery, h DeadHandler) {
	reason := deathReason(d.Headers)
	var t orc.Task
	if err := json.Unmarshal(d.Body, &t); err != nil || t.InvocationID == "" {
		if d.MessageId == "" {
			b.log.Warn("dropping dead-lettered message that names no invocation", "reason", reason, "bytes", len(d.Body))
			if err := d.Ack(false); err != nil {
				b.log.Debug("ack failed; the broker will redeliver", "err", err)
			}
			return
		}
		t = orc.Task{InvocationID: d.MessageId}
	}
	death := orc.Death{Reason: reason, Redrives: t.Redrives}
	if reason == "delivery_limit" {
		// The dead letter does not carry the count; the queue's limit
		// says it: the first delivery and one per requeue allowed.
		death.Deliveries = b.cfg.DeliveryLimit + 1
	}
	err := safely(func() error { return h(context.WithoutCancel(ctx), &t, death) })
	if n := deliveryCount(d.Headers) + 1; err != nil && n >= b.cfg.DeadDeliveryLimit {
		perr := b.park(ctx, d, err)
		if perr == nil {
			b.log.Error("dead-lettered task parked: its handler kept failing", "invocation_id", t.InvocationID,
				"reason", reason, "deliveries", n, "queue", b.parkedQueue(), "err", err)
			if err := d.Ack(false); err != nil {
				b.log.Warn("ack failed; the broker will redeliver", "invocation_id", t.InvocationID, "err", err)
			}
			return
		}
		err = fmt.Errorf("%w; parking it failed: %w", err, perr)
	}
	b.settle(ctx, d, err, "invocation_id", t.InvocationID, "reason", reason)
}

// park copies d, headers and all, onto the parked queue and waits for the
// broker's confirm; the caller acks d only then, so a task is never in
// neither queue.
func (b *Broker) park(ctx context.Context, d *amqp.Delivery, cause error) error {
	s, err := b.live()
	if err != nil {
		return err
	}
	p, err := s.publisher()
	if err != nil {
		return err
	}
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	msg := cause.Error()
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	headers["x-orc-parked-error"] = msg
	headers["x-orc-parked-at"] = time.Now().UTC().Format(time.RFC3339)
	ctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), b.cfg.PublishTimeout, errOpTimeout)
	defer cancel()
	returned, err := b.publish(ctx, p, "", b.parkedQueue(), true, amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, DeliveryMode: amqp.Persistent,
		MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, Body: d.Body,
	})
	if err == nil && returned {
		err = errUnroutable
	}
	return err
}

// settle acks d after a handler succeeded, or requeues it after RetryDelay
// (cut short by draining) after it failed. Settling fails when the channel
// closed meanwhile; the broker then redelivers d, which at-least-once allows.
func (b *Broker) settle(ctx context.Context, d *amqp.Delivery, err error, attrs ...any) {
	if err == nil {
		if err := d.Ack(false); err != nil {
			b.log.Warn("ack failed; the broker will redeliver", append(attrs, "err", err)...)
		}
		return
	}
	b.log.Warn("handler failed; requeueing", append(attrs, "err", err, "retry_in", b.cfg.RetryDelay)...)
	t := time.NewTimer(b.cfg.RetryDelay)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	if err := d.Nack(false, true); err != nil {
		b.log.Debug("nack failed; the broker will redeliver", append(attrs, "err", err)...)
	}
}

// safely runs f, turning a panic into an error so that one bad task cannot
// take the worker down with it.
func safely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

// deliveryCount reads x-delivery-count, which quorum queues set on
// redeliveries.
func deliveryCount(h amqp.Table) int {
	switch v := h["x-delivery-count"].(type) {
	case int64:
		return int(v)
	case int32:
		return int(v)
	case int16:
		return int(v)
	case int8:
		return int(v)
	case int:
		return int(v)
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	}
	return 0
}

// deathReason reads why a message was dead-lettered, preferring the first
// reason when it died more than once.
func deathReason(h amqp.Table) string {
	if r, ok := h["x-first-death-reason"].(string); ok && r != "" {
		return r
	}
	if deaths, ok := h["x-death"].([]any); ok && len(deaths) > 0 {
		if death, ok := deaths[0].(amqp.Table); ok {
			if r, ok := death["reason"].(string); ok {
				return r
			}
		}
	}
	return "unknown"
}
