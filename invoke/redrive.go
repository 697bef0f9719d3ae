package invoke

import (
	"context"

	"github.com/orc-gateway/orc"
)

// Redrive runs a dead letter again: the same invocation, same id, its
// attempts counting on. It is queued the way Submit queues an
// asynchronous call — recorded (queued, unpublished) before its task is
// published — so a publish that fails loses nothing: the sweep of unqueued
// invocations (Republish) queues it within a minute or two.
//
// Of concurrent redrives of one invocation exactly one queues it; the
// others get ECONFLICT. The principal must be allowed to invoke and to see
// the invocation and its plugin.
//
// # Errors
//
// ENOTFOUND (no such invocation, or not the principal's, or its plugin is
// not visible any more), EFORBIDDEN (the role may not invoke), ECONFLICT
// (not on the dead-letter list — redriven already, discarded or never
// dead — or its version was deleted), EUNAVAILABLE (the broker is down:
// nothing changed).
func (s *Service) Redrive(ctx context.Context, id string) (*orc.Invocation, error) {
	p := orc.PrincipalFromContext(ctx)
	inv, err := s.Invocations.FindInvocation(ctx, id)
	if err == nil && !p.CanSee(inv.OwnerID) {
		err = orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	if err != nil {
		return nil, err
	}
	if !p.Role.CanInvoke() {
		return nil, orc.Errorf(orc.EFORBIDDEN, "your role may not redrive invocations")
	}
	// It runs as it was recorded, but only while its plugin is still
	// there for the principal, as a new invocation would need.
	plugin, err := s.Plugins.FindPlugin(ctx, inv.Plugin)
	if err == nil && !p.CanSeePlugin(plugin) {
		err = orc.Errorf(orc.ENOTFOUND, "plugin %q not found", inv.Plugin)
	}
	if err != nil {
		return nil, err
	}
	// Refuse while the broker is down, before the row changes: a
	// redrive that answers 503 did nothing.
	if err := s.Broker.Ready(); err != nil {
		return nil, err
	}
	inv, err = s.DeadLetters.RedriveDeadLetter(ctx, id)
	if err != nil {
		return nil, err
	}
	s.metrics.redriven.WithLabelValues(inv.Plugin).Inc()
	ctx = context.WithoutCancel(ctx) // a client hanging up must not leave it half queued
	if err := s.Broker.Publish(ctx, orc.NewTask(inv, nil, "")); err != nil {
		// Recorded queued and unpublished: the sweep queues it. Never
		// withdraw it as a new invocation's row is: it was accepted long
		// ago.
		s.Logger.WarnContext(ctx, "redrive: queue invocation; the sweep queues it later", "invocation_id", inv.ID, "err", err)
		return inv, nil
	}
	s.markPublished(inv.ID)
	s.Logger.InfoContext(ctx, "dead letter redriven", "invocation_id", inv.ID, "plugin", inv.Plugin,
		"redrives", inv.Redrives, "attempts", inv.Attempts, "user_id", p.UserID)
	return inv, nil
}

// Retryable reports whether an invocation may be retried: it ended, and
// not in success (a success is invoked again, not retried).
func Retryable(st orc.Status) bool {
	return st.Terminal() && st != orc.StatusSucceeded
}

// Retry submits a new asynchronous invocation with the plugin, version and
// input of an earlier one that did not succeed, linked to it by RetryOf.
// It goes through Submit, so the principal must be allowed to invoke the
// plugin now, and the pre hooks and the input schema judge it afresh; the
// new invocation is the principal's. headers are the request's (for the
// hooks), idempotencyKey as Submit takes it.
//
// # Errors
//
// ENOTFOUND (no such invocation or not visible, or its version is gone),
// ECONFLICT (it has not ended, or it succeeded), and Submit's.
func (s *Service) Retry(ctx context.Context, id string, req Request) (*Ticket, error) {
	p := orc.PrincipalFromContext(ctx)
	inv, err := s.Invocations.FindInvocation(ctx, id)
	if err == nil && !p.CanSee(inv.OwnerID) {
		err = orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	if err != nil {
		return nil, err
	}
	if !Retryable(inv.Status) {
		return nil, orc.Errorf(orc.ECONFLICT, "only an invocation that ended without success can be retried (it is %s)", inv.Status)
	}
	req.Plugin, req.Version, req.Input, req.Async, req.RetryOf = inv.Plugin, inv.Version, inv.Input, true, inv.ID
	t, err := s.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	if t.Created {
		s.metrics.retried.WithLabelValues(inv.Plugin).Inc()
	}
	return t, nil
}
