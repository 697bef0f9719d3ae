// Package rabbitmq queues Orc's invocations on RabbitMQ.
//
// A Broker keeps one AMQP connection to the broker and redials it with
// backoff whenever it is lost. On top of that connection it publishes tasks
// with publisher confirms (the gateway side), consumes them with manual
// acknowledgements (the worker side), carries the replies of synchronous
// calls back to the gateway that waits for them, and fans cancels out to
// every worker.
//
// # Topology
//
// With the default prefix "orc":
//
//   - orc.invoke: direct exchange; a task is routed with its pool as the key.
//   - orc.pool.<pool>: durable quorum queue per pool, bound to orc.invoke,
//     with a delivery limit and orc.dead as its dead-letter exchange.
//   - orc.dead: fanout exchange and the durable quorum queue bound to it,
//     where tasks land after too many deliveries or when rejected.
//   - orc.events: topic exchange; cancels use the key "invocation.cancel",
//     invocation events "invocation.status", and the log events of a
//     running invocation "invocation.log.<id>".
//   - orc.reply.<instance>, orc.cancel.<instance> and orc.events.<instance>:
//     exclusive, auto-deleted queues of one process, redeclared on every
//     reconnect. The events queue is bound to the log key of each
//     invocation the process follows, and to no other.
//
// Every declaration is idempotent, so gateways and workers declare what they
// use and no separate setup step is needed.
package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
)

// Config configures a Broker. A zero field takes its default.
type Config struct {
	// URL is the broker's AMQP URL, amqp://user:password@host:port/vhost.
	// Its password is never logged.
	URL string

	// Prefix starts the name of every exchange and queue; default "orc".
	// Tests use a unique prefix each to stay apart.
	Prefix string

	// Instance names this process's reply and cancel queues. It must be
	// unique among the processes sharing a prefix; default random.
	Instance string

	// DeliveryLimit is how many times a task is requeued (x-delivery-limit
	// on the pool queues) before it is dead-lettered; default 5. Changing it
	// for an existing pool queue makes its declaration fail: delete the
	// queue or keep the old limit.
	DeliveryLimit int

	// DeadDeliveryLimit is how many times a dead-lettered task is handed to
	// the dead handler before, if the handler still fails, it is parked on
	// the "<prefix>.dead.parked" queue, which nothing consumes; default 10.
	// Handlers wait out an unavailable database themselves, so what fails
	// ten times is a task no retry will settle.
	DeadDeliveryLimit int

	// ReconnectMin and ReconnectMax bound the backoff between dials;
	// default 100ms and 5s.
	ReconnectMin, ReconnectMax time.Duration

	// PublishTimeout is the longest a publish waits for the broker's
	// confirm, and the longest any other broker operation may take;
	// default 5s.
	PublishTimeout time.Duration

	// RetryDelay is how long a delivery whose handler failed waits before
	// it is requeued, so that a failing dependency does not use up the
	// delivery limit in a tight loop; default 1s.
	RetryDelay time.Duration

	// Logger receives the broker's logs; default slog.Default().
	Logger *slog.Logger

	// Tracer, when set, records the publish of each task, its consume and
	// the reply, and carries the task's trace context (W3C traceparent) in
	// its message headers, so that the worker's spans join the gateway's
	// trace. Nil: no spans and no trace headers.
	Tracer trace.Tracer
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "orc"
	}
	if c.Instance == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.Instance = hex.EncodeToString(b[:])
	}
	if c.DeliveryLimit <= 0 {
		c.DeliveryLimit = 5
	}
	if c.DeadDeliveryLimit <= 0 {
		c.DeadDeliveryLimit = 10
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 5 * time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

const (
	heartbeat   = 10 * time.Second
	dialTimeout = 5 * time.Second
)

var (
	errNotConnected = errors.New("not connected")
	errClosed       = orc.Errorf(orc.EUNAVAILABLE, "message broker connection closed")
)

// Broker is a connection to RabbitMQ that heals itself. Its methods are safe
// for concurrent use.
type Broker struct {
	cfg      Config
	log      *slog.Logger
	url      string // redacted, for logs
	ctx      context.Context
	stop     context.CancelFunc
	done     chan struct{} // closed when the connection manager has exited
	wg       sync.WaitGroup
	closing  sync.Once
	tagSeq   atomic.Uint64
	replyH   atomic.Pointer[func(*orc.Reply)]
	cancelH  atomic.Pointer[func(string)]
	replySub *subscription
	cancSub  *subscription
	ev       events

	mu      sync.Mutex
	cur     *session      // nil while disconnected
	up      chan struct{} // closed when cur is set, replaced when it is cleared
	lastErr error

	// subMu serializes starting subscriptions with publishing a new
	// session, so that every subscription runs on every session.
	subMu      sync.Mutex
	subs       []*subscription
	subsClosed bool

	declMu   sync.Mutex
	declared map[string]bool // durable queues declared, for DeleteTopology
}

var _ orc.Publisher = (*Broker)(nil)

// Open returns a Broker and starts connecting it in the background. It never
// blocks: use WaitReady to wait for the connection, Ready to check it.
func Open(cfg Config) *Broker {
	cfg = cfg.withDefaults()
	ctx, stop := context.WithCancel(context.Background())
	b := &Broker{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "rabbitmq"),
		url:      redactURL(cfg.URL),
		ctx:      ctx,
		stop:     stop,
		done:     make(chan struct{}),
		up:       make(chan struct{}),
		declared: make(map[string]bool),
	}
	b.replySub = &subscription{kind: "reply", queue: b.ReplyQueue(), deliver: b.deliverReply}
	b.cancSub = &subscription{kind: "cancel", queue: b.cancelQueue(), bind: b.bindCancel, deliver: b.deliverCancel}
	go b.run()
	return b
}

// WaitReady waits until the broker is connected.
//
// # Errors
//
// EUNAVAILABLE when ctx ends first (wrapping ctx's error and the last dial
// error) or the Broker is closed.
func (b *Broker) WaitReady(ctx context.Context) error {
	if _, err := b.await(ctx); err != nil {
		if errors.Is(err, errClosed) {
			return err
		}
		b.mu.Lock()
		last := b.lastErr
		b.mu.Unlock()
		if last != nil {
			err = fmt.Errorf("%w (last error: %v)", err, last)
		}
		return orc.WrapError(orc.EUNAVAILABLE, err, "message broker unavailable")
	}
	return nil
}

// Ready returns nil when the broker is connected and accepts publishes.
//
// # Errors
//
// EUNAVAILABLE while disconnected, while the broker blocks publishers
// (a memory or disk alarm), or after Close.
func (b *Broker) Ready() error {
	_, err := b.live()
	return err
}

// Close stops reconnecting and closes the connection. Consume calls still
// running return; their in-flight deliveries are redelivered later, so cancel
// their contexts and wait for them first for a clean stop. Close is
// idempotent.
func (b *Broker) Close() error {
	b.closing.Do(func() {
		b.stop()
		<-b.done
		// No subscription may start its goroutine during the Wait.
		b.subMu.Lock()
		b.subsClosed = true
		b.subMu.Unlock()
		b.wg.Wait()
	})
	return nil
}

// ReplyQueue returns the name of this process's reply queue, which the
// gateway puts in a Task's ReplyTo. It is fixed for the Broker's life.
func (b *Broker) ReplyQueue() string {
	return b.cfg.Prefix + ".reply." + b.cfg.Instance
}

// run is the connection manager: it dials, publishes the session, waits for
// its loss and dials again, until Close.
func (b *Broker) run() {
	defer close(b.done)
	delay := b.cfg.ReconnectMin
	for {
		s, err := b.connect()
		if err == nil {
			started := time.Now()
			b.subMu.Lock()
			for _, sub := range b.subs {
				b.startSubscription(s, sub)
			}
			b.setSession(s)
			b.subMu.Unlock()
			b.log.Info("connected to message broker", "url", b.url)

			select {
			case aerr := <-s.closed:
				err = errNotConnected
				if aerr != nil {
					err = aerr
				}
				b.clearSession(s, err)
				b.log.Warn("lost message broker connection", "url", b.url, "err", err)
			case <-b.ctx.Done():
				b.clearSession(s, errClosed)
				if cerr := s.conn.Close(); cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
					b.log.Debug("closing connection", "err", cerr)
				}
				return
			}
			if time.Since(started) > b.cfg.ReconnectMax {
				delay = b.cfg.ReconnectMin
			}
		} else {
			b.setErr(err)
			b.log.Warn("cannot connect to message broker", "url", b.url, "err", err, "retry_in", delay)
		}
		if !b.sleep(jitter(delay)) {
			return
		}
		delay = min(2*delay, b.cfg.ReconnectMax)
	}
}

// connect dials and declares the shared topology.
func (b *Broker) connect() (*session, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("orc " + b.cfg.Instance)
	conn, err := amqp.DialConfig(b.cfg.URL, amqp.Config{
		Heartbeat:  heartbeat,
		Locale:     "en_US",
		Properties: props,
		Dial:       amqp.DefaultDial(dialTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s := &session{
		conn:      conn,
		closed:    conn.NotifyClose(make(chan *amqp.Error, 1)),
		done:      make(chan struct{}),
		pools:     make(map[string]bool),
		declaring: make(map[string]chan struct{}),
	}
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for bl := range blocked {
			if bl.Active {
				reason := bl.Reason
				s.blocked.Store(&reason)
				b.log.Warn("message broker blocks publishers", "reason", reason)
			} else {
				s.blocked.Store(nil)
				b.log.Info("message broker unblocked publishers")
			}
		}
	}()
	if err := b.withChannel(b.ctx, s, b.declareShared); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

func (b *Broker) setSession(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur = s
	b.lastErr = nil
	close(b.up)
}

func (b *Broker) clearSession(s *session, err error) {
	b.mu.Lock()
	if b.cur == s {
		b.cur = nil
		b.up = make(chan struct{})
	}
	b.lastErr = err
	b.mu.Unlock()
	close(s.done)
}

func (b *Broker) setErr(err error) {
	b.mu.Lock()
	b.lastErr = err
	b.mu.Unlock()
}

// live returns the current session, or EUNAVAILABLE at once when there is
// none or the broker blocks publishers.
func (b *Broker) live() (*session, error) {
	if b.ctx.Err() != nil {
		return nil, errClosed
	}
	b.mu.Lock()
	s, last := b.cur, b.lastErr
	b.mu.Unlock()
	if s == nil {
		if last == nil {
			last = errNotConnected
		}
		return nil, orc.WrapError(orc.EUNAVAILABLE, last, "message broker unavailable")
	}
	if reason := s.blocked.Load(); reason != nil {
		return nil, orc.WrapError(orc.EUNAVAILABLE, fmt.Errorf("connection blocked: %s", *reason), "message broker unavailable")
	}
	return s, nil
}

// await returns the current session, waiting for one if needed. It fails
// with ctx's error or errClosed.
func (b *Broker) await(ctx context.Context) (*session, error) {
	for {
		if b.ctx.Err() != nil {
			return nil, errClosed
		}
		b.mu.Lock()
		s, up := b.cur, b.up
		b.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.ctx.Done():
			return nil, errClosed
		}
	}
}

// sleep waits d and reports false when the Broker was closed meanwhile.
func (b *Broker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}

func (b *Broker) consumerTag(kind string) string {
	return fmt.Sprintf("orc.%s.%s.%d", b.cfg.Instance, kind, b.tagSeq.Add(1))
}

// jitter spreads d by ±20% so that many processes do not redial in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*mathrand.Float64()))
}

// redactURL hides the password of an AMQP URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
