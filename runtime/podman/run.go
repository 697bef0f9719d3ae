package podman

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/orc-gateway/orc"
)

const (
	// drainGrace is how long Run waits, after podman start has exited, for
	// the output pipes to end.
	drainGrace = 5 * time.Second
	// killRetry is how often a kill is repeated until the start command
	// ends: a container that podman start has not started yet cannot be
	// killed, and would be started after the kill.
	killRetry = 200 * time.Millisecond
)

// Run creates spec's container, starts it attached with spec.Stdin as its
// stdin, waits for it to exit, then removes it. It implements orc.Driver.
//
// # Notes
//
//   - The steps are podman commands: create, then (on a network) init and
//     the isolation of the bridge's ports, then start --attach, which
//     attaches before it starts, so that neither a fast exit nor early
//     output is missed; inspect gives the exit code and OOMKilled.
//   - Cold is from Run's call to the moment Podman recorded the container
//     as started (create, init, and start by the OCI runtime); Run is from
//     there to the exit Podman recorded. Both are Podman's own timestamps
//     where it has them; the few milliseconds podman start spends
//     attaching count as Cold.
//   - When ctx ends first the container is killed (SIGKILL) and the
//     result has TimedOut (deadline) or Canceled (cancel) set. When ctx
//     ends before the container has started, the result says so too, with
//     ExitCode -1.
//   - The container is removed with a context of its own, so that a
//     canceled ctx still cleans up.
//
// # Errors
//
// orc.EINVALID when spec has no image, its image is not on the host (after
// one pull, when Config.Pull is set) or it asks for GPUs; orc.EUNAVAILABLE
// when podman cannot be run or cannot enforce the run's limits; other
// podman failures uncoded.
func (d *Driver) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	return d.RunStreaming(ctx, spec, nil, nil)
}

// RunStreaming is Run that also writes the container's stdout and stderr,
// as podman passes them on, to the given writers (either may be nil). It
// implements orc.OutputStreamer: the writers get everything the container
// writes, also what the result's capped buffers drop.
func (d *Driver) RunStreaming(ctx context.Context, spec *orc.ContainerSpec, stdout, stderr io.Writer) (*orc.ContainerResult, error) {
	if spec.Image == "" {
		return nil, orc.Errorf(orc.EINVALID, "task has no image")
	}
	log := d.log.With("invocation_id", spec.InvocationID, "attempt", spec.Attempt, "image", spec.Image)
	begin := time.Now()
	host, err := d.ready(ctx)
	if err != nil {
		return d.notStarted(ctx, log, err)
	}
	network := networkOf(spec.Network)
	bridge, err := d.prepareNetwork(ctx, host, network)
	if err != nil {
		return d.notStarted(ctx, log, err)
	}
	id, err := d.create(ctx, log, spec, network)
	if err != nil {
		return d.notStarted(ctx, log, err)
	}
	log = log.With("container", shortID(id))
	defer d.remove(ctx, log, id)
	if ctx.Err() != nil {
		return d.notStarted(ctx, log, ctx.Err())
	}
	if err := d.initIsolated(ctx, id, network, bridge); err != nil {
		return d.notStarted(ctx, log, err)
	}

	out := newOutput(d.cfg.StdoutLimit, d.cfg.StderrLimit, stdout, stderr)
	// The start outlives ctx: after a kill, its end is still awaited.
	start := d.command(context.WithoutCancel(ctx), "start", "--attach", "--interactive",
		"--sig-proxy=false", "--detach-keys=", id)
	start.Stdin = bytes.NewReader(spec.Stdin)
	start.Stdout, start.Stderr = out.Stdout, out.Stderr
	start.WaitDelay = drainGrace
	started := time.Now()
	if err := start.Start(); err != nil {
		return d.notStarted(ctx, log, cliError("start", err, nil))
	}
	done := make(chan error, 1)
	go func() { done <- start.Wait() }()

	res := &orc.ContainerResult{}
	var startErr error
	select {
	case startErr = <-done:
	case <-ctx.Done():
		startErr = d.kill(ctx, log, id, res, start, done)
	}
	ended := time.Now()

	c, err := d.exited(ctx, id)
	if err != nil {
		return d.notStarted(ctx, log, err)
	}
	if !c.started() {
		if ctx.Err() == nil {
			// What podman wrote is its own reason: the container never ran.
			if startErr == nil {
				startErr = errors.New("the container did not start")
			}
			startErr = &commandError{Op: "start", Message: lastLine(out.stderr.Bytes()), Err: startErr}
		}
		return d.notStarted(ctx, log, startErr)
	}
	res.ExitCode = c.State.ExitCode
	res.OOMKilled = c.State.OOMKilled || oomInferred(host, res)
	res.Cold, res.Run = timings(begin, started, ended, c)
	if errors.Is(startErr, exec.ErrWaitDelay) {
		log.Warn("container output may be incomplete", "err", startErr)
	}
	res.Stdout, res.StdoutTruncated = out.stdout.Bytes(), out.stdout.Truncated()
	res.Stderr, res.StderrTruncated = out.stderr.Bytes(), out.stderr.Truncated()

	log.Debug("container exited", "exit_code", res.ExitCode, "cold", res.Cold, "run", res.Run,
		"timed_out", res.TimedOut, "canceled", res.Canceled, "oom_killed", res.OOMKilled)
	return res, nil
}

// oomInferred reports whether a run that Podman does not call OOM-killed
// was, all the same: on cgroup v1 Podman 4.3 (conmon 2.1.6) never sees the
// OOM killer. There a container whose process died of SIGKILL (exit code
// 137) that the driver did not send was killed by the kernel: the
// container's own processes cannot SIGKILL its init (PID 1 of its PID
// namespace), and every container has a memory limit. Only someone root on
// the host could have sent it too.
func oomInferred(host *hostInfo, res *orc.ContainerResult) bool {
	return host.cgroup == "v1" && res.ExitCode == 137 && !res.TimedOut && !res.Canceled
}

// kill kills the container after ctx ended, marks res and returns the end
// of the start command. The kill is repeated until the command ends: a
// container podman start has not started yet cannot be killed and would
// be started after the kill. When the command has not ended within the
// cleanup timeout it is killed itself; the forced remove that follows ends
// the container.
func (d *Driver) kill(ctx context.Context, log *slog.Logger, id string, res *orc.ContainerResult,
	start *exec.Cmd, done <-chan error) error {
	res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	res.Canceled = !res.TimedOut
	cctx, cancel := d.detached(ctx)
	defer cancel()
	log.Info("killing container", "reason", ctx.Err())
	retry := time.NewTicker(killRetry)
	defer retry.Stop()
	for {
		if _, err := d.podman(cctx, "kill", "--signal", "KILL", id); err != nil {
			log.Debug("kill container", "err", err)
		}
		select {
		case err := <-done:
			return err
		case <-retry.C:
		case <-cctx.Done():
			log.Warn("killed container did not exit in time", "timeout", d.cfg.CleanupTimeout)
			_ = start.Process.Kill()
			return <-done
		}
	}
}

// exited returns the container once it has exited (or never started).
// podman start normally returns after the exit; when its attach ended
// early, podman wait waits for the exit.
func (d *Driver) exited(ctx context.Context, id string) (*container, error) {
	cctx, cancel := d.detached(ctx)
	defer cancel()
	c, err := d.inspectOne(cctx, id)
	if err != nil || c.State.Status != "running" {
		return c, err
	}
	if _, err := d.podman(cctx, "wait", id); err != nil {
		return nil, err
	}
	return d.inspectOne(cctx, id)
}

// timings returns a run's Cold and Run: from begin to Podman's start
// time, and from there to its finish time. Where Podman's times are
// missing or out of order, the driver's own (the call of podman start, and
// its end) stand in.
func timings(begin, started, ended time.Time, c *container) (cold, run time.Duration) {
	startedAt, finishedAt := c.State.StartedAt, c.State.FinishedAt
	if startedAt.Before(begin) || startedAt.After(ended) {
		startedAt = started
	}
	if finishedAt.Before(startedAt) || finishedAt.After(ended) {
		finishedAt = ended
	}
	return max(startedAt.Sub(begin), time.Nanosecond), max(finishedAt.Sub(startedAt), time.Nanosecond)
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
