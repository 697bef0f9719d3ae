package invoke

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

// Await waits for the result of a synchronous call: a reply from the
// worker, or the database when replies do not come (a lost reply, or an
// idempotent retry of an invocation another gateway queued). A ticket of
// an invocation that is final already answers at once.
//
// # Errors
//
// ETIMEOUT when the result did not come within the version's timeout and
// the sync grace (the invocation goes on); ctx's error when it ended first.
func (s *Service) Await(ctx context.Context, t *Ticket) (*orc.Reply, error) {
	inv, plugin := t.Invocation, t.Version.Plugin
	if inv.Status.Terminal() {
		reply := inv.Reply()
		s.metrics.observe(plugin, string(reply.Status), t.start)
		return reply, nil
	}
	reply, err := s.await(ctx, inv.ID, t.replies, t.Version.Timeout()+s.cfg.SyncGrace)
	switch {
	case err == nil:
		s.metrics.observe(plugin, string(reply.Status), t.start)
	case ctx.Err() == nil:
		s.metrics.observe(plugin, "waiting", t.start)
	}
	return reply, err
}

func (s *Service) await(ctx context.Context, id string, replies <-chan *orc.Reply, limit time.Duration) (*orc.Reply, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case reply := <-replies:
			return reply, nil
		case <-poll.C:
			inv, err := s.Invocations.FindInvocation(ctx, id)
			if err != nil {
				s.Logger.WarnContext(ctx, "poll invocation", "invocation_id", id, "err", err)
				continue
			}
			if inv.Status.Terminal() {
				return inv.Reply(), nil
			}
		case <-timer.C:
			return nil, orc.Errorf(orc.ETIMEOUT, "the invocation did not finish within %s; it goes on, and its result will be at its Location", limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
