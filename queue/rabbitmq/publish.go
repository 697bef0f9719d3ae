package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"

	"github.com/orc-gateway/orc"
)

var (
	errNacked     = errors.New("broker refused the message (nack)")
	errUnroutable = errors.New("no queue took the message")
)

// Publish queues t on its pool's queue, persistently, and returns once the
// broker confirmed it. The message id is the invocation id. The pool queue is
// declared first unless that was already done on this connection.
//
// # Notes
//
// A publish that fails after the message left (a confirm that times out or
// is lost with the connection) may still have been queued: workers must
// treat a task for an unknown or finished invocation as done.
//
// # Errors
//
// EINVALID for a task without an invocation id or pool. EUNAVAILABLE: at
// once when the broker is disconnected or blocks publishers; after a few
// quick retries (under 200ms) when it keeps nacking or returning the task;
// when it does not confirm within PublishTimeout or before ctx ends.
func (b *Broker) Publish(ctx context.Context, t *orc.Task) (err error) {
	if t == nil || t.InvocationID == "" {
		return orc.Errorf(orc.EINVALID, "task has no invocation id")
	}
	ctx, span := b.tracer().Start(ctx, "publish task", producerSpan...)
	defer func() { endSpan(span, err) }()
	if span.IsRecording() {
		span.SetAttributes(messagingAttrs("send", b.invokeExchange(), t.Pool, t.InvocationID)...)
	}
	if err := b.checkPool(t.Pool); err != nil {
		return err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode task: %w", err)
	}
	msg := amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    t.InvocationID,
		Timestamp:    time.Now().UTC(),
		Type:         "orc.task",
		Body:         body,
	}
	b.injectTrace(ctx, &msg)
	ctx, cancel := context.WithTimeoutCause(ctx, b.cfg.PublishTimeout, errOpTimeout)
	defer cancel()

	// A returned task means the pool queue vanished after it was declared
	// on this connection: declare it again and retry once. A nacked task
	// was not queued; retry it a few times, quickly, because a quorum queue
	// nacks for a moment after its declaration (by another process, say a
	// worker) returned and before it is ready.
	redeclares, renacks, backoff := 1, 3, 25*time.Millisecond
	for {
		s, err := b.live()
		if err != nil {
			return err
		}
		// The publisher channel first: reopening it forgets the declared
		// pools, since the error that closed it may have been theirs.
		p, err := s.publisher()
		if err != nil {
			return b.unavailable(err, t)
		}
		if err := b.ensurePool(ctx, s, t.Pool); err != nil {
			return b.unavailable(err, t)
		}
		returned, err := b.publish(ctx, p, b.invokeExchange(), t.Pool, true, msg)
		switch {
		case errors.Is(err, errNacked) && renacks > 0:
			renacks--
			b.log.Debug("broker nacked task; retrying", "invocation_id", t.InvocationID, "pool", t.Pool, "retry_in", backoff)
			if !sleepCtx(ctx, backoff) {
				return b.unavailable(context.Cause(ctx), t)
			}
			backoff *= 2
			continue
		case err != nil:
			return b.unavailable(err, t)
		case !returned:
			return nil
		}
		s.setPoolDeclared(t.Pool, false)
		if redeclares == 0 {
			return b.unavailable(errUnroutable, t)
		}
		redeclares--
		b.log.Warn("task returned unroutable; declaring its pool queue again",
			"invocation_id", t.InvocationID, "pool", t.Pool)
	}
}

// sleepCtx waits d and reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *Broker) unavailable(err error, t *orc.Task) error {
	b.log.Warn("cannot queue task", "invocation_id", t.InvocationID, "pool", t.Pool, "err", err)
	return orc.WrapError(orc.EUNAVAILABLE, fmt.Errorf("publish task: %w", err), "message broker unavailable")
}

// publish sends msg on the confirm channel and waits for its confirm; it
// reports whether a mandatory message was returned as unroutable.
func (b *Broker) publish(ctx context.Context, p *publisher, exchange, key string, mandatory bool, msg amqp.Publishing) (bool, error) {
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
	if err != nil {
		return false, err
	}
	// amqp091 nacks the pending confirms of a channel that closes, so a lost
	// connection ends this wait too.
	acked, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		return false, context.Cause(ctx)
	case !acked:
		if p.ch.IsClosed() {
			return false, errChannelClosed
		}
		return false, errNacked
	}
	return mandatory && p.wasReturned(msg.MessageId), nil
}

// Reply sends r to the gateway queue replyTo through the default exchange.
// Replies are transient and go out on a channel of their own, not in
// confirm mode: the broker tracks nothing for them, and the gateway falls
// back to the database when one is lost.
//
// # Errors
//
// EINVALID for an empty replyTo or a nil reply, EUNAVAILABLE when the broker
// is disconnected or the send fails.
func (b *Broker) Reply(ctx context.Context, replyTo string, r *orc.Reply) (err error) {
	if replyTo == "" || r == nil {
		return orc.Errorf(orc.EINVALID, "reply needs a queue and a reply")
	}
	ctx, span := b.tracer().Start(ctx, "send reply", producerSpan...)
	defer func() { endSpan(span, err) }()
	if span.IsRecording() {
		span.SetAttributes(messagingAttrs("send", replyTo, "", r.InvocationID)...)
		span.SetAttributes(attribute.String("orc.invocation.status", string(r.Status)))
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	s, err := b.live()
	if err != nil {
		return err
	}
	ch, err := s.replier()
	if err == nil {
		err = ch.PublishWithContext(ctx, "", replyTo, false, false, amqp.Publishing{
			ContentType:   "application/json",
			DeliveryMode:  amqp.Transient,
			MessageId:     r.InvocationID,
			CorrelationId: r.InvocationID,
			Timestamp:     time.Now().UTC(),
			Type:          "orc.reply",
			Body:          body,
		})
	}
	if err != nil {
		return orc.WrapError(orc.EUNAVAILABLE, fmt.Errorf("send reply: %w", err), "message broker unavailable")
	}
	return nil
}

type cancelEvent struct {
	InvocationID string `json:"invocation_id"`
}

// BroadcastCancel tells every worker subscribed with OnCancel that the
// invocation was canceled. It returns once the broker confirmed the event.
//
// # Errors
//
// EINVALID for an empty id, EUNAVAILABLE when the broker is disconnected or
// does not confirm in time.
func (b *Broker) BroadcastCancel(ctx context.Context, invocationID string) error {
	if invocationID == "" {
		return orc.Errorf(orc.EINVALID, "invocation id is empty")
	}
	body, err := json.Marshal(cancelEvent{InvocationID: invocationID})
	if err != nil {
		return fmt.Errorf("encode cancel: %w", err)
	}
	s, err := b.live()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, b.cfg.PublishTimeout, errOpTimeout)
	defer cancel()
	p, err := s.publisher()
	if err == nil {
		_, err = b.publish(ctx, p, b.eventsExchange(), cancelKey, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Transient,
			MessageId:    invocationID,
			Timestamp:    time.Now().UTC(),
			Type:         "orc.cancel",
			Body:         body,
		})
	}
	if err != nil {
		return orc.WrapError(orc.EUNAVAILABLE, fmt.Errorf("broadcast cancel: %w", err), "message broker unavailable")
	}
	return nil
}
