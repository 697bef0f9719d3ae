package rabbitmq

import (
	"encoding/json"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

// subscription is an auto-acked consumer on an exclusive queue of this
// process, set up again on every connection.
type subscription struct {
	kind    string
	queue   string
	bind    func(*session, *amqp.Channel) error // nil when the default binding does
	deliver func(*amqp.Delivery)
	started bool // guarded by Broker.subMu
}

// OnReply makes h receive the replies sent to ReplyQueue. It declares the
// reply queue and consumes it, now when connected (OnReply returns once that
// is done or PublishTimeout passed) and again after every reconnect. A later
// call replaces the handler.
//
// # Notes
//
// h runs on the consumer's goroutine, one reply at a time: it must not block.
// Replies sent while the gateway was disconnected are lost; the gateway reads
// those results from the database.
func (b *Broker) OnReply(h func(*orc.Reply)) {
	b.replyH.Store(&h)
	b.subscribe(b.replySub)
}

// OnCancel makes h receive the invocation ids that any process passes to
// BroadcastCancel, through a queue of this process bound to the events
// exchange. Like OnReply, it subscribes now and after every reconnect, and h
// must not block. Cancels broadcast while this process was disconnected are
// lost.
func (b *Broker) OnCancel(h func(invocationID string)) {
	b.cancelH.Store(&h)
	b.subscribe(b.cancSub)
}

func (b *Broker) subscribe(sub *subscription) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if sub.started || b.subsClosed {
		return
	}
	sub.started = true
	b.subs = append(b.subs, sub)
	b.mu.Lock()
	s := b.cur
	b.mu.Unlock()
	if s != nil {
		b.startSubscription(s, sub)
	}
}

// startSubscription starts sub on s and waits, boundedly, for its first
// attempt, so that a gateway does not publish a sync task before its reply
// queue exists. Callers hold b.subMu.
func (b *Broker) startSubscription(s *session, sub *subscription) {
	first := make(chan error, 1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.runSubscription(s, sub, first)
	}()
	t := time.NewTimer(b.cfg.PublishTimeout)
	defer t.Stop()
	select {
	case err := <-first:
		if err != nil {
			b.log.Warn("cannot subscribe; retrying", "queue", sub.queue, "err", err)
		}
	case <-t.C:
		b.log.Warn("subscribing is slow; continuing in the background", "queue", sub.queue)
	case <-s.done:
	}
}

func (b *Broker) runSubscription(s *session, sub *subscription, first chan<- error) {
	delay := b.cfg.ReconnectMin
	for {
		ch, deliveries, err := b.subscribeOn(s, sub)
		if first != nil {
			first <- err
			first = nil
		}
		if err == nil {
			delay = b.cfg.ReconnectMin
			for d := range deliveries {
				sub.deliver(&d)
			}
			_ = ch.Close()
			err = errConsumerCanceled
		}
		if s.conn.IsClosed() || b.ctx.Err() != nil {
			return // the next session subscribes again
		}
		b.log.Warn("subscription stopped; subscribing again", "queue", sub.queue, "err", err, "retry_in", delay)
		t := time.NewTimer(jitter(delay))
		select {
		case <-t.C:
		case <-s.done:
		case <-b.ctx.Done():
		}
		t.Stop()
		delay = min(2*delay, b.cfg.ReconnectMax)
	}
}

func (b *Broker) subscribeOn(s *session, sub *subscription) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open channel: %w", err)
	}
	deliveries, err := func() (<-chan amqp.Delivery, error) {
		if _, err := ch.QueueDeclare(sub.queue, false, true, true, false, nil); err != nil {
			return nil, fmt.Errorf("declare queue %s: %w", sub.queue, err)
		}
		if sub.bind != nil {
			if err := sub.bind(s, ch); err != nil {
				return nil, err
			}
		}
		return ch.Consume(sub.queue, b.consumerTag(sub.kind), true, true, false, false, nil)
	}()
	if err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	return ch, deliveries, nil
}

func (b *Broker) bindCancel(_ *session, ch *amqp.Channel) error {
	if err := declareExchange(ch, b.eventsExchange(), amqp.ExchangeTopic); err != nil {
		return err
	}
	if err := ch.QueueBind(b.cancelQueue(), cancelKey, b.eventsExchange(), false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", b.cancelQueue(), err)
	}
	return nil
}

func (b *Broker) deliverReply(d *amqp.Delivery) {
	h := b.replyH.Load()
	if h == nil || *h == nil {
		return
	}
	var r orc.Reply
	if err := json.Unmarshal(d.Body, &r); err != nil || r.InvocationID == "" {
		b.log.Warn("dropping malformed reply", "message_id", d.MessageId, "err", err)
		return
	}
	(*h)(&r)
}

func (b *Broker) deliverCancel(d *amqp.Delivery) {
	h := b.cancelH.Load()
	if h == nil || *h == nil {
		return
	}
	var e cancelEvent
	if err := json.Unmarshal(d.Body, &e); err != nil || e.InvocationID == "" {
		b.log.Warn("dropping malformed cancel", "message_id", d.MessageId, "err", err)
		return
	}
	(*h)(e.InvocationID)
}
