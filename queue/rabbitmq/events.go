package rabbitmq

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

// Routing keys of the events exchange: invocation events, and the log
// events of one invocation, whose key ends with its id.
const (
	statusKey    = "invocation.status"
	logKeyPrefix = "invocation.log."
)

// eventBuffer is how many events may wait to be published; past it they
// are dropped (events are best effort, see orc.InvocationEvent). Log
// events may take only half of it, so that a chatty plugin's lines never
// crowd out the status changes.
const eventBuffer = 4096

// events are the invocation and log events of a Broker: published from a
// queue of their own, so that publishing never waits for the broker, and
// delivered to OnEvent's and OnLogs's handlers.
type events struct {
	once        sync.Once
	queue       chan outgoing
	dropped     atomic.Uint64
	droppedLogs atomic.Uint64
	h           atomic.Pointer[func(*orc.InvocationEvent)]
	logH        atomic.Pointer[func(*orc.LogEvent)]
	sub         *subscription

	// follows counts the followers of each invocation's log on this
	// process. boundOn is the session whose events queue is bound to the
	// log key of each; nil until one is.
	followMu sync.Mutex
	follows  map[string]int
	boundOn  *session
}

// outgoing is an event waiting to be published.
type outgoing struct {
	key, kind string
	event     any
}

var (
	_ orc.EventPublisher = (*Broker)(nil)
	_ orc.LogPublisher   = (*Broker)(nil)
)

// PublishEvent sends an invocation event to every gateway subscribed with
// OnEvent. It does not block: the event is published in the background,
// unconfirmed, and dropped when the broker is down or the buffer full.
func (b *Broker) PublishEvent(e *orc.InvocationEvent) {
	if !b.enqueue(outgoing{key: statusKey, kind: "orc.invocation", event: e}, eventBuffer) {
		if b.ev.dropped.Add(1)%1000 == 1 {
			b.log.Warn("invocation events dropped: the broker is behind", "dropped", b.ev.dropped.Load())
		}
	}
}

// PublishLogs sends a log event to the gateways that follow its
// invocation (FollowLogs); the broker drops it when none does. Like
// PublishEvent it never blocks, and it drops the event when the buffer is
// half full.
func (b *Broker) PublishLogs(e *orc.LogEvent) {
	if !validLogID(e.ID) || !b.enqueue(outgoing{key: logKeyPrefix + e.ID, kind: "orc.log", event: e}, eventBuffer/2) {
		if b.ev.droppedLogs.Add(1)%1000 == 1 {
			b.log.Warn("log events dropped: the broker is behind", "invocation_id", e.ID, "dropped", b.ev.droppedLogs.Load())
		}
	}
}

// enqueue queues an event for publishing unless room or more wait; it
// reports whether it did.
func (b *Broker) enqueue(o outgoing, room int) bool {
	b.ev.once.Do(func() {
		b.ev.queue = make(chan outgoing, eventBuffer)
		b.wg.Add(1)
		go b.publishEvents()
	})
	if len(b.ev.queue) >= room {
		return false
	}
	select {
	case b.ev.queue <- o:
		return true
	default:
		return false
	}
}

func (b *Broker) publishEvents() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case o := <-b.ev.queue:
			body, err := json.Marshal(o.event)
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
					err = ch.PublishWithContext(ctx, b.eventsExchange(), o.key, false, false, amqp.Publishing{
						ContentType: "application/json", DeliveryMode: amqp.Transient, Timestamp: time.Now().UTC(),
						Type: o.kind, Body: body,
					})
					cancel()
				}
			}
			if err != nil && o.key == statusKey {
				b.ev.dropped.Add(1)
			} else if err != nil {
				b.ev.droppedLogs.Add(1)
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
	b.subscribeEvents()
}

// OnLogs calls h with the log events of the invocations this process
// follows (FollowLogs), through the same queue as OnEvent's; h must not
// block.
func (b *Broker) OnLogs(h func(*orc.LogEvent)) {
	b.ev.logH.Store(&h)
	b.subscribeEvents()
}

func (b *Broker) subscribeEvents() {
	b.subMu.Lock()
	if b.ev.sub == nil {
		b.ev.sub = &subscription{kind: "events", queue: b.eventsQueue(), bind: b.bindEvents, deliver: b.deliverEvent}
	}
	sub := b.ev.sub
	b.subMu.Unlock()
	b.subscribe(sub)
}

// FollowLogs makes the log events of an invocation reach OnLogs's handler
// until stop is called: it binds this process's events queue to the
// invocation's log key, now when the queue exists and after every
// reconnect. Followers of one invocation share its binding, so that
// invocations nobody follows here never reach this process. A binding
// that fails now is made at the next reconnect; meanwhile the log events
// are lost, as events are while disconnected.
//
// # Errors
//
// EINVALID when id could not be a routing key's last word (empty, too
// long, or with a dot or wildcard).
func (b *Broker) FollowLogs(ctx context.Context, id string) (stop func(), err error) {
	if !validLogID(id) {
		return nil, orc.Errorf(orc.EINVALID, "not an invocation id")
	}
	b.ev.followMu.Lock()
	defer b.ev.followMu.Unlock()
	if b.ev.follows == nil {
		b.ev.follows = map[string]int{}
	}
	if b.ev.follows[id]++; b.ev.follows[id] == 1 {
		b.onBoundSession(ctx, "follow log", id, func(ch *amqp.Channel) error {
			return ch.QueueBind(b.eventsQueue(), logKeyPrefix+id, b.eventsExchange(), false, nil)
		})
	}
	var once sync.Once
	return func() { once.Do(func() { b.unfollowLogs(ctx, id) }) }, nil
}

func (b *Broker) unfollowLogs(ctx context.Context, id string) {
	b.ev.followMu.Lock()
	defer b.ev.followMu.Unlock()
	if b.ev.follows[id]--; b.ev.follows[id] > 0 {
		return
	}
	delete(b.ev.follows, id)
	b.onBoundSession(context.WithoutCancel(ctx), "unfollow log", id, func(ch *amqp.Channel) error {
		return ch.QueueUnbind(b.eventsQueue(), logKeyPrefix+id, b.eventsExchange(), nil)
	})
}

// onBoundSession changes the bindings of the events queue on the session
// it was bound on, while that session lives (the next one binds afresh).
// A failure is logged: bindings are best effort, like the events. The
// caller holds b.ev.followMu.
func (b *Broker) onBoundSession(ctx context.Context, op, id string, f func(*amqp.Channel) error) {
	s := b.ev.boundOn
	if s == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	if err := b.withChannel(ctx, s, f); err != nil {
		b.log.Warn("cannot change the events queue's bindings", "op", op, "invocation_id", id, "err", err)
	}
}

// bindEvents binds the events queue to invocation events and to the log
// key of every followed invocation, on each new session.
func (b *Broker) bindEvents(s *session, ch *amqp.Channel) error {
	if err := declareExchange(ch, b.eventsExchange(), amqp.ExchangeTopic); err != nil {
		return err
	}
	if err := ch.QueueBind(b.eventsQueue(), statusKey, b.eventsExchange(), false, nil); err != nil {
		return err
	}
	b.ev.followMu.Lock()
	defer b.ev.followMu.Unlock()
	for id := range b.ev.follows {
		if err := ch.QueueBind(b.eventsQueue(), logKeyPrefix+id, b.eventsExchange(), false, nil); err != nil {
			return err
		}
	}
	b.ev.boundOn = s
	return nil
}

func (b *Broker) deliverEvent(d *amqp.Delivery) {
	if id, ok := strings.CutPrefix(d.RoutingKey, logKeyPrefix); ok {
		h := b.ev.logH.Load()
		if h == nil || *h == nil {
			return
		}
		var e orc.LogEvent
		// An event is of the invocation its key names, or of none.
		if err := json.Unmarshal(d.Body, &e); err != nil || e.ID != id {
			return
		}
		(*h)(&e)
		return
	}
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

// validLogID reports whether id can end a log key: one word of a topic
// routing key, no wildcard.
func validLogID(id string) bool {
	return id != "" && len(id) <= 200 && !strings.ContainsAny(id, ".*#")
}
