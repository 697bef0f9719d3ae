package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/registry"
)

// Replier sends results back to the gateway waiting on a synchronous call.
type Replier interface {
	Reply(ctx context.Context, replyTo string, r *orc.Reply) error
}

// Config tunes a worker. The zero value of each field means its default.
type Config struct {
	// ID names the worker on invocations and container labels.
	ID string
	// Node names the machine (or Ray node) the worker runs on.
	Node string
	// MaxLogLines caps the log lines kept per attempt (default 2000).
	MaxLogLines int
	// MaxArgBytes is the largest input passed as the last argument as well
	// as on stdin (default 128 KiB, the kernel's limit for one argument).
	MaxArgBytes int
}

func (c *Config) setDefaults() {
	if c.MaxLogLines == 0 {
		c.MaxLogLines = 2000
	}
	if c.MaxArgBytes == 0 {
		c.MaxArgBytes = 128<<10 - 1
	}
}

// Worker runs the invocations that a queue hands it.
type Worker struct {
	Invocations orc.InvocationService
	Plugins     orc.PluginService
	Driver      Driver
	Replier     Replier
	Logger      *slog.Logger
	Clock       orc.Clock

	cfg     Config
	schemas registry.Schemas
	metrics *Metrics

	mu      sync.Mutex
	running map[string]context.CancelFunc
}

// NewWorker returns a worker. Set its service fields before use.
func NewWorker(cfg Config, m *Metrics) *Worker {
	cfg.setDefaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Worker{cfg: cfg, metrics: m, Logger: slog.Default(), Clock: orc.SystemClock{}, running: map[string]context.CancelFunc{}}
}

// Handle runs one task to a committed result. It returns nil when the task
// is done with (ran, or needs no run) and its message may be acked; an error
// means the message should be delivered again.
func (w *Worker) Handle(ctx context.Context, task *orc.Task) error {
	log := w.Logger.With("invocation_id", task.InvocationID, "worker", w.cfg.ID)
	inv, err := w.Invocations.StartAttempt(ctx, task.InvocationID, w.cfg.ID, w.cfg.Node, w.Clock.Now())
	switch orc.ErrorCode(err) {
	case "":
	case orc.ENOTFOUND:
		// Its publish failed and the gateway removed it: nothing to run.
		log.Warn("task for an unknown invocation dropped")
		return nil
	case orc.ECONFLICT:
		// Already terminal: a redelivery of finished work, or canceled.
		log.Info("task for a finished invocation acked", "status", inv.Status)
		w.reply(ctx, task, inv)
		return nil
	default:
		return fmt.Errorf("start attempt: %w", err)
	}
	log = log.With("plugin", inv.Plugin, "version", inv.Version, "attempt", inv.Attempts)

	v, err := w.Plugins.FindVersionByID(ctx, task.VersionID)
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return w.finish(ctx, log, task, inv, &orc.Result{Status: orc.StatusFailed,
			Error: &orc.InvocationError{Code: orc.EPLUGIN, Message: "the plugin version was deleted"}}, nil)
	}
	if err != nil {
		return fmt.Errorf("find version: %w", err)
	}
	if reaper, ok := w.Driver.(Reaper); ok && inv.Attempts > 1 {
		// An earlier attempt's worker died; its container may still run.
		if err := reaper.Reap(ctx, inv.ID); err != nil {
			log.Warn("reap earlier attempt", "err", err)
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, v.Timeout())
	defer cancel()
	w.track(inv.ID, cancel)
	defer w.untrack(inv.ID)

	log.Debug("running")
	res, err := w.Driver.Run(runCtx, w.spec(inv, v))
	if err != nil {
		if orc.ErrorCode(err) == orc.EUNAVAILABLE {
			return fmt.Errorf("run: %w", err)
		}
		log.Error("run failed", "err", err)
		msg := "the plugin could not be started"
		if orc.ErrorCode(err) == orc.EINVALID {
			msg = orc.ErrorMessage(err)
		}
		return w.finish(ctx, log, task, inv, &orc.Result{Status: orc.StatusFailed,
			Error: &orc.InvocationError{Code: orc.EPLUGIN, Message: msg}}, nil)
	}
	result, lines := w.interpret(inv, v, res)
	return w.finish(ctx, log, task, inv, result, lines)
}

// spec builds the container run of an invocation (protocol exec).
func (w *Worker) spec(inv *orc.Invocation, v *orc.Version) *TaskSpec {
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
	return &TaskSpec{
		InvocationID: inv.ID, Attempt: inv.Attempts, Image: v.Image,
		Args: args, Stdin: inv.Input, Env: env, Resources: v.Resources, Network: v.Network,
		Labels: map[string]string{"orc.plugin": inv.Plugin, "orc.version": inv.Version, "orc.worker": w.cfg.ID},
	}
}

// interpret turns what a container did into a result, following the exec
// protocol: the last JSON line of stdout is the output, stderr is the log,
// a non-zero exit is a failure whose message is the stderr tail.
func (w *Worker) interpret(inv *orc.Invocation, v *orc.Version, res *TaskResult) (*orc.Result, []orc.LogLine) {
	r := &orc.Result{ColdStart: true, Timing: orc.Timing{
		ColdMS: ms(res.Cold), RunMS: ms(res.Run),
	}}
	output, stdoutLines := lastJSONLine(res.Stdout)
	lines := w.logLines(inv.Attempts, res, stdoutLines)
	fail := func(status orc.Status, code, msg string) (*orc.Result, []orc.LogLine) {
		r.Status, r.Error = status, &orc.InvocationError{Code: code, Message: msg}
		return r, lines
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
	}
	if err := w.schemas.ValidateOutput(v, output); err != nil {
		msg := orc.ErrorMessage(err)
		if ps, ok := orc.ErrorDetails(err).([]registry.Problem); ok && len(ps) > 0 {
			msg += ": " + ps[0].Pointer + ": " + ps[0].Message
		}
		return fail(orc.StatusFailed, orc.EPLUGIN, msg)
	}
	r.Status, r.Output = orc.StatusSucceeded, output
	return r, lines
}

// finish commits a result, then replies, and only then lets the message be
// acked (by returning nil). A commit that fails asks for redelivery.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, task *orc.Task, inv *orc.Invocation, r *orc.Result, lines []orc.LogLine) error {
	r.Worker, r.Node, r.FinishedAt = w.cfg.ID, w.cfg.Node, w.Clock.Now()
	if err := w.Invocations.AppendLogs(ctx, inv.ID, lines); err != nil {
		return fmt.Errorf("store logs: %w", err)
	}
	won, err := w.Invocations.FinishInvocation(ctx, inv.ID, r)
	if err != nil {
		return fmt.Errorf("commit result: %w", err)
	}
	if !won {
		// Canceled meanwhile, or another attempt committed first.
		final, err := w.Invocations.FindInvocation(ctx, inv.ID)
		if err != nil {
			return fmt.Errorf("read invocation: %w", err)
		}
		log.Info("result discarded: invocation already final", "status", final.Status)
		w.reply(ctx, task, final)
		return nil
	}
	w.metrics.observe(inv, r)
	log.Info("invocation finished", "status", r.Status, "cold_ms", r.Timing.ColdMS, "run_ms", r.Timing.RunMS)
	inv.Status, inv.Output, inv.Error, inv.Timing.ColdMS, inv.Timing.RunMS, inv.ColdStart =
		r.Status, r.Output, r.Error, r.Timing.ColdMS, r.Timing.RunMS, r.ColdStart
	w.reply(ctx, task, inv)
	return nil
}

// reply tells a waiting gateway the final state. A lost reply is not lost
// data: the gateway also reads the database.
func (w *Worker) reply(ctx context.Context, task *orc.Task, inv *orc.Invocation) {
	if task.ReplyTo == "" || w.Replier == nil || !inv.Status.Terminal() {
		return
	}
	err := w.Replier.Reply(ctx, task.ReplyTo, &orc.Reply{InvocationID: inv.ID, Status: inv.Status,
		Output: inv.Output, Error: inv.Error, Version: inv.Version, Timing: inv.Timing, ColdStart: inv.ColdStart})
	if err != nil {
		w.Logger.Warn("reply to gateway", "invocation_id", inv.ID, "err", err)
	}
}

// HandleDead records an invocation whose message was dead-lettered: it was
// delivered too often without a result (its workers kept dying).
func (w *Worker) HandleDead(ctx context.Context, task *orc.Task, reason string) error {
	r := &orc.Result{Status: orc.StatusDead, Worker: w.cfg.ID, Node: w.cfg.Node, FinishedAt: w.Clock.Now(),
		Error: &orc.InvocationError{Code: orc.EPLUGIN, Message: "the invocation was abandoned after repeated failed deliveries (" + reason + ")"}}
	won, err := w.Invocations.FinishInvocation(ctx, task.InvocationID, r)
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return nil
	}
	if err != nil {
		return fmt.Errorf("commit dead invocation: %w", err)
	}
	if won {
		w.Logger.Warn("invocation dead-lettered", "invocation_id", task.InvocationID, "reason", reason)
		if inv, err := w.Invocations.FindInvocation(ctx, task.InvocationID); err == nil {
			w.metrics.observe(inv, r)
			w.reply(ctx, task, inv)
		}
	}
	return nil
}

// Cancel stops an invocation running on this worker, if it is here.
func (w *Worker) Cancel(invocationID string) {
	w.mu.Lock()
	cancel := w.running[invocationID]
	w.mu.Unlock()
	if cancel != nil {
		w.Logger.Info("canceling", "invocation_id", invocationID)
		cancel()
	}
}

func (w *Worker) track(id string, cancel context.CancelFunc) {
	w.mu.Lock()
	w.running[id] = cancel
	w.mu.Unlock()
}

func (w *Worker) untrack(id string) {
	w.mu.Lock()
	delete(w.running, id)
	w.mu.Unlock()
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

// stderrTail is the end of stderr, as the message of a failure.
func stderrTail(stderr []byte) string {
	const maxLines, maxBytes = 10, 2000
	s := strings.TrimSpace(strings.ToValidUTF8(string(stderr), "\uFFFD"))
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > maxBytes {
		s = strings.ToValidUTF8(s[len(s)-maxBytes:], "")
	}
	return s
}

// logLines turns an attempt's output into log lines, keeping the last
// MaxLogLines of them.
func (w *Worker) logLines(attempt int, res *TaskResult, stdout []string) []orc.LogLine {
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
