package runtime

import (
	"github.com/orc-gateway/orc"

	"context"
	"time"
)

// Maintenance intervals.
const (
	// MaintainEvery is how often Maintain looks for work left behind.
	MaintainEvery = 30 * time.Second
	// unpublishedAfter is how old an unqueued invocation must be before a
	// worker queues it: its gateway has long given up on it by then.
	unpublishedAfter = time.Minute
	// deadlineGrace is how long past its deadline a container may still run
	// before any worker on its engine kills it.
	deadlineGrace = 30 * time.Second
)

// Maintain repairs, every MaintainEvery until ctx ends, what crashes leave
// behind: it kills containers that outlived their deadline (their worker
// died or was drained mid-run), and queues invocations whose gateway died
// between recording and queueing them. Any number of workers may run it.
func (w *Worker) Maintain(ctx context.Context) {
	t := time.NewTicker(MaintainEvery)
	defer t.Stop()
	for {
		w.MaintainOnce(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// MaintainOnce does one round of Maintain.
func (w *Worker) MaintainOnce(ctx context.Context) {
	now := w.Clock.Now()
	if reaper, ok := w.Driver.(orc.Reaper); ok {
		if err := reaper.ReapExpired(ctx, now.Add(-deadlineGrace)); err != nil {
			w.Logger.Warn("maintain: reap expired containers", "err", err)
		}
	}
	if w.Publisher == nil {
		return
	}
	list, err := w.Invocations.UnpublishedInvocations(ctx, now.Add(-unpublishedAfter), 100)
	if err != nil {
		w.Logger.Warn("maintain: find unqueued invocations", "err", err)
		return
	}
	for _, inv := range list {
		// Another worker may queue it at the same time; the duplicate task
		// finds it started or finished and changes nothing.
		task := taskOf(inv)
		if err := w.Publisher.Publish(ctx, task); err != nil {
			w.Logger.Warn("maintain: queue invocation", "invocation_id", inv.ID, "err", err)
			return
		}
		if err := w.Invocations.MarkPublished(ctx, inv.ID); err != nil {
			w.Logger.Warn("maintain: mark queued", "invocation_id", inv.ID, "err", err)
		}
		w.Logger.Warn("queued an invocation its gateway left unqueued", "invocation_id", inv.ID)
	}
}
