package invoke

import (
	"context"

	"github.com/orc-gateway/orc"
)

// publish queues a recorded invocation. When the broker refuses it, the
// invocation is withdrawn again: the client is told 503 and nothing was
// accepted. An invocation that cannot be withdrawn because a worker started
// it after all (the refusal was only a lost confirm) counts as queued.
func (s *Service) publish(ctx context.Context, inv *orc.Invocation, v *orc.Version, replyTo string) error {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not leave it half queued
	err := s.Broker.Publish(ctx, orc.NewTask(inv, v, replyTo))
	return s.published(ctx, inv, err)
}

// recordAndQueue records a new invocation and queues it at the same time,
// to take the insert off a synchronous call's path. A worker that gets
// the task first waits for the row. When the insert fails, the client is
// told (503) and the task finds no row to run; when the publish fails, the
// row is withdrawn as publish does.
func (s *Service) recordAndQueue(ctx context.Context, inv *orc.Invocation, v *orc.Version, replyTo string) error {
	ctx = context.WithoutCancel(ctx)
	inserted := make(chan error, 1)
	go func() {
		_, _, err := s.insert(ctx, inv)
		inserted <- err
	}()
	perr := s.Broker.Publish(ctx, orc.NewTask(inv, v, replyTo))
	if err := <-inserted; err != nil {
		return err
	}
	return s.published(ctx, inv, perr)
}

// published finishes queueing an invocation whose task the broker took
// (err nil) or refused.
func (s *Service) published(ctx context.Context, inv *orc.Invocation, err error) error {
	if err == nil {
		if inv.IdempotencyKey != "" {
			// A retry with the key tells "in progress" from "queued" by
			// the mark: write it now, still off the answer's path.
			go s.writeMarks(ctx, []string{inv.ID})
			return nil
		}
		s.markPublished(inv.ID)
		return nil
	}
	derr := s.Invocations.DeleteInvocation(ctx, inv.ID)
	switch orc.ErrorCode(derr) {
	case "":
	case orc.ECONFLICT:
		s.Logger.WarnContext(ctx, "publish reported failure but the invocation was queued", "invocation_id", inv.ID, "err", err)
		return nil
	default:
		// It stays recorded and unqueued; a worker queues it within a
		// minute, so it still reaches a final state.
		s.Logger.ErrorContext(ctx, "withdraw unqueued invocation", "invocation_id", inv.ID, "err", derr)
	}
	if orc.ErrorCode(err) == orc.EUNAVAILABLE {
		return err
	}
	return orc.WrapError(orc.EUNAVAILABLE, err, "the queue is unavailable")
}
