package invoke

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

// unpublishedAfter is how old an unqueued invocation must be before it is
// queued again: its gateway has long given up on it by then.
const unpublishedAfter = time.Minute

// Republish queues, once, the invocations whose task is lost: recorded but
// never queued because their gateway died between the two, or recorded
// only after a worker had dropped their task for want of a row. Any number of
// processes may run it at once: a duplicate task finds its invocation
// started or finished and changes nothing.
func (s *Service) Republish(ctx context.Context) {
	now := s.Clock.Now()
	list, err := s.Invocations.UnpublishedInvocations(ctx, now.Add(-unpublishedAfter), 100)
	if err != nil {
		s.Logger.WarnContext(ctx, "republish: find unqueued invocations", "err", err)
		return
	}
	queued := make([]string, 0, len(list))
	for _, inv := range list {
		if err := s.Broker.Publish(ctx, orc.NewTask(inv, nil, "")); err != nil {
			s.Logger.WarnContext(ctx, "republish: queue invocation", "invocation_id", inv.ID, "err", err)
			break
		}
		if err := s.Invocations.MarkPublished(ctx, inv.ID); err != nil {
			s.Logger.WarnContext(ctx, "republish: mark queued", "invocation_id", inv.ID, "err", err)
		}
		queued = append(queued, inv.ID)
		s.Logger.WarnContext(ctx, "queued an invocation whose task was lost", "invocation_id", inv.ID)
	}
	// Drop records of invocations that were never recorded (their insert
	// failed) are kept for droppedKept: an insert may still be in flight.
	if err := s.Invocations.ForgetDroppedTasks(ctx, now.Add(-droppedKept), queued...); err != nil {
		s.Logger.WarnContext(ctx, "republish: forget dropped tasks", "err", err)
	}
}

// droppedKept is how long a worker's record of a task it dropped is kept
// when its invocation does not appear.
const droppedKept = time.Hour
