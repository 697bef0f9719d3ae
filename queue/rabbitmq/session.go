package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// session is one live connection and what was set up on it. Everything in it
// dies with the connection; the next session starts afresh.
type session struct {
	conn    *amqp.Connection
	closed  chan *amqp.Error // the connection's NotifyClose, read by run
	done    chan struct{}    // closed once run has noticed the loss
	blocked atomic.Pointer[string]

	mu        sync.Mutex
	pub       *publisher
	replies   *amqp.Channel            // replies go out unconfirmed, apart from pub
	pools     map[string]bool          // pool queues declared on this connection
	declaring map[string]chan struct{} // pool declarations in progress
}

// publisher is the session's channel in confirm mode. Every publish of the
// Broker goes through it.
type publisher struct {
	ch      *amqp.Channel
	returns chan amqp.Return

	mu       sync.Mutex
	returned map[string]bool // message ids the broker returned as unroutable
}

// returnBuffer bounds the returns held between a return and the confirm of
// the same message. amqp091 gives up on a full listener after 5 s and drops
// the return, so it is generous.
const returnBuffer = 256

// publisher returns the session's confirm channel, reopening it when a
// channel error closed it.
func (s *session) publisher() (*publisher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub != nil && !s.pub.ch.IsClosed() {
		return s.pub, nil
	}
	if s.pub != nil {
		// A channel error closed it, perhaps a missing exchange: declare
		// the pools again before publishing to them.
		clear(s.pools)
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publisher channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	s.pub = &publisher{
		ch:       ch,
		returns:  ch.NotifyReturn(make(chan amqp.Return, returnBuffer)),
		returned: make(map[string]bool),
	}
	return s.pub, nil
}

// replier returns the session's channel for replies, reopening it when a
// channel error closed it. It is not in confirm mode: a reply is not
// confirmed, and the broker need not track it.
func (s *session) replier() (*amqp.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replies != nil && !s.replies.IsClosed() {
		return s.replies, nil
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open reply channel: %w", err)
	}
	s.replies = ch
	return ch, nil
}

// wasReturned reports whether the broker returned the message with id.
//
// Call it only after the message's confirm arrived. RabbitMQ sends
// basic.return before the basic.ack of the same message and amqp091 hands
// each to its listener synchronously, in order, so by then the return, if
// any, is in p.returns. Draining under p.mu, with no other reader, makes
// sure no return is in transit between the channel and the map.
func (p *publisher) wasReturned(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-p.returns:
			if !ok {
				drained = true
				break
			}
			if len(p.returned) >= returnBuffer {
				clear(p.returned) // ids of publishers that gave up waiting
			}
			p.returned[r.MessageId] = true
		default:
			drained = true
		}
	}
	if p.returned[id] {
		delete(p.returned, id)
		return true
	}
	return false
}

func (s *session) setPoolDeclared(pool string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.pools[pool] = true
	} else {
		delete(s.pools, pool)
	}
}

var (
	errConnectionLost = errors.New("connection lost")
	errChannelClosed  = errors.New("publisher channel closed")
	errOpTimeout      = errors.New("broker did not answer in time")
)

// withChannel runs f on a fresh channel of s and closes the channel after.
// amqp091's calls take no context, so f runs in its own goroutine and
// withChannel returns early when ctx ends, the connection is lost or the
// operation timeout passes; f then finishes or fails on its own.
func (b *Broker) withChannel(ctx context.Context, s *session, f func(*amqp.Channel) error) error {
	done := make(chan error, 1)
	go func() {
		ch, err := s.conn.Channel()
		if err != nil {
			done <- fmt.Errorf("open channel: %w", err)
			return
		}
		err = f(ch)
		_ = ch.Close() // already closed when f hit a channel error
		done <- err
	}()
	return b.wait(ctx, s, done)
}

// wait waits for done like withChannel does.
func (b *Broker) wait(ctx context.Context, s *session, done <-chan error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, b.cfg.PublishTimeout, errOpTimeout)
	defer cancel()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.done:
		return errConnectionLost
	}
}

// isNotFound reports whether err is the broker's 404 NOT_FOUND.
func isNotFound(err error) bool {
	var aerr *amqp.Error
	return errors.As(err, &aerr) && aerr.Code == amqp.NotFound
}
