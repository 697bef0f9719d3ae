package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/orc-gateway/orc"
)

// cancelKey routes cancels on the events exchange.
const cancelKey = "invocation.cancel"

func (b *Broker) invokeExchange() string { return b.cfg.Prefix + ".invoke" }
func (b *Broker) deadExchange() string   { return b.cfg.Prefix + ".dead" }
func (b *Broker) deadQueue() string      { return b.cfg.Prefix + ".dead" }
func (b *Broker) parkedQueue() string    { return b.cfg.Prefix + ".dead.parked" }
func (b *Broker) eventsExchange() string { return b.cfg.Prefix + ".events" }
func (b *Broker) cancelQueue() string    { return b.cfg.Prefix + ".cancel." + b.cfg.Instance }
func (b *Broker) eventsQueue() string    { return b.cfg.Prefix + ".events." + b.cfg.Instance }
func (b *Broker) poolQueue(pool string) string {
	return b.cfg.Prefix + ".pool." + pool
}

// checkPool returns EINVALID for a pool name that cannot name a queue.
func (b *Broker) checkPool(pool string) error {
	switch {
	case pool == "":
		return orc.Errorf(orc.EINVALID, "pool is empty")
	case len(b.poolQueue(pool)) > 255:
		return orc.Errorf(orc.EINVALID, "pool name is too long")
	}
	return nil
}

// poolArgs are the pool queues' arguments. At-least-once dead-lettering
// (RabbitMQ 3.10+) keeps a message in its pool queue until the dead-letter
// queue has confirmed it, instead of dropping it if that fails; it needs
// the reject-publish overflow, which without a length limit never rejects.
func (b *Broker) poolArgs() amqp.Table {
	return amqp.Table{
		"x-queue-type":           amqp.QueueTypeQuorum,
		"x-delivery-limit":       b.cfg.DeliveryLimit,
		"x-dead-letter-exchange": b.deadExchange(),
		"x-dead-letter-strategy": "at-least-once",
		"x-overflow":             "reject-publish",
	}
}

// declareShared declares the exchanges and the dead-letter queue, on every
// connection, before the Broker reports ready.
func (b *Broker) declareShared(ch *amqp.Channel) error {
	if err := declareExchange(ch, b.invokeExchange(), amqp.ExchangeDirect); err != nil {
		return err
	}
	if err := declareExchange(ch, b.eventsExchange(), amqp.ExchangeTopic); err != nil {
		return err
	}
	return b.declareDead(ch)
}

// Each declare below also declares the exchange it binds to, so that it
// repairs the topology when it runs again after a channel error.

func declareExchange(ch *amqp.Channel, name, kind string) error {
	if err := ch.ExchangeDeclare(name, kind, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", name, err)
	}
	return nil
}

func (b *Broker) declareDead(ch *amqp.Channel) error {
	if err := declareExchange(ch, b.deadExchange(), amqp.ExchangeFanout); err != nil {
		return err
	}
	q := b.deadQueue()
	args := amqp.Table{"x-queue-type": amqp.QueueTypeQuorum}
	if _, err := ch.QueueDeclare(q, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", q, err)
	}
	if err := ch.QueueBind(q, "", b.deadExchange(), false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", q, err)
	}
	b.remember(q)
	// The parked queue has no consumer: it keeps the dead letters that no
	// handler could settle, for an operator, reached through the default
	// exchange.
	if _, err := ch.QueueDeclare(b.parkedQueue(), true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", b.parkedQueue(), err)
	}
	b.remember(b.parkedQueue())
	return nil
}

func (b *Broker) declarePool(ch *amqp.Channel, pool string) error {
	if err := declareExchange(ch, b.invokeExchange(), amqp.ExchangeDirect); err != nil {
		return err
	}
	q := b.poolQueue(pool)
	if _, err := ch.QueueDeclare(q, true, false, false, false, b.poolArgs()); err != nil {
		return fmt.Errorf("declare queue %s: %w", q, err)
	}
	if err := ch.QueueBind(q, pool, b.invokeExchange(), false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", q, err)
	}
	b.remember(q)
	return nil
}

// ensurePool declares a pool queue unless it was already declared on s.
// Concurrent publishes to a new pool wait for one declaration: RabbitMQ
// answers a second declare-ok for a quorum queue that another channel is
// still creating, before the queue can take messages.
func (b *Broker) ensurePool(ctx context.Context, s *session, pool string) error {
	for {
		s.mu.Lock()
		if s.pools[pool] {
			s.mu.Unlock()
			return nil
		}
		if wait, ok := s.declaring[pool]; ok {
			s.mu.Unlock()
			select {
			case <-wait:
				continue // declared, or failed and ours to try
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		done := make(chan struct{})
		s.declaring[pool] = done
		s.mu.Unlock()

		err := b.withChannel(ctx, s, func(ch *amqp.Channel) error { return b.declarePool(ch, pool) })
		s.mu.Lock()
		delete(s.declaring, pool)
		if err == nil {
			s.pools[pool] = true
		}
		s.mu.Unlock()
		close(done)
		return err
	}
}

func (b *Broker) remember(queue string) {
	b.declMu.Lock()
	b.declared[queue] = true
	b.declMu.Unlock()
}

// QueueDepth returns how many tasks wait in a pool's queue, not counting
// those delivered and not yet acknowledged. A pool without a queue has none.
//
// # Errors
//
// EINVALID for a bad pool name, EUNAVAILABLE when the broker cannot answer.
func (b *Broker) QueueDepth(ctx context.Context, pool string) (int, error) {
	if err := b.checkPool(pool); err != nil {
		return 0, err
	}
	s, err := b.live()
	if err != nil {
		return 0, err
	}
	depth := make(chan int, 1)
	err = b.withChannel(ctx, s, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(b.poolQueue(pool), true, false, false, false, nil)
		depth <- q.Messages
		return err
	})
	switch {
	case isNotFound(err):
		return 0, nil
	case err != nil:
		return 0, orc.WrapError(orc.EUNAVAILABLE, fmt.Errorf("inspect queue %s: %w", b.poolQueue(pool), err), "message broker unavailable")
	}
	return <-depth, nil
}

// DeleteTopology deletes the durable queues this Broker declared and the
// prefix's exchanges, messages included. It is meant for tests; stop the
// Consume calls first or they declare their queues again. The reply and
// cancel queues are exclusive to the connection and go with it at Close.
func (b *Broker) DeleteTopology(ctx context.Context) error {
	s, err := b.await(ctx)
	if err != nil {
		return orc.WrapError(orc.EUNAVAILABLE, err, "message broker unavailable")
	}
	b.declMu.Lock()
	queues := make([]string, 0, len(b.declared))
	for q := range b.declared {
		queues = append(queues, q)
	}
	b.declMu.Unlock()
	slices.Sort(queues)

	var errs []error
	for _, q := range queues {
		err := b.withChannel(ctx, s, func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(q, false, false, false)
			return err
		})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete queue %s: %w", q, err))
			continue
		}
		b.declMu.Lock()
		delete(b.declared, q)
		b.declMu.Unlock()
	}
	s.mu.Lock()
	clear(s.pools)
	s.mu.Unlock()
	for _, x := range []string{b.invokeExchange(), b.deadExchange(), b.eventsExchange()} {
		err := b.withChannel(ctx, s, func(ch *amqp.Channel) error {
			return ch.ExchangeDelete(x, false, false)
		})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete exchange %s: %w", x, err))
		}
	}
	return errors.Join(errs...)
}
