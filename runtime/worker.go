package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/jsondepth"
)

// Replier sends results back to the gateway waiting on a synchronous call.
type Replier interface {
	Reply(ctx context.Context, replyTo string, r *orc.Reply) error
}

// Schemas checks outputs against their versions' output schemas
// (registry.Schemas). It returns EINVALID listing the violations.
type Schemas interface {
	ValidateOutput(v *orc.Version, doc []byte) error
}

// Config tunes a worker. The zero value of each field means its default.
type Config struct {
	// ID names the worker on invocations and container labels.
	ID string
	// Node names the machine (or Ray node) the worker runs on.
	Node string
	// Pool is the pool whose queue the worker consumes.
	Pool string
	// MaxLogLines caps the log lines kept per attempt (default 2000).
	MaxLogLines int
	// MaxArgBytes is the largest input passed as the last argument as well
	// as on stdin (default 128 KiB, the kernel's limit for one argument).
	MaxArgBytes int
	// RetryMax is the longest wait between tries while the database or the
	// container engine is unavailable (default 10s).
	RetryMax time.Duration
	// LiveLogRate caps the bytes per second of an attempt's live log
	// (default 16 KiB; negative: no live log). LiveLogLine is the longest
	// line it sends whole (default 2 KiB), and LiveLogEvery how often it
	// sends what was written meanwhile (default 250 ms).
	LiveLogRate  int
	LiveLogLine  int
	LiveLogEvery time.Duration
	// MetricsAddr is the host:port of the worker's /metrics, reported in
	// its heartbeats (empty: none).
	MetricsAddr string
	// Driver names the worker's container driver (docker, podman) on the
	// results it commits.
	Driver string
}

func (c *Config) setDefaults() {
	if c.MaxLogLines == 0 {
		c.MaxLogLines = 2000
	}
	if c.MaxArgBytes == 0 {
		c.MaxArgBytes = 128<<10 - 1
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.LiveLogRate == 0 {
		c.LiveLogRate = defaultLiveLogRate
	}
	if c.LiveLogLine <= 0 {
		c.LiveLogLine = defaultLiveLogLine
	}
	if c.LiveLogEvery <= 0 {
		c.LiveLogEvery = defaultLiveLogEvery
	}
}

// Worker runs the invocations that a queue hands it.
type Worker struct {
	Invocations orc.InvocationService
	// DeadLetters records dead-lettered invocations (HandleDead).
	DeadLetters orc.DeadLetterService
	Plugins     orc.PluginService
	Driver      orc.Driver
	Replier     Replier
	// Schemas checks outputs.
	Schemas Schemas
	// Hooks runs the post hooks (registry.Hooks); nil disables them.
	// Users names the principal for them.
	Hooks orc.HookRunner
	Users orc.UserService
	// Warm runs versions of the http protocol; nil runs every version with
	// the exec protocol.
	Warm *Warm
	// Registry records the worker's heartbeats.
	Registry orc.WorkerRegistry
	// LiveLogs receives the log lines of fresh containers while they run,
	// when the driver can pass them on (orc.OutputStreamer); nil: none.
	// Warm servers' output is theirs, not an invocation's, and stays out
	// of invocation logs, live and stored.
	LiveLogs orc.LogPublisher
	// OnDrain is called once when a heartbeat finds the worker asked to
	// drain (the scheduler scales its pool down); it should stop the
	// worker gracefully.
	OnDrain func()
	Logger  *slog.Logger
	Clock   orc.Clock
	// Tracer records the steps of a task (the attempt's start, the run,
	// the commit) as spans, in the trace its consume joined; nil: none.
	Tracer trace.Tracer

	cfg       Config
	drainOnce sync.Once
	metrics   *Metrics
	engine    *engine

	// versions caches versions by id: they never change.
	versions sync.Map

	mu       sync.Mutex
	running  map[string]*run
	canceled map[string]time.Time // cancels that arrived before their run
}

// run is an invocation running on this worker.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// attempt is one attempt at an invocation on this worker: the task that
// asked for it, the invocation as its start recorded it, and the version
// it runs.
type attempt struct {
	task *orc.Task
	inv  *orc.Invocation
	v    *orc.Version
	log  *slog.Logger
}

// outcome is how a run ended.
type outcome struct {
	res *orc.ContainerResult
	// err is set when the run could not be made.
	err error
	// cause is why the run's context ended before the run did: errCanceled,
	// errDrained, context.DeadlineExceeded (the plugin's timeout), or
	// context.Canceled (the worker stops); nil when it did not.
	cause error
}

// outcomeOf is how a run made in runCtx ended.
func outcomeOf(runCtx context.Context, res *orc.ContainerResult, err error) outcome {
	o := outcome{res: res, err: err}
	if runCtx.Err() != nil {
		o.cause = context.Cause(runCtx)
	}
	return o
}

// Causes of a run's end other than its timeout.
var (
	errCanceled = errors.New("canceled")
	errDrained  = orc.ErrHandedBack
)

// NewWorker returns a worker. Set its service fields before use.
func NewWorker(cfg Config, m *Metrics) *Worker {
	cfg.setDefaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Worker{cfg: cfg, metrics: m, Logger: slog.Default(), Clock: orc.SystemClock{}, engine: newEngine(),
		running: map[string]*run{}, canceled: map[string]time.Time{}}
}

// Handle runs one task to a committed result. It returns nil when the task
// is done with (ran, or needs no run) and its message may be acked; an error
// means the message should be delivered again.
//
// While the database or the container engine is unavailable, Handle keeps
// the message and tries again with backoff rather than returning an error:
// a redelivery would count against the queue's delivery limit, which is
// for workers that die and tasks that crash them, not for outages.
func (w *Worker) Handle(ctx context.Context, task *orc.Task) (err error) {
	log := w.Logger.With("invocation_id", task.InvocationID, "worker", w.cfg.ID)
	if r := w.runOf(task.InvocationID); r != nil {
		// A second delivery while this worker runs it (the broker
		// connection dropped and came back): the run in progress commits.
		log.InfoContext(ctx, "task already running here; waiting for it")
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	if w.Paused() != "" {
		// Taken before the pause stopped consumption: back to the queue,
		// for a worker whose engine works.
		return errEngineDown
	}
	if v := w.fastVersion(ctx, task); v != nil {
		if handled, err := w.handleFast(ctx, log, task, v); handled {
			return err
		}
	}
	inv, err := w.start(ctx, log, task, w.Clock.Now())
	if inv == nil || err != nil {
		return err
	}
	log = log.With("plugin", inv.Plugin, "version", inv.Version, "attempt", inv.Attempts)
	defer func() {
		// The attempt ends without a result: its task goes back to the
		// queue, and may end on the dead-letter list, where an operator
		// wants to know why each attempt ended.
		if p := recover(); p != nil {
			w.endAttempt(ctx, log, inv, "the worker failed while running it")
			panic(p)
		}
		switch {
		case errors.Is(err, errDrained) && err != errDrained:
			w.endAttempt(ctx, log, inv, "handed back: its container engine or driver was lost during the run")
		case errors.Is(err, errDrained):
			w.endAttempt(ctx, log, inv, "handed back: its worker stopped before the run ended")
		case err != nil && ctx.Err() == nil:
			w.endAttempt(ctx, log, inv, "the worker failed before it could commit a result")
		}
	}()

	// The version comes from the invocation, never from the message.
	var v *orc.Version
	err = w.retry(ctx, log, "find version", func() (err error) {
		v, err = w.version(ctx, inv.VersionID)
		return err
	})
	a := &attempt{task: task, inv: inv, v: v, log: log}
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return w.finish(ctx, a, &orc.Result{Status: orc.StatusFailed,
			Error: &orc.InvocationError{Code: orc.EPLUGIN, Message: "the plugin version was deleted"}})
	}
	if err != nil {
		return fmt.Errorf("find version: %w", err)
	}

	stopCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	runCtx, cancel := context.WithTimeout(stopCtx, v.Timeout())
	defer cancel()
	done := w.track(inv.ID, stop)
	defer done()

	if reaper, ok := w.Driver.(orc.Reaper); ok && inv.Attempts > 1 {
		// An earlier attempt's worker died or lost its broker connection;
		// its container may still run. The latest attempt owns the
		// invocation: the earlier one's result would be discarded anyway.
		if err := reaper.Reap(ctx, inv.ID, inv.Attempts); err != nil {
			log.WarnContext(ctx, "reap earlier attempts", "err", err)
		}
	}

	log.DebugContext(ctx, "running")
	var res *orc.ContainerResult
	if v.Protocol == orc.ProtocolHTTP && w.Warm != nil {
		err = w.retryEngine(runCtx, log, "call warm server", func() (err error) {
			res, err = w.Warm.Run(runCtx, v, inv.Input)
			return err
		})
	} else {
		spec := w.spec(inv, v)
		err = w.retryEngine(runCtx, log, "run", func() (err error) {
			res, err = w.runContainer(runCtx, spec)
			return err
		})
	}
	return w.conclude(ctx, a, outcomeOf(runCtx, res, err))
}

// runContainer runs a fresh container, passing its output on to the live
// log while it runs when the driver and the worker can. The live log's
// last lines go out before runContainer returns, so before the result's
// commit publishes the invocation's final status.
func (w *Worker) runContainer(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	streamer, ok := w.Driver.(orc.OutputStreamer)
	if !ok || w.LiveLogs == nil || w.cfg.LiveLogRate < 0 {
		return w.Driver.Run(ctx, spec)
	}
	live := newLiveLog(&w.cfg, w.LiveLogs, w.Clock, spec.InvocationID, spec.Attempt)
	defer live.close()
	return streamer.RunStreaming(ctx, spec, &live.stdout, &live.stderr)
}

// start marks an attempt of the task's invocation started. It returns nil
// and what Handle should return when there is nothing to run: an unknown
// invocation (after waiting a little for one that a gateway is still
// recording) or a final one.
func (w *Worker) start(ctx context.Context, log *slog.Logger, task *orc.Task, at time.Time) (*orc.Invocation, error) {
	var inv *orc.Invocation
	sctx, span := w.tracer().Start(ctx, "start attempt")
	err := w.retry(sctx, log, "start attempt", func() (err error) {
		for wait := time.Millisecond; ; wait = min(wait*2, 100*time.Millisecond) {
			inv, err = w.Invocations.StartAttempt(sctx, task.InvocationID, w.cfg.ID, w.cfg.Node, at)
			// A gateway records a synchronous call while it queues it:
			// the task may come first.
			if orc.ErrorCode(err) != orc.ENOTFOUND || task.CreatedAt.IsZero() || w.Clock.Now().Sub(task.CreatedAt) > recordWait {
				return err
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return err
			}
		}
	})
	if span.IsRecording() && inv != nil {
		span.SetAttributes(attribute.Int("orc.attempt", inv.Attempts))
	}
	if code := orc.ErrorCode(err); code == orc.ENOTFOUND || code == orc.ECONFLICT {
		// Nothing to run is no failure of the start.
		span.AddEvent(orc.ErrorMessage(err))
		endSpan(span, nil)
	} else {
		endSpan(span, err)
	}
	switch orc.ErrorCode(err) {
	case "":
		return inv, nil
	case orc.ENOTFOUND:
		// Its publish failed and the gateway withdrew it, or its insert
		// failed: nothing to run. Or its insert commits later than this
		// worker waited: the drop is recorded, so that a sweep queues the
		// invocation again if it appears (invoke.Service.Republish).
		err := w.retry(ctx, log, "record dropped task", func() error {
			return w.Invocations.DropTask(ctx, task.InvocationID, w.Clock.Now())
		})
		if err != nil {
			return nil, fmt.Errorf("record dropped task: %w", err)
		}
		log.WarnContext(ctx, "task for an unknown invocation dropped")
		return nil, nil
	case orc.ECONFLICT:
		// Already terminal: a redelivery of finished work, or canceled.
		log.InfoContext(ctx, "task for a finished invocation acked", "status", inv.Status)
		w.reply(ctx, task, inv)
		return nil, nil
	default:
		return nil, fmt.Errorf("start attempt: %w", err)
	}
}

// recordWait is how long a task waits for its invocation's row.
const recordWait = 5 * time.Second

// conclude commits the result of a run's outcome. It returns errDrained,
// and commits nothing, when the worker stopped the run to shut down: the
// task then goes to another worker.
func (w *Worker) conclude(ctx context.Context, a *attempt, o outcome) error {
	if errors.Is(o.cause, errDrained) {
		return errDrained
	}
	if errors.Is(o.err, orc.ErrHandedBack) {
		// The engine went down, or the driver process was lost with the
		// run: the task goes to the queue again, as if this worker had
		// died, and the next attempt reaps what the lost one left.
		a.log.WarnContext(ctx, "the run was lost with the container engine or driver; the task goes back to the queue", "err", o.err)
		return o.err
	}
	r, err := w.resultOf(ctx, a, o)
	if err != nil {
		return err
	}
	return w.finish(ctx, a, r)
}

// resultOf is the result of a run's outcome. An error means there is none
// to commit: the worker stops (ctx ended).
func (w *Worker) resultOf(ctx context.Context, a *attempt, o outcome) (*orc.Result, error) {
	failed := func(status orc.Status, code, msg string) *orc.Result {
		return &orc.Result{Status: status, Error: &orc.InvocationError{Code: code, Message: msg}}
	}
	switch {
	case o.err != nil && o.cause != nil && ctx.Err() == nil:
		if errors.Is(o.cause, errCanceled) {
			return failed(orc.StatusCanceled, orc.ECANCELED, "canceled"), nil
		}
		return failed(orc.StatusFailed, orc.EUNAVAILABLE, "the worker's container engine was unavailable until the plugin's timeout"), nil
	case o.err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case o.err != nil:
		a.log.ErrorContext(ctx, "run failed", "err", o.err)
		msg := "the plugin could not be started"
		if orc.ErrorCode(o.err) == orc.EINVALID {
			msg = orc.ErrorMessage(o.err)
		}
		return failed(orc.StatusFailed, orc.EPLUGIN, msg), nil
	}
	r := w.interpret(a.inv, a.v, o.res)
	r.Node = o.res.Node
	if r.Status == orc.StatusSucceeded {
		w.postHooks(ctx, a.inv, a.v, r)
	}
	return r, nil
}

// version returns a version by id, from the cache when it can.
func (w *Worker) version(ctx context.Context, id int64) (*orc.Version, error) {
	if v, ok := w.versions.Load(id); ok {
		return v.(*orc.Version), nil
	}
	v, err := w.Plugins.FindVersionByID(ctx, id)
	if err == nil {
		w.versions.Store(id, v)
	}
	return v, err
}

// retry calls f until it succeeds, fails for a reason other than an
// unavailable database or engine, or ctx ends.
func (w *Worker) retry(ctx context.Context, log *slog.Logger, op string, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if orc.ErrorCode(err) != orc.EUNAVAILABLE {
			return err
		}
		log.WarnContext(ctx, "unavailable; trying again", "op", op, "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait = min(wait*2, w.cfg.RetryMax)
	}
}

// spec builds the container run of an invocation (protocol exec).
func (w *Worker) spec(inv *orc.Invocation, v *orc.Version) *orc.ContainerSpec {
	env := make(map[string]string, len(v.Env)+4)
	for k, val := range v.Env {
		env[k] = val
	}
	env["ORC_PROTOCOL"] = string(orc.ProtocolExec)
	env["ORC_INVOCATION_ID"] = inv.ID
	env["ORC_PLUGIN"] = inv.Plugin
	env["ORC_VERSION"] = inv.Version
	var args []string
	if len(inv.Input) <= w.cfg.MaxArgBytes {
		args = []string{string(inv.Input)}
	}
	return &orc.ContainerSpec{
		InvocationID: inv.ID, Attempt: inv.Attempts, Image: v.Image, Deadline: w.Clock.Now().Add(v.Timeout()),
		Args: args, Stdin: inv.Input, Env: env, Resources: v.Resources, Network: v.Network,
		Labels: map[string]string{"orc.plugin": inv.Plugin, "orc.version": inv.Version, "orc.worker": w.cfg.ID},
	}
}

// interpret turns what a container did into a result, following the exec
// protocol: the last JSON line of stdout is the output, stderr is the log,
// a non-zero exit is a failure whose message is the stderr tail.
func (w *Worker) interpret(inv *orc.Invocation, v *orc.Version, res *orc.ContainerResult) *orc.Result {
	output, stdoutLines := lastJSONLine(res.Stdout)
	r := &orc.Result{ColdStart: !res.Warm, Timing: orc.Timing{ColdMS: ms(res.Cold), RunMS: ms(res.Run)},
		Logs: w.logLines(inv.Attempts, res, stdoutLines)}
	fail := func(status orc.Status, code, msg string) *orc.Result {
		r.Status, r.Error = status, &orc.InvocationError{Code: code, Message: msg}
		return r
	}
	switch {
	case res.Canceled:
		return fail(orc.StatusCanceled, orc.ECANCELED, "canceled")
	case res.TimedOut:
		return fail(orc.StatusTimedOut, orc.ETIMEOUT, fmt.Sprintf("the plugin did not finish within %ds", v.TimeoutS))
	case res.OOMKilled:
		return fail(orc.StatusFailed, orc.EPLUGIN, fmt.Sprintf("the plugin ran out of memory (limit %d MB)", v.Resources.MemoryMB))
	case res.ExitCode != 0:
		msg := stderrTail(res.Stderr)
		if msg == "" {
			msg = fmt.Sprintf("the plugin exited with code %d", res.ExitCode)
		}
		return fail(orc.StatusFailed, orc.EPLUGIN, msg)
	case res.StdoutTruncated:
		return fail(orc.StatusFailed, orc.EPLUGIN, "the plugin's output is larger than this worker accepts")
	case output == nil:
		return fail(orc.StatusFailed, orc.EPLUGIN, "the plugin wrote no JSON line to stdout")
	case !utf8.Valid(output):
		return fail(orc.StatusFailed, orc.EPLUGIN, "the plugin's output is not valid UTF-8")
	case jsondepth.Of(output, orc.MaxDocumentDepth) > orc.MaxDocumentDepth:
		return fail(orc.StatusFailed, orc.EPLUGIN, fmt.Sprintf("the plugin's output nests deeper than %d levels", orc.MaxDocumentDepth))
	}
	if err := w.Schemas.ValidateOutput(v, output); err != nil {
		msg := orc.ErrorMessage(err)
		if ps, ok := orc.ErrorDetails(err).([]orc.Problem); ok && len(ps) > 0 {
			msg += ": " + ps[0].Pointer + ": " + ps[0].Message
		}
		return fail(orc.StatusFailed, orc.EPLUGIN, msg)
	}
	r.Status, r.Output = orc.StatusSucceeded, output
	return r
}

// postHooks runs the post hooks on a successful result: they may replace
// the output or fail the invocation.
func (w *Worker) postHooks(ctx context.Context, inv *orc.Invocation, v *orc.Version, r *orc.Result) {
	if w.Hooks == nil || !w.Hooks.HasHooks(orc.HookPost, v) {
		return
	}
	principal := orc.HookPrincipal{Subject: fmt.Sprintf("user:%d", inv.OwnerID)}
	if w.Users != nil {
		if u, err := w.Users.FindUserByID(ctx, inv.OwnerID); err == nil {
			principal = orc.HookPrincipal{Subject: u.Email, Roles: []string{string(u.Role)}}
		}
	}
	req := &orc.HookRequest{
		Phase: orc.HookPost, InvocationID: inv.ID,
		Plugin:    orc.HookPlugin{Name: inv.Plugin, Version: inv.Version},
		Principal: principal, Headers: map[string]string{}, Input: inv.Input, Output: r.Output,
	}
	out, err := w.Hooks.Run(ctx, req, v)
	for i := range out.Logs {
		out.Logs[i].Attempt = inv.Attempts
	}
	r.Logs = append(r.Logs, out.Logs...)
	if err != nil {
		code := orc.ErrorCode(err)
		if code != orc.EDENIED {
			code = orc.EHOOK
		}
		r.Status, r.Output = orc.StatusFailed, nil
		r.Error = &orc.InvocationError{Code: code, Message: orc.ErrorMessage(err)}
		return
	}
	r.Output = out.Output
}

// finish commits an attempt's result with its logs, then replies, and only
// then lets the message be acked (by returning nil). The commit is tried
// again while the database is unavailable: the run's result must not be
// lost.
func (w *Worker) finish(ctx context.Context, a *attempt, r *orc.Result) error {
	inv := a.inv
	r.Attempt, r.Worker, r.Driver, r.FinishedAt = inv.Attempts, w.cfg.ID, w.cfg.Driver, w.Clock.Now()
	if r.Node == "" {
		r.Node = w.cfg.Node
	}
	var won bool
	cctx, span := w.tracer().Start(ctx, "commit result")
	err := w.retry(cctx, a.log, "commit result", func() (err error) {
		won, err = w.Invocations.FinishInvocation(cctx, inv.ID, r)
		return err
	})
	endResult(span, r, won, err)
	if err != nil {
		return fmt.Errorf("commit result: %w", err)
	}
	if !won {
		// Canceled meanwhile, or a later attempt owns it now.
		final, err := w.Invocations.FindInvocation(ctx, inv.ID)
		if err != nil {
			return fmt.Errorf("read invocation: %w", err)
		}
		if !final.Status.Terminal() && final.Attempts < inv.Attempts {
			// This attempt's start was lost (the database restarted before
			// flushing it): nobody owns the invocation, so the task must
			// run again rather than be acked.
			a.log.WarnContext(ctx, "attempt's start was lost; the task will be delivered again", "attempts", final.Attempts)
			return errors.New("attempt start lost")
		}
		a.log.InfoContext(ctx, "result discarded: invocation final or taken over", "status", final.Status, "attempts", final.Attempts)
		w.reply(ctx, a.task, final)
		return nil
	}
	w.committed(ctx, a, r)
	return nil
}

// committed records a result that won: metrics, log, and the reply to a
// waiting gateway.
func (w *Worker) committed(ctx context.Context, a *attempt, r *orc.Result) {
	inv := a.inv
	w.metrics.observe(inv, r)
	a.log.InfoContext(ctx, "invocation finished", "status", r.Status, "cold_ms", r.Timing.ColdMS, "run_ms", r.Timing.RunMS)
	inv.Status, inv.Output, inv.Error, inv.Timing.ColdMS, inv.Timing.RunMS, inv.ColdStart =
		r.Status, r.Output, r.Error, r.Timing.ColdMS, r.Timing.RunMS, r.ColdStart
	w.reply(ctx, a.task, inv)
}

// reply tells a waiting gateway the final state. A lost reply is not lost
// data: the gateway also reads the database.
func (w *Worker) reply(ctx context.Context, task *orc.Task, inv *orc.Invocation) {
	if task.ReplyTo == "" || w.Replier == nil || !inv.Status.Terminal() {
		return
	}
	if err := w.Replier.Reply(ctx, task.ReplyTo, inv.Reply()); err != nil {
		w.Logger.WarnContext(ctx, "reply to gateway", "invocation_id", inv.ID, "err", err)
	}
}

// HandleDead records an invocation whose message was dead-lettered: it was
// delivered too often without a result (its workers kept dying, or failed
// before they could commit). It becomes dead and enters the dead-letter
// list, unless it was redriven since the task was queued.
func (w *Worker) HandleDead(ctx context.Context, task *orc.Task, d orc.Death) error {
	e := &orc.InvocationError{Code: orc.EPLUGIN, Message: "the invocation was abandoned after repeated failed deliveries (" + d.Reason + ")"}
	log := w.Logger.With("invocation_id", task.InvocationID)
	var won bool
	err := w.retry(ctx, log, "commit dead invocation", func() (err error) {
		won, err = w.DeadLetters.MarkDead(ctx, task.InvocationID, d, e, w.Clock.Now())
		return err
	})
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return nil
	}
	if err != nil {
		return fmt.Errorf("commit dead invocation: %w", err)
	}
	if !won {
		log.InfoContext(ctx, "stale dead letter ignored: the invocation is final or was redriven", "reason", d.Reason, "redrives", d.Redrives)
		return nil
	}
	log.WarnContext(ctx, "invocation dead-lettered", "reason", d.Reason, "deliveries", d.Deliveries)
	if inv, err := w.Invocations.FindInvocation(ctx, task.InvocationID); err == nil {
		w.metrics.observe(inv, &orc.Result{Status: orc.StatusDead, Error: e})
		w.reply(ctx, task, inv)
	}
	return nil
}

// attemptEnder is implemented by stores that keep each attempt
// (postgres.DB).
type attemptEnder interface {
	// EndAttempt records why an attempt ended without committing a result.
	EndAttempt(ctx context.Context, id string, attempt int, e *orc.InvocationError, at time.Time) error
}

// endAttempt records why an attempt ended without a result, once and
// without waiting out an outage: it only informs.
func (w *Worker) endAttempt(ctx context.Context, log *slog.Logger, inv *orc.Invocation, msg string) {
	var ender attemptEnder
	for _, s := range orc.UnwrapInvocations(w.Invocations) {
		if e, ok := s.(attemptEnder); ok {
			ender = e
			break
		}
	}
	if ender == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	e := &orc.InvocationError{Code: orc.EINTERNAL, Message: msg}
	if err := ender.EndAttempt(ctx, inv.ID, inv.Attempts, e, w.Clock.Now()); err != nil {
		log.WarnContext(ctx, "record the end of an attempt", "err", err)
	}
}

// Cancel stops an invocation running on this worker. A cancel that arrives
// before its run starts (between the database and the container) is kept
// for a while, so that the run stops as soon as it is tracked.
func (w *Worker) Cancel(invocationID string) {
	w.mu.Lock()
	r := w.running[invocationID]
	if r == nil {
		now := w.Clock.Now()
		for id, at := range w.canceled {
			if now.Sub(at) > 10*time.Minute {
				delete(w.canceled, id)
			}
		}
		w.canceled[invocationID] = now
	}
	w.mu.Unlock()
	if r != nil {
		w.Logger.Info("canceling", "invocation_id", invocationID)
		r.cancel(errCanceled)
	}
}

// CancelAll stops every run of this worker; their invocations are delivered
// again to other workers. A worker calls it when its drain time is up.
func (w *Worker) CancelAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.running {
		r.cancel(errDrained)
	}
}

// track records a run; the returned func forgets it.
func (w *Worker) track(id string, cancel context.CancelCauseFunc) func() {
	r := &run{cancel: cancel, done: make(chan struct{})}
	w.mu.Lock()
	w.running[id] = r
	_, canceled := w.canceled[id]
	delete(w.canceled, id)
	w.mu.Unlock()
	if canceled {
		cancel(errCanceled)
	}
	return func() {
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
		close(r.done)
	}
}

func (w *Worker) runOf(id string) *run {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[id]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// lastJSONLine returns the last line of stdout that is a JSON value, and
// the other lines (which are kept as log).
func lastJSONLine(stdout []byte) (json.RawMessage, []string) {
	lines := strings.Split(strings.TrimRight(string(stdout), "\r\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line != "" && json.Valid([]byte(line)) {
			rest := append(lines[:i:i], lines[i+1:]...)
			return json.RawMessage(line), rest
		}
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	return nil, lines
}

// stderrTail is the last line of stderr, the message of a failure (the
// whole of stderr is in the logs).
func stderrTail(stderr []byte) string {
	const maxBytes = 1000
	s := strings.TrimSpace(strings.ToValidUTF8(string(stderr), "\uFFFD"))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if len(s) > maxBytes {
		s = strings.ToValidUTF8(s[:maxBytes], "") + "…"
	}
	return s
}

// logLines turns an attempt's output into log lines, keeping the last
// MaxLogLines of them.
func (w *Worker) logLines(attempt int, res *orc.ContainerResult, stdout []string) []orc.LogLine {
	now := w.Clock.Now()
	var lines []orc.LogLine
	add := func(stream, text string) {
		lines = append(lines, orc.LogLine{Attempt: attempt, Stream: stream, Time: now, Line: text})
	}
	for _, l := range stdout {
		add("stdout", strings.TrimRight(l, "\r"))
	}
	if res.StderrTruncated {
		add("orc", "stderr was longer than this worker keeps; its beginning is dropped")
	}
	if s := strings.TrimRight(string(res.Stderr), "\r\n"); s != "" {
		for _, l := range strings.Split(s, "\n") {
			add("stderr", strings.TrimRight(l, "\r"))
		}
	}
	if len(lines) > w.cfg.MaxLogLines {
		dropped := len(lines) - w.cfg.MaxLogLines
		lines = append([]orc.LogLine{{Attempt: attempt, Stream: "orc", Time: now,
			Line: fmt.Sprintf("%d earlier lines dropped", dropped)}}, lines[dropped:]...)
	}
	return lines
}
