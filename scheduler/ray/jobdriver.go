package ray

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

// The task of a per-invocation Ray job travels in its environment, in
// chunks: one environment string may not exceed 128 KiB on Linux.
const (
	taskEnv       = "ORC_RAY_TASK_"
	taskChunk     = 96 << 10
	maxTaskBytes  = 1 << 20
	resultMarker  = "orc-result "
	stopWait      = 30 * time.Second
	defaultPollMS = 250
)

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
// the job's entrypoint (orc ray-exec) runs the container with that node's
// Docker engine and writes the result to the job's log.
//
// The submission id is the invocation id, so a redelivered task attaches to
// the job already sent instead of starting a second one, and reads its
// result if it has finished.
type JobDriver struct {
	Ray    *Client
	Logger *slog.Logger
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
// entrypoint kills and removes the container.
func (d *JobDriver) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	start := time.Now()
	env, err := EncodeTask(spec)
	if err != nil {
		return nil, err
	}
	for k, v := range d.cfg.Env {
		env[k] = v
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
	res, err := d.result(context.WithoutCancel(ctx), j)
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

// result reads a finished job's result from its log.
func (d *JobDriver) result(ctx context.Context, j *JobDetails) (*orc.ContainerResult, error) {
	logs, err := d.Ray.JobLogs(ctx, j.SubmissionID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		d.Logger.Warn("read ray job logs", "invocation_id", j.SubmissionID, "err", err)
	}
	if res, ok := decodeResult(logs); ok {
		return res, nil
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

// EncodeTask turns a spec into the environment of its Ray job.
func EncodeTask(spec *orc.ContainerSpec) (map[string]string, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	enc := pack(raw)
	if len(enc) > maxTaskBytes {
		return nil, orc.Errorf(orc.EINVALID, "the input is too large for a ray-job invocation (%d KiB compressed; the limit is %d KiB)",
			len(enc)>>10, maxTaskBytes>>10)
	}
	env := map[string]string{}
	for i := 0; len(enc) > 0; i++ {
		n := min(len(enc), taskChunk)
		env[taskEnv+strconv.Itoa(i)] = enc[:n]
		enc = enc[n:]
	}
	return env, nil
}

// DecodeTask reads the spec that EncodeTask put in an environment
// (os.Environ's form).
func DecodeTask(environ []string) (*orc.ContainerSpec, error) {
	chunks := map[int]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if n, ok := strings.CutPrefix(k, taskEnv); ok {
			i, err := strconv.Atoi(n)
			if err != nil {
				continue
			}
			chunks[i] = v
		}
	}
	if len(chunks) == 0 {
		return nil, errors.New("no task in the environment (" + taskEnv + "*)")
	}
	keys := make([]int, 0, len(chunks))
	for i := range chunks {
		keys = append(keys, i)
	}
	sort.Ints(keys)
	var b strings.Builder
	for want, i := range keys {
		if i != want {
			return nil, fmt.Errorf("task chunk %d missing", want)
		}
		b.WriteString(chunks[i])
	}
	raw, err := unpack(b.String())
	if err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	spec := &orc.ContainerSpec{}
	if err := json.Unmarshal(raw, spec); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	return spec, nil
}

// EncodeResult is the line a job's entrypoint writes last: the marker and
// the result, compressed.
func EncodeResult(res *orc.ContainerResult) (string, error) {
	raw, err := json.Marshal(res)
	if err != nil {
		return "", err
	}
	return resultMarker + pack(raw), nil
}

// decodeResult finds the last result line in a job's log.
func decodeResult(logs string) (*orc.ContainerResult, bool) {
	var last string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultMarker); ok {
			last = line
		}
	}
	if last == "" {
		return nil, false
	}
	raw, err := unpack(strings.TrimSpace(last))
	if err != nil {
		return nil, false
	}
	res := &orc.ContainerResult{}
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, false
	}
	return res, true
}

func pack(raw []byte) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw) //nolint:errcheck // writes to memory
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func unpack(s string) ([]byte, error) {
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 256<<20))
}

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
