package invoke

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

// unpublishedAfter is how old an unqueued invocation must be before it is
// queued again: its gateway has long given up on it by then.
const unpublishedAfter = time.Minute

// Republish queues, once, the invocations that were recorded but never
// queued because their gateway died between the two. Any number of
// processes may run it at once: a duplicate task finds its invocation
// started or finished and changes nothing.
func (s *Service) Republish(ctx context.Context) {
	list, err := s.Invocations.UnpublishedInvocations(ctx, s.Clock.Now().Add(-unpublishedAfter), 100)
	if err != nil {
		s.Logger.WarnContext(ctx, "republish: find unqueued invocations", "err", err)
		return
	}
	for _, inv := range list {
		if err := s.Broker.Publish(ctx, orc.NewTask(inv, nil, "")); err != nil {
			s.Logger.WarnContext(ctx, "republish: queue invocation", "invocation_id", inv.ID, "err", err)
			return
		}
		if err := s.Invocations.MarkPublished(ctx, inv.ID); err != nil {
			s.Logger.WarnContext(ctx, "republish: mark queued", "invocation_id", inv.ID, "err", err)
		}
		s.Logger.WarnContext(ctx, "queued an invocation its gateway left unqueued", "invocation_id", inv.ID)
	}
}

// KeepRepublishing runs Republish every interval until ctx ends.
func (s *Service) KeepRepublishing(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.Republish(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
