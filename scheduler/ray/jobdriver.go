package ray

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
)

// What a per-invocation Ray job carries in its environment: the id and
// attempt of its task, which the entrypoint reads from the store. The task
// (the input, the version's environment) and the result never travel
// through Ray, whose dashboard shows its jobs' environments and logs to
// anyone who reaches it.
const (
	TaskIDEnv      = "ORC_RAY_TASK"
	TaskAttemptEnv = "ORC_RAY_ATTEMPT"
	stopWait       = 30 * time.Second
	defaultPollMS  = 250
	// taskKept is how long a task is kept whose scheduler died before it
	// deleted it.
	taskKept = 48 * time.Hour
)

// TaskStore keeps the tasks of ray-job invocations and their results
// (store/postgres implements it).
type TaskStore interface {
	// PutRayTask stores the task of an attempt (again, on a redelivery).
	PutRayTask(ctx context.Context, id string, attempt int, spec []byte) error
	// RayTaskResult returns an attempt's result, nil while it has none.
	RayTaskResult(ctx context.Context, id string, attempt int) ([]byte, error)
	// DeleteRayTasks removes an invocation's tasks and those older than
	// before.
	DeleteRayTasks(ctx context.Context, id string, before time.Time) error
}

// JobDriverConfig tunes a JobDriver.
type JobDriverConfig struct {
	// Prefix names the installation on the jobs' metadata.
	Prefix string
	// Command is the argv of the job's entrypoint, which runs the task it
	// finds in its environment: e.g. ["/usr/local/bin/orc", "ray-exec"].
	Command []string
	// Env is set in each job's environment besides the task.
	Env map[string]string
	// Poll is how often a running job's status is read (default 250ms).
	Poll time.Duration
}

// JobDriver is a orc.Driver that runs each container as its own Ray
// job: Ray reserves the invocation's resources and chooses the node, where
// the job's entrypoint (orc ray-exec) reads the task from the store, runs
// the container with that node's Docker engine and stores the result.
//
// The submission id is the invocation id, so a redelivered task attaches to
// the job already sent instead of starting a second one, and reads its
// result if it has finished.
type JobDriver struct {
	Ray *Client
	// Tasks carries tasks and results between the driver and the jobs.
	Tasks  TaskStore
	Logger *slog.Logger
	// Tracer records each run as a span; when it records, the job's
	// environment carries the span's W3C trace context (TRACEPARENT), so
	// that the entrypoint's spans join the invocation's trace. Nil: none.
	Tracer trace.Tracer
	cfg    JobDriverConfig
}

var _ orc.Driver = (*JobDriver)(nil)

// NewJobDriver returns a driver.
func NewJobDriver(cfg JobDriverConfig, c *Client) *JobDriver {
	if cfg.Poll == 0 {
		cfg.Poll = defaultPollMS * time.Millisecond
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "orc"
	}
	return &JobDriver{Ray: c, Logger: slog.Default(), cfg: cfg}
}

// Run submits the spec as a Ray job (or attaches to the one already sent)
// and waits for its result. When ctx ends first, the job is stopped: its
// entrypoint kills and removes the container. Unless ctx ends with
// orc.ErrHandedBack (the scheduler stops): then the job runs on, and the
// next attempt, by the next scheduler, attaches to it.
func (d *JobDriver) Run(ctx context.Context, spec *orc.ContainerSpec) (res *orc.ContainerResult, err error) {
	start := time.Now()
	ctx, span := d.tracer().Start(ctx, "ray job", clientSpan...)
	defer func() { endJobSpan(span, spec, res, err) }()
	task, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	if err := d.Tasks.PutRayTask(ctx, spec.InvocationID, spec.Attempt, task); err != nil {
		return nil, fmt.Errorf("store ray task: %w", err)
	}
	defer func() {
		if errors.Is(context.Cause(ctx), orc.ErrHandedBack) {
			return // the job runs on and stores its result there
		}
		if err := d.Tasks.DeleteRayTasks(context.WithoutCancel(ctx), spec.InvocationID, time.Now().Add(-taskKept)); err != nil {
			d.Logger.Warn("delete ray task", "invocation_id", spec.InvocationID, "err", err)
		}
	}()
	env := map[string]string{TaskIDEnv: spec.InvocationID, TaskAttemptEnv: strconv.Itoa(spec.Attempt)}
	for k, v := range d.cfg.Env {
		env[k] = v
	}
	if span.IsRecording() {
		// The entrypoint, orc ray-exec, continues this span.
		propagation.TraceContext{}.Inject(ctx, envCarrier(env))
	}
	job := &JobSubmission{
		SubmissionID: spec.InvocationID,
		Entrypoint:   shellJoin(d.cfg.Command),
		RuntimeEnv:   &RuntimeEnv{EnvVars: env},
		Metadata: map[string]string{metaPrefix: d.cfg.Prefix, metaRole: roleInvoke,
			"orc_attempt": strconv.Itoa(spec.Attempt), "orc_plugin": spec.Labels["orc.plugin"]},
	}
	entrypointResources(job, spec.Resources)
	log := d.Logger.With("invocation_id", spec.InvocationID)
	switch _, err := d.Ray.SubmitJob(ctx, job); {
	case errors.Is(err, ErrAlreadySubmitted):
		log.Info("ray job already submitted; attaching to it")
	case errors.Is(err, ErrUnavailable):
		return nil, orc.Errorf(orc.EUNAVAILABLE, "submit ray job: %v", err)
	case err != nil:
		return nil, fmt.Errorf("submit ray job: %w", err)
	}

	j, err := d.wait(ctx, spec.InvocationID)
	if err != nil {
		return nil, err
	}
	// A job submitted by an earlier attempt (this is a redelivery that
	// attached to it) stored its result under its own attempt.
	attempt := spec.Attempt
	if n, err := strconv.Atoi(j.Metadata["orc_attempt"]); err == nil {
		attempt = n
	}
	res, err = d.result(context.WithoutCancel(ctx), j, attempt)
	if err != nil {
		return nil, err
	}
	res.Node = j.DriverNodeID
	// When this side stopped the job, its own context says why: the stop
	// reaches the entrypoint as a signal either way.
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.TimedOut, res.Canceled = true, false
	case ctx.Err() != nil:
		res.TimedOut, res.Canceled = false, true
	}
	// Time not spent running is placement: Ray's queue, its runtime
	// environment and the container's start.
	res.Cold = max(time.Since(start)-res.Run, 0)
	return res, nil
}

// wait polls a job until it ends. When ctx ends first it stops the job and
// waits (bounded) for it to end.
func (d *JobDriver) wait(ctx context.Context, id string) (*JobDetails, error) {
	bg := context.WithoutCancel(ctx)
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		j, err := d.Ray.Job(bg, id)
		switch {
		case errors.Is(err, ErrUnavailable):
			// The head is restarting; the job goes on. Keep polling.
		case err != nil:
			return nil, fmt.Errorf("read ray job: %w", err)
		case j.Status.Terminal():
			return j, nil
		}
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
		}
		if errors.Is(context.Cause(ctx), orc.ErrHandedBack) {
			d.Logger.Info("leaving ray job running for the next attempt", "invocation_id", id)
			return nil, context.Cause(ctx)
		}
		d.Logger.Info("stopping ray job", "invocation_id", id, "cause", context.Cause(ctx))
		if _, err := d.Ray.StopJob(bg, id); err != nil && !errors.Is(err, ErrNotFound) {
			d.Logger.Warn("stop ray job", "invocation_id", id, "err", err)
		}
		deadline := time.Now().Add(stopWait)
		for time.Now().Before(deadline) {
			if j, err := d.Ray.Job(bg, id); err == nil && j.Status.Terminal() {
				return j, nil
			}
			time.Sleep(d.cfg.Poll)
		}
		return nil, orc.Errorf(orc.EUNAVAILABLE, "ray job %s did not stop within %s", id, stopWait)
	}
}

// result reads a finished job's result from the store.
func (d *JobDriver) result(ctx context.Context, j *JobDetails, attempt int) (*orc.ContainerResult, error) {
	raw, err := d.Tasks.RayTaskResult(ctx, j.SubmissionID, attempt)
	if err != nil && orc.ErrorCode(err) != orc.ENOTFOUND {
		return nil, fmt.Errorf("read ray task result: %w", err)
	}
	if len(raw) > 0 {
		res := &orc.ContainerResult{}
		if err := json.Unmarshal(raw, res); err == nil {
			return res, nil
		}
		d.Logger.Warn("ray task result is not a result", "invocation_id", j.SubmissionID)
	}
	// The entrypoint did not get to write a result: it was killed, its node
	// died, or it could not start the container.
	res := &orc.ContainerResult{ExitCode: -1}
	if j.DriverExitCode != nil && *j.DriverExitCode != 0 {
		res.ExitCode = *j.DriverExitCode
	}
	msg := "the Ray job ended without a result: " + string(j.Status)
	if j.Message != "" {
		msg += ": " + firstLine(j.Message)
	}
	res.Stderr = []byte(msg + "\n")
	res.Canceled = j.Status == JobStopped
	return res, nil
}

// ResultLine is what a job's entrypoint writes last once it stored the
// result: the log says that it did, not what it was.
const ResultLine = "orc-result stored"

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
