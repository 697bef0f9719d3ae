package runtime

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/orc-gateway/orc"
)

// fastWindow is how long a warm call may take before its invocation is
// marked running. A shorter call commits its result and its start in one
// statement, which saves the start mark's round trip on the warm path.
const fastWindow = 20 * time.Millisecond

// fastVersion returns the version of a task that may take the fast path: a
// warm (http) version without post hooks whose input came with the task.
func (w *Worker) fastVersion(ctx context.Context, task *orc.Task) *orc.Version {
	if task.Input == nil || task.VersionID == 0 || w.Warm == nil {
		return nil
	}
	v, err := w.version(ctx, task.VersionID)
	if err != nil || v.Protocol != orc.ProtocolHTTP || (w.Hooks != nil && w.Hooks.HasHooks(orc.HookPost, v)) {
		return nil
	}
	return v
}

// handleFast calls a warm container with the task's input before reading
// the store. A call that ends within fastWindow is committed as an attempt
// that was never marked started: it wins only while the invocation is still
// queued (not canceled, not started by another delivery). A longer call
// marks the invocation running, as any run, and ends as one.
//
// It reports false when the usual path should run the task instead: the
// call could not be made, or the invocation is not (yet) recorded.
func (w *Worker) handleFast(ctx context.Context, log *slog.Logger, task *orc.Task, v *orc.Version) (bool, error) {
	received := w.Clock.Now()
	stopCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	runCtx, cancel := context.WithTimeout(stopCtx, v.Timeout())
	defer cancel()
	done := w.track(task.InvocationID, stop)
	defer done()

	// The call runs on this goroutine; should it outlast fastWindow, the
	// invocation is marked running meanwhile, and a start that finds it
	// canceled or recorded otherwise stops the call.
	type started struct {
		inv *orc.Invocation
		err error
	}
	slow := make(chan started, 1)
	timer := time.AfterFunc(fastWindow, func() {
		inv, err := w.start(ctx, log, task, received)
		if inv == nil || err != nil || inv.VersionID != v.ID {
			stop(errCanceled)
		}
		slow <- started{inv, err}
	})
	res, err := w.Warm.Run(runCtx, v, task.Input)
	if timer.Stop() {
		if errors.Is(context.Cause(runCtx), errDrained) {
			return true, errDrained // the worker stops: another one runs it
		}
		if err != nil {
			return false, nil // the usual path tries again, with backoff
		}
		return w.commitFast(ctx, log, task, v, res, received)
	}

	// A long call: the invocation showed running while it ran.
	st := <-slow
	inv := st.inv
	if inv == nil || st.err != nil || inv.VersionID != v.ID {
		if inv != nil && st.err == nil {
			// Recorded with another version than the task said: run what
			// the store says.
			return false, nil
		}
		return true, st.err
	}
	log = log.With("plugin", inv.Plugin, "version", inv.Version, "attempt", inv.Attempts)
	if err != nil {
		// The call could not be made; the usual path's retries apply.
		err = w.retry(runCtx, log, "call warm server", func() (err error) {
			res, err = w.Warm.Run(runCtx, v, inv.Input)
			return err
		})
	}
	return true, w.conclude(ctx, &attempt{task: task, inv: inv, v: v, log: log}, outcomeOf(runCtx, res, err))
}

// commitFast commits the result of a call that was never marked started.
func (w *Worker) commitFast(ctx context.Context, log *slog.Logger, task *orc.Task, v *orc.Version, res *orc.ContainerResult, received time.Time) (bool, error) {
	inv := &orc.Invocation{ID: task.InvocationID, Plugin: v.Plugin, Version: v.Version, VersionID: v.ID,
		Input: task.Input, Status: orc.StatusRunning, CreatedAt: task.CreatedAt}
	if !task.CreatedAt.IsZero() {
		inv.Timing.QueueMS = max(ms(received.Sub(task.CreatedAt)), 0)
	}
	r := w.interpret(inv, v, res)
	r.StartedAt, r.VersionID, r.Input = received, v.ID, task.Input
	r.Worker, r.Node, r.Driver, r.FinishedAt = w.cfg.ID, w.cfg.Node, w.cfg.Driver, w.Clock.Now()
	var won bool
	cctx, span := w.tracer().Start(ctx, "commit result")
	err := w.retry(cctx, log, "commit result", func() (err error) {
		won, err = w.Invocations.FinishUnstarted(cctx, inv.ID, r)
		return err
	})
	endResult(span, r, won, err)
	if err != nil {
		return true, err
	}
	if won {
		w.committed(ctx, &attempt{task: task, inv: inv, v: v, log: log.With("plugin", inv.Plugin, "version", inv.Version, "fast", true)}, r)
		return true, nil
	}
	final, err := w.Invocations.FindInvocation(ctx, inv.ID)
	switch {
	case orc.ErrorCode(err) == orc.ENOTFOUND, err == nil && final.Status == orc.StatusQueued:
		// Not recorded yet (its gateway records it while queueing it), or
		// recorded otherwise than the task said: the usual path decides.
		return false, nil
	case err != nil:
		return true, err
	case final.Status.Terminal():
		// Canceled meanwhile, or finished by another delivery.
		log.InfoContext(ctx, "result discarded: invocation final", "status", final.Status)
		w.reply(ctx, task, final)
	default:
		// Another delivery started it; that attempt commits.
		log.InfoContext(ctx, "result discarded: another attempt runs the invocation", "attempts", final.Attempts)
	}
	return true, nil
}
