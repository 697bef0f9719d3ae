package invoke

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

// Sweeper is what the sweeps need of the store (postgres.DB).
type Sweeper interface {
	// QueuedBefore returns queued invocations whose task was confirmed
	// before the given time, oldest first.
	QueuedBefore(ctx context.Context, before time.Time, limit int) ([]*orc.Invocation, error)
	// StrandedBefore returns running invocations started before the given
	// time whose worker has not reported since (ray-job ones left out).
	StrandedBefore(ctx context.Context, before time.Time, limit int) ([]*orc.Invocation, error)
	// ClaimRequeue reports whether this call may queue inv's task again:
	// it wins only while inv is as read and its task was last queued
	// before the given time.
	ClaimRequeue(ctx context.Context, inv *orc.Invocation, before time.Time) (bool, error)
	// ExpireQueued ends as expired the queued invocations past their
	// version's queue_timeout_s and returns them.
	ExpireQueued(ctx context.Context, now time.Time, limit int) ([]*orc.Invocation, error)
}

// QueueDepths tells how many tasks wait in a pool's queue (rabbitmq.Broker).
type QueueDepths interface {
	QueueDepth(ctx context.Context, pool string) (int, error)
}

// Default bounds of the sweeps (docs/architecture.md, "Sweeps").
const (
	// DefaultSweepEvery is how often the sweeps run, in every gateway and
	// worker.
	DefaultSweepEvery = 30 * time.Second
	// DefaultLostAfter is how long a queued invocation's task must have been
	// confirmed before an empty queue means the task is lost: a delivered
	// task marks its invocation running within milliseconds.
	DefaultLostAfter = 2 * time.Minute
	// DefaultStrandedAfter is how long a running invocation's worker must have
	// been silent before its task is queued again. The broker gives the
	// task of a worker whose connection died to another at once; this is
	// for a worker that lives on without reporting, or a task the broker
	// lost with its node. Five minutes outlast a database failover.
	DefaultStrandedAfter = 5 * time.Minute
	// sweepBatch bounds the invocations one sweep handles of each kind.
	sweepBatch = 100
)

// Sweep makes sure every invocation reaches a final state whatever the
// queue did with its task:
//
//   - Republish queues those never queued, or whose task a worker dropped;
//   - a queued invocation whose task was confirmed over LostAfter ago while
//     its pool's queue is empty lost its task (to a broker that lost a
//     message, say): it is queued again;
//   - a running invocation whose worker has not reported for StrandedAfter
//     is queued again; its next attempt supersedes the stranded one;
//   - a queued invocation past its version's queue_timeout_s ends expired,
//     and the task that may still come is acked without running.
//
// Each is counted (orc_invocations_swept_total) and logged. Any number of
// processes may sweep at once: each invocation is claimed by one.
func (s *Service) Sweep(ctx context.Context) {
	s.Republish(ctx)
	if s.Sweeps == nil {
		return
	}
	now := s.Clock.Now()
	s.expire(ctx, now)
	if s.Depths != nil {
		s.requeueLost(ctx, now)
	}
	s.requeueStranded(ctx, now)
}

func (s *Service) expire(ctx context.Context, now time.Time) {
	expired, err := s.Sweeps.ExpireQueued(ctx, now, sweepBatch)
	for _, inv := range expired {
		s.metrics.swept.WithLabelValues("expired").Inc()
		s.Logger.WarnContext(ctx, "invocation expired in its queue", "invocation_id", inv.ID,
			"plugin", inv.Plugin, "version", inv.Version, "pool", inv.Pool, "reason", inv.Error.Message)
		s.Deliver(inv.Reply())
		if s.Events != nil {
			s.Events.PublishEvent(orc.EventOf(inv, now))
		}
	}
	if err != nil {
		s.Logger.WarnContext(ctx, "sweep: expire queued invocations", "err", err)
	}
}

func (s *Service) requeueLost(ctx context.Context, now time.Time) {
	before := now.Add(-s.cfg.LostAfter)
	list, err := s.Sweeps.QueuedBefore(ctx, before, sweepBatch)
	if err != nil {
		s.Logger.WarnContext(ctx, "sweep: find queued invocations", "err", err)
		return
	}
	empty := map[string]bool{}
	for _, inv := range list {
		isEmpty, known := empty[inv.Pool]
		if !known {
			// Read after the rows: a task delivered since is marked
			// running before the claim below can win.
			n, err := s.Depths.QueueDepth(ctx, inv.Pool)
			if err != nil {
				s.Logger.WarnContext(ctx, "sweep: queue depth", "pool", inv.Pool, "err", err)
				return
			}
			isEmpty = n == 0
			empty[inv.Pool] = isEmpty
		}
		if isEmpty {
			s.requeue(ctx, inv, before, "lost")
		}
	}
}

func (s *Service) requeueStranded(ctx context.Context, now time.Time) {
	before := now.Add(-s.cfg.StrandedAfter)
	list, err := s.Sweeps.StrandedBefore(ctx, before, sweepBatch)
	if err != nil {
		s.Logger.WarnContext(ctx, "sweep: find stranded invocations", "err", err)
		return
	}
	for _, inv := range list {
		s.requeue(ctx, inv, before, "stranded")
	}
}

// requeue queues inv's task again if this sweep wins its claim. A publish
// that fails leaves the claim made: the next sweep after it tries again.
func (s *Service) requeue(ctx context.Context, inv *orc.Invocation, before time.Time, why string) {
	won, err := s.Sweeps.ClaimRequeue(ctx, inv, before)
	if err != nil || !won {
		if err != nil {
			s.Logger.WarnContext(ctx, "sweep: claim invocation", "invocation_id", inv.ID, "err", err)
		}
		return
	}
	if err := s.Broker.Publish(ctx, orc.NewTask(inv, nil, "")); err != nil {
		s.Logger.WarnContext(ctx, "sweep: queue invocation again", "invocation_id", inv.ID, "err", err)
		return
	}
	s.metrics.swept.WithLabelValues("requeued_" + why).Inc()
	s.Logger.WarnContext(ctx, "queued an invocation again", "invocation_id", inv.ID, "why", why,
		"status", inv.Status, "worker", inv.Worker, "attempts", inv.Attempts, "pool", inv.Pool)
}

// KeepSweeping runs Sweep every Config.SweepEvery until ctx ends.
func (s *Service) KeepSweeping(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		s.Sweep(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
