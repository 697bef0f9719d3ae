package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docker/docker/api/types/container"
	"go.opentelemetry.io/otel/attribute"

	"github.com/orc-gateway/orc"
)

// drainGrace is how long Run waits, after the container has exited, for
// the engine to flush and end the output stream.
const drainGrace = 5 * time.Second

// Run creates spec's container, attaches to it, starts it, writes
// spec.Stdin to it and waits for it to exit, then removes it. It
// implements orc.Driver.
//
// # Notes
//
//   - The wait is registered and the streams attached before the container
//     starts, so that neither a fast exit nor early output is missed.
//   - When ctx ends first the container is killed (SIGKILL) and the result
//     has TimedOut (deadline) or Canceled (cancel) set. When ctx ends
//     before the container has started, the result says so too, with
//     ExitCode -1.
//   - The container is removed with a context of its own, so that a
//     canceled ctx still cleans up.
//
// # Errors
//
// orc.EINVALID when spec has no image or its image is not on the engine
// (after one pull, when Config.Pull is set); orc.EUNAVAILABLE when the
// engine cannot be reached; other engine failures uncoded.
func (d *Driver) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	return d.RunStreaming(ctx, spec, nil, nil)
}

// RunStreaming is Run that also writes the container's stdout and stderr,
// as they are read from the engine, to the given writers (either may be
// nil). It implements orc.OutputStreamer: the writers get everything the
// container writes, also what the result's capped buffers drop.
func (d *Driver) RunStreaming(ctx context.Context, spec *orc.ContainerSpec, stdout, stderr io.Writer) (res *orc.ContainerResult, err error) {
	if spec.Image == "" {
		return nil, orc.Errorf(orc.EINVALID, "task has no image")
	}
	ctx, span := d.cfg.Tracer.Start(ctx, "container run")
	defer func() { endRun(span, spec, res, err) }()
	log := d.log.With("invocation_id", spec.InvocationID, "attempt", spec.Attempt, "image", spec.Image)
	begin := time.Now()
	if err := d.negotiate(ctx); err != nil {
		return d.notStarted(ctx, log, err)
	}

	cctx, cspan := d.cfg.Tracer.Start(ctx, "container create")
	id, err := d.create(cctx, log, spec)
	endSpan(cspan, err)
	if err != nil {
		return d.notStarted(ctx, log, err)
	}
	log = log.With("container", shortID(id))
	defer d.remove(ctx, log, id)
	if ctx.Err() != nil {
		return d.notStarted(ctx, log, ctx.Err())
	}

	conn, err := d.cli.ContainerAttach(ctx, id, container.AttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true,
	})
	if err != nil {
		return d.notStarted(ctx, log, engineError("attach", err))
	}
	out := newStreams(conn, d.cfg.StdoutLimit, d.cfg.StderrLimit, stdout, stderr)
	defer out.close(0) // a no-op once the run has closed it

	// The wait outlives ctx: after a kill, the exit is still awaited.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	exitC, waitErrC := d.cli.ContainerWait(waitCtx, id, container.WaitConditionNextExit)
	select {
	case err := <-waitErrC:
		return d.notStarted(ctx, log, engineError("wait", err))
	default:
	}

	sctx, sspan := d.cfg.Tracer.Start(ctx, "container start")
	err = d.cli.ContainerStart(sctx, id, container.StartOptions{})
	endSpan(sspan, err)
	if err != nil {
		return d.notStarted(ctx, log, engineError("start", err))
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("container.id", id))
	}
	started := time.Now()
	res = &orc.ContainerResult{Cold: started.Sub(begin)}
	out.writeStdin(spec.Stdin)

	code, err := d.await(ctx, log, id, res, exitC, waitErrC)
	res.Run = time.Since(started)
	if err != nil {
		return nil, err
	}
	res.ExitCode = code

	if err := out.close(drainGrace); err != nil {
		log.Warn("container output may be incomplete", "err", err)
	}
	res.Stdout, res.StdoutTruncated = out.stdout.Bytes(), out.stdout.Truncated()
	res.Stderr, res.StderrTruncated = out.stderr.Bytes(), out.stderr.Truncated()
	res.OOMKilled = d.oomKilled(ctx, log, id)

	log.Debug("container exited", "exit_code", res.ExitCode, "cold", res.Cold, "run", res.Run,
		"timed_out", res.TimedOut, "canceled", res.Canceled, "oom_killed", res.OOMKilled)
	return res, nil
}

// await waits for the container's exit and returns its exit code. When ctx
// ends first it kills the container, marks res and waits for the exit the
// kill causes.
func (d *Driver) await(ctx context.Context, log *slog.Logger, id string, res *orc.ContainerResult,
	exitC <-chan container.WaitResponse, errC <-chan error) (int, error) {
	select {
	case w := <-exitC:
		return exitCode(w)
	case err := <-errC:
		return 0, engineError("wait", err)
	case <-ctx.Done():
	}
	// The container may have exited at the moment ctx ended; its own exit
	// wins.
	select {
	case w := <-exitC:
		return exitCode(w)
	default:
	}

	res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	res.Canceled = !res.TimedOut
	cctx, cancel := d.detached(ctx)
	defer cancel()
	log.Info("killing container", "reason", ctx.Err())
	if err := d.cli.ContainerKill(cctx, id, "KILL"); err != nil && !isConflict(err) && !isNotFound(err) {
		// Not fatal: the forced remove that follows kills it too.
		log.Warn("kill container", "err", err)
	}
	select {
	case w := <-exitC:
		code, err := exitCode(w)
		if err != nil {
			log.Warn("wait for killed container", "err", err)
			return -1, nil
		}
		return code, nil
	case err := <-errC:
		log.Warn("wait for killed container", "err", err)
	case <-cctx.Done():
		log.Warn("killed container did not exit in time", "timeout", d.cfg.CleanupTimeout)
	}
	return -1, nil
}

// exitCode returns the exit code of a wait response, or the engine's error.
func exitCode(w container.WaitResponse) (int, error) {
	if w.Error != nil && w.Error.Message != "" {
		return 0, fmt.Errorf("docker wait: %s", w.Error.Message)
	}
	return int(w.StatusCode), nil
}

// notStarted returns what Run returns when the container could not be
// started: err, unless ctx ended meanwhile, which is then the run's result.
func (d *Driver) notStarted(ctx context.Context, log *slog.Logger, err error) (*orc.ContainerResult, error) {
	if ctx.Err() == nil {
		return nil, err
	}
	log.Debug("run ended before the container started", "err", err)
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	return &orc.ContainerResult{ExitCode: -1, TimedOut: timedOut, Canceled: !timedOut}, nil
}

// oomKilled reports whether the kernel's OOM killer ended the container.
func (d *Driver) oomKilled(ctx context.Context, log *slog.Logger, id string) bool {
	cctx, cancel := d.detached(ctx)
	defer cancel()
	info, err := d.cli.ContainerInspect(cctx, id)
	if err != nil || info.State == nil {
		log.Warn("inspect exited container", "err", err)
		return false
	}
	return info.State.OOMKilled
}

// detached returns a context for the calls that must not be cut short by
// ctx (create, and everything after ctx may have ended): it keeps ctx's
// values but not its cancellation, and has a deadline of its own.
func (d *Driver) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.cfg.CleanupTimeout)
}

// shortID returns the 12-character form of a container id used by the
// docker CLI.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
