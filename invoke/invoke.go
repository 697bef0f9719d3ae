// Package invoke owns the life of one invocation on the gateway's side:
// Submit finds the version a principal may run, runs the pre hooks,
// validates the input, records the invocation and queues its task; Await
// waits for a synchronous call's result; Deliver hands a worker's reply to
// the calls waiting for it; Republish queues what a gateway that died left
// unqueued; Cancel stops it. The HTTP handlers of the invoke API and of the seed's job API
// only parse a request, call Submit and Await, and write the answer.
//
// # Delivery
//
// Nothing Submit accepted is lost: the invocation is recorded before the
// client is answered, and its task is confirmed by the broker before
// Submit returns. Submit picks one of three orders:
//
//   - A synchronous call without an idempotency key records the invocation
//     and publishes its task at once; the worker that gets the task first
//     waits for the row. If the insert fails, the client is told (503) and
//     the task finds nothing to run.
//   - Any other new invocation is recorded, then published.
//   - A retry with an idempotency key gets the invocation recorded before,
//     and nothing is queued again.
//
// A task the broker refuses is withdrawn (the row is deleted unless a
// worker started it meanwhile) and the client is told 503, so a retry
// starts afresh. docs/architecture.md describes the guarantees whole.
package invoke

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
)

// Config tunes the invoke path. The zero value of each field means its
// default.
type Config struct {
	// SyncGrace is added to a plugin's timeout for queueing and container
	// start when a synchronous call waits for its result (30s).
	SyncGrace time.Duration
	// PollInterval is how often a synchronous call also reads its
	// invocation from the database, in case its reply was lost (2s).
	PollInterval time.Duration
	// SweepEvery is how often KeepSweeping sweeps (30s); LostAfter (2m)
	// and StrandedAfter (5m) are the sweeps' bounds (Sweep).
	SweepEvery, LostAfter, StrandedAfter time.Duration
}

func (c *Config) setDefaults() {
	if c.SyncGrace == 0 {
		c.SyncGrace = 30 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = DefaultSweepEvery
	}
	if c.LostAfter == 0 {
		c.LostAfter = DefaultLostAfter
	}
	if c.StrandedAfter == 0 {
		c.StrandedAfter = DefaultStrandedAfter
	}
}

// Broker is what the invoke path needs of the message broker.
type Broker interface {
	orc.Publisher
	// ReplyQueue names the queue where this gateway receives replies.
	ReplyQueue() string
	// Ready returns nil when the broker is connected, else EUNAVAILABLE.
	Ready() error
	// BroadcastCancel tells every worker to stop an invocation.
	BroadcastCancel(ctx context.Context, invocationID string) error
}

// Plugins finds the plugin versions to run (registry.Registry).
type Plugins interface {
	// FindPlugin returns a plugin with its latest version; it may answer
	// from a cache. Returns ENOTFOUND.
	FindPlugin(ctx context.Context, name string) (*orc.Plugin, error)
	// FindVersion returns one version of a plugin. Returns ENOTFOUND.
	FindVersion(ctx context.Context, plugin, version string) (*orc.Version, error)
	// PoolExists reports whether a pool has workers to run its tasks.
	// Returns EINVALID for a name no pool can have.
	PoolExists(ctx context.Context, pool string) (bool, error)
}

// Schemas checks inputs against their versions' input schemas
// (registry.Schemas). It returns EINVALID listing the violations.
type Schemas interface {
	ValidateInput(v *orc.Version, doc []byte) error
}

// Service runs the invoke path. Set its service fields before use; a
// worker that only republishes needs Invocations, Broker and Logger.
type Service struct {
	Plugins     Plugins
	Invocations orc.InvocationService
	// DeadLetters redrives dead letters (Redrive); nil where nothing
	// redrives.
	DeadLetters orc.DeadLetterService
	Broker      Broker
	Schemas     Schemas
	// Hooks runs the pre hooks (registry.Hooks); nil runs none.
	Hooks orc.HookRunner
	// Sweeps and Depths serve Sweep; without Sweeps it only republishes,
	// without Depths it does not look for lost tasks.
	Sweeps Sweeper
	Depths QueueDepths
	// Events hears of the invocations the sweeps end; nil: nobody.
	Events orc.EventPublisher
	Logger *slog.Logger
	Clock  orc.Clock
	// Tracer records the steps of Submit (schema validation, the insert)
	// as spans; nil: none.
	Tracer trace.Tracer

	cfg     Config
	metrics *Metrics
	waiters waiters
	marks   publishMarks
}

// New returns a Service that counts into m (nil: metrics registered
// nowhere).
func New(cfg Config, m *Metrics) *Service {
	cfg.setDefaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Service{cfg: cfg, metrics: m, Logger: slog.Default(), Clock: orc.SystemClock{}}
}

// Cancel marks a queued or running invocation canceled, so that no worker
// starts it, then tells the worker running it to stop and the calls
// waiting for it that it ended. Returns ENOTFOUND, ECONFLICT when it is
// final already.
func (s *Service) Cancel(ctx context.Context, id string) (*orc.Invocation, error) {
	inv, err := s.Invocations.CancelInvocation(ctx, id, s.Clock.Now())
	if err != nil {
		return nil, err
	}
	if err := s.Broker.BroadcastCancel(ctx, inv.ID); err != nil {
		// The worker finds the invocation canceled when it next looks; a
		// container already running ends at its timeout.
		s.Logger.WarnContext(ctx, "broadcast cancel", "invocation_id", inv.ID, "err", err)
	}
	s.waiters.deliver(inv.Reply())
	return inv, nil
}

// Deliver hands a worker's reply to the synchronous calls waiting for it.
// Wire it to the broker's reply queue.
func (s *Service) Deliver(r *orc.Reply) { s.waiters.deliver(r) }
