package rabbitmq

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

// statusKey routes invocation events on the events exchange.
const statusKey = "invocation.status"

// eventBuffer is how many events may wait to be published; past it they
// are dropped (events are best effort, see orc.InvocationEvent).
const eventBuffer = 4096

// events are the invocation events of a Broker: published from a queue of
// their own, so that PublishEvent never waits for the broker, and
// delivered to OnEvent's handler.
type events struct {
	once    sync.Once
	queue   chan *orc.InvocationEvent
	dropped atomic.Uint64
	h       atomic.Pointer[func(*orc.InvocationEvent)]
	sub     *subscription
}

var _ orc.EventPublisher = (*Broker)(nil)

// PublishEvent sends an invocation event to every gateway subscribed with
// OnEvent. It does not block: the event is published in the background,
// unconfirmed, and dropped when the broker is down or the buffer full.
func (b *Broker) PublishEvent(e *orc.InvocationEvent) {
	b.ev.once.Do(func() {
		b.ev.queue = make(chan *orc.InvocationEvent, eventBuffer)
		b.wg.Add(1)
		go b.publishEvents()
	})
	select {
	case b.ev.queue <- e:
	default:
		if b.ev.dropped.Add(1)%1000 == 1 {
			b.log.Warn("invocation events dropped: the broker is behind", "dropped", b.ev.dropped.Load())
		}
	}
}

func (b *Broker) publishEvents() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case e := <-b.ev.queue:
			body, err := json.Marshal(e)
			if err != nil {
				continue
			}
			s, err := b.live()
			if err == nil {
				// On the unconfirmed channel of replies: the broker need
				// not track events, and tasks' confirms do not wait on them.
				var ch *amqp.Channel
				if ch, err = s.replier(); err == nil {
					ctx, cancel := context.WithTimeout(b.ctx, b.cfg.PublishTimeout)
					err = ch.PublishWithContext(ctx, b.eventsExchange(), statusKey, false, false, amqp.Publishing{
						ContentType: "application/json", DeliveryMode: amqp.Transient, Timestamp: time.Now().UTC(),
						Type: "orc.invocation", Body: body,
					})
					cancel()
				}
			}
			if err != nil {
				b.ev.dropped.Add(1)
			}
		}
	}
}

// OnEvent calls h with every invocation event published by any process of
// this installation, through a queue of this process bound to the events
// exchange. Like OnCancel, it subscribes now and after every reconnect,
// and h must not block. Events published while this process was
// disconnected are lost.
func (b *Broker) OnEvent(h func(*orc.InvocationEvent)) {
	b.ev.h.Store(&h)
	b.subMu.Lock()
	if b.ev.sub == nil {
		b.ev.sub = &subscription{kind: "events", queue: b.cfg.Prefix + ".events." + b.cfg.Instance, bind: b.bindEvents, deliver: b.deliverEvent}
	}
	sub := b.ev.sub
	b.subMu.Unlock()
	b.subscribe(sub)
}

func (b *Broker) bindEvents(ch *amqp.Channel) error {
	if err := declareExchange(ch, b.eventsExchange(), amqp.ExchangeTopic); err != nil {
		return err
	}
	return ch.QueueBind(b.cfg.Prefix+".events."+b.cfg.Instance, statusKey, b.eventsExchange(), false, nil)
}

func (b *Broker) deliverEvent(d *amqp.Delivery) {
	h := b.ev.h.Load()
	if h == nil || *h == nil {
		return
	}
	var e orc.InvocationEvent
	if err := json.Unmarshal(d.Body, &e); err != nil || e.ID == "" {
		return
	}
	(*h)(&e)
}
