package ray

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// randomBytes returns n bytes that do not compress, the same in every run.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'o', 'r', 'c'}).Read(b) //nolint:errcheck // never fails
	return b
}

func testSpec() *orc.ContainerSpec {
	return &orc.ContainerSpec{
		InvocationID: "6f1c1f9e-7a51-4a8e-9d35-2b1b7c0e2f10",
		Attempt:      2,
		Image:        "ghcr.io/orc/echo:1.0.0",
		Args:         []string{"--mode", "fast lane"},
		Stdin:        []byte(`{"text": "héllo"}`),
		Env:          map[string]string{"LANG": "C.UTF-8"},
		Resources:    orc.Resources{CPU: 0.5, MemoryMB: 256, GPU: 1, Pids: 128, Custom: map[string]float64{"accelerator": 0.5}},
		Network:      orc.NetworkNone,
		Deadline:     t0.Add(time.Minute),
		Labels:       map[string]string{"orc.plugin": "echo", "orc.version": "1.0.0"},
	}
}

// environ turns an environment map into os.Environ's form, in random order
// and among other variables.
func environ(env map[string]string) []string {
	out := []string{"PATH=/usr/bin:/bin", "HOME=/home/ray", taskEnv + "X=not a chunk", "ORC_RAY_TASK=nor this"}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	rand.Shuffle(len(out), func(i, k int) { out[i], out[k] = out[k], out[i] })
	return out
}

// sameSpec fails the test unless two specs are equal.
func sameSpec(t *testing.T, got, want *orc.ContainerSpec) {
	t.Helper()
	if !got.Deadline.Equal(want.Deadline) {
		t.Fatalf("deadline = %v, want %v", got.Deadline, want.Deadline)
	}
	g, w := *got, *want
	g.Deadline, w.Deadline = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("spec = %+v\nwant %+v", g, w)
	}
}

// chunks returns the task chunks of an environment, by index.
func chunks(t *testing.T, env map[string]string) []string {
	t.Helper()
	out := make([]string, len(env))
	for k, v := range env {
		n, ok := strings.CutPrefix(k, taskEnv)
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 || i >= len(env) || out[i] != "" {
			t.Fatalf("environment variable %s: want %s0 to %s%d", k, taskEnv, taskEnv, len(env)-1)
		}
		out[i] = v
	}
	return out
}

func TestEncodeDecodeTask(t *testing.T) {
	big := testSpec()
	big.Stdin = randomBytes(300_000)
	empty := &orc.ContainerSpec{InvocationID: "6f1c1f9e-7a51-4a8e-9d35-2b1b7c0e2f10", Image: "echo"}
	cases := []struct {
		name       string
		spec       *orc.ContainerSpec
		minChunks  int
		maxChunks  int
		fullChunks bool // every chunk but the last is exactly taskChunk long
	}{
		{"small spec is one chunk", testSpec(), 1, 1, false},
		{"empty fields", empty, 1, 1, false},
		{"300 KB input spans several chunks", big, 4, 6, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := EncodeTask(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			parts := chunks(t, env)
			if len(parts) < tc.minChunks || len(parts) > tc.maxChunks {
				t.Fatalf("%d chunks, want %d to %d", len(parts), tc.minChunks, tc.maxChunks)
			}
			for i, p := range parts {
				// One environment string may not exceed 128 KiB on Linux.
				if len(p) > 96<<10 || len(taskEnv)+3+len(p) > 128<<10 {
					t.Errorf("chunk %d is %d bytes, more than 96 KiB", i, len(p))
				}
				if p == "" {
					t.Errorf("chunk %d is empty", i)
				}
				if tc.fullChunks && i < len(parts)-1 && len(p) != taskChunk {
					t.Errorf("chunk %d is %d bytes, want %d: only the last may be short", i, len(p), taskChunk)
				}
			}
			got, err := DecodeTask(environ(env))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			sameSpec(t, got, tc.spec)
		})
	}
}

func TestEncodeTaskTooLarge(t *testing.T) {
	spec := testSpec()
	spec.Stdin = randomBytes(1 << 20)
	env, err := EncodeTask(spec)
	if orc.ErrorCode(err) != orc.EINVALID || env != nil {
		t.Fatalf("EncodeTask(1 MiB of input) = %d chunks, %v; want EINVALID", len(env), err)
	}
	if msg := orc.ErrorMessage(err); !strings.Contains(msg, "too large") || !strings.Contains(msg, "1024 KiB") {
		t.Fatalf("message = %q, want it to say the input is too large and name the limit", msg)
	}
}

func TestDecodeTaskErrors(t *testing.T) {
	spec := testSpec()
	spec.Stdin = randomBytes(300_000)
	env, err := EncodeTask(spec)
	if err != nil {
		t.Fatal(err)
	}
	last := len(env) - 1
	if last < 2 {
		t.Fatalf("%d chunks, want at least 3 for these cases", len(env))
	}
	without := func(i int) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			if k != taskEnv+strconv.Itoa(i) {
				out[k] = v
			}
		}
		return out
	}
	with := func(k, v string) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			out[k] = v
		}
		out[k] = v
		return out
	}
	cases := []struct {
		name    string
		environ []string
		want    string // in the error
	}{
		{"no environment", nil, "no task in the environment"},
		{"no chunks", []string{"PATH=/bin", "ORC_RAY_TASK=x"}, "no task in the environment"},
		{"first chunk missing", environ(without(0)), "task chunk 0 missing"},
		{"middle chunk missing", environ(without(1)), "task chunk 1 missing"},
		{"last chunk missing", environ(without(last)), "decode task"},
		{"chunk not base64", environ(with(taskEnv+"0", "%%%not base64%%%")), "decode task"},
		{"not gzip", []string{taskEnv + "0=" + base64.StdEncoding.EncodeToString([]byte("plain text"))}, "decode task"},
		{"not json", []string{taskEnv + "0=" + pack([]byte("not json"))}, "decode task"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := DecodeTask(tc.environ)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeTask = %+v, %v; want an error with %q", spec, err, tc.want)
			}
		})
	}
}

// resultLine is the line ray-exec writes last.
func resultLine(t *testing.T, res *orc.ContainerResult) string {
	t.Helper()
	line, err := EncodeResult(res)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, resultMarker) {
		t.Fatalf("result line %q: want one line starting with %q", line, resultMarker)
	}
	return line
}

func TestDecodeResult(t *testing.T) {
	first := &orc.ContainerResult{ExitCode: 1, Stderr: []byte("first attempt\n"), Run: time.Second}
	second := &orc.ContainerResult{ExitCode: 0, Stdout: []byte(`{"ok": true}` + "\n"), Stderr: []byte("log\n"),
		StderrTruncated: true, Cold: 300 * time.Millisecond, Run: 1500 * time.Millisecond}
	huge := &orc.ContainerResult{Stdout: randomBytes(1 << 20), StdoutTruncated: true}
	cases := []struct {
		name string
		logs string
		want *orc.ContainerResult // nil: no result
	}{
		{"result after other log lines", "orc ray-exec: running invocation x\npulling image\n" + resultLine(t, second) + "\n", second},
		{"result without a final newline", "starting\n" + resultLine(t, second), second},
		{"last result line wins", resultLine(t, first) + "\nretrying\n" + resultLine(t, second) + "\ndone\n", second},
		{"crlf line endings", "starting\r\n" + resultLine(t, second) + "\r\n", second},
		{"line longer than a scanner's default buffer", "x\n" + resultLine(t, huge) + "\n", huge},
		{"no marker", "orc ray-exec: running invocation x\nError: no such image\n", nil},
		{"empty log", "", nil},
		{"marker only", resultMarker + "\n", nil},
		{"marker not at the line's start", "INFO " + resultLine(t, second) + "\n", nil},
		{"garbage after the marker", resultMarker + "not base64 !!\n", nil},
		{"base64 that is not gzip", resultMarker + base64.StdEncoding.EncodeToString([]byte("hello")) + "\n", nil},
		{"gzip that is not json", resultMarker + pack([]byte("{oops")) + "\n", nil},
		{"truncated result", resultLine(t, second)[:40] + "\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeResult(tc.logs)
			if ok != (tc.want != nil) {
				t.Fatalf("decodeResult: ok = %v, want %v (result %+v)", ok, tc.want != nil, got)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("result = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// newTestDriver returns a driver of a fake dashboard that polls every
// millisecond.
func newTestDriver(t *testing.T) (*JobDriver, *fakeRay) {
	t.Helper()
	f, c := newFakeRay(t, time.Now)
	d := NewJobDriver(JobDriverConfig{Prefix: testPrefix, Command: []string{"/usr/local/bin/orc", "ray-exec"},
		Env: map[string]string{"ORC_DOCKER_HOST": "unix:///run/docker.sock"}, Poll: time.Millisecond}, c)
	d.Logger = slog.New(slog.DiscardHandler)
	return d, f
}

// finish makes a job terminal.
func finish(j *JobDetails, status JobStatus, exitCode *int, message string) {
	j.Status, j.EndTime, j.DriverExitCode, j.Message = status, time.Now().UnixMilli(), exitCode, message
}

func intPtr(n int) *int { return &n }

func TestJobDriverRunSucceeds(t *testing.T) {
	d, f := newTestDriver(t)
	spec := testSpec()
	want := &orc.ContainerResult{Stdout: []byte(`{"echo": "héllo"}` + "\n"), Stderr: []byte("plugin log\n"), Run: 1500 * time.Millisecond}
	f.logs[spec.InvocationID] = "orc ray-exec: running invocation " + spec.InvocationID + "\n" + resultLine(t, want) + "\n"
	f.onGet = func(j *JobDetails, n int) {
		switch {
		case n == 1:
			j.Status, j.DriverNodeID = JobRunning, "node-accel"
		case n >= 3:
			finish(j, JobSucceeded, intPtr(0), "Job finished successfully.")
		}
	}

	res, err := d.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || string(res.Stdout) != string(want.Stdout) || string(res.Stderr) != string(want.Stderr) ||
		res.Run != want.Run || res.Canceled || res.TimedOut {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if res.Node != "node-accel" {
		t.Errorf("node = %q, want the job's driver node node-accel", res.Node)
	}
	if res.Cold < 0 {
		t.Errorf("cold = %v, want >= 0", res.Cold)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gets[spec.InvocationID] < 3 {
		t.Errorf("job read %d times, want it polled until it ended", f.gets[spec.InvocationID])
	}
	if len(f.stops) != 0 || f.posts != 1 || len(f.submits) != 1 {
		t.Fatalf("posts %d, stops %v; want one submission and no stop", f.posts, f.stops)
	}
	s := f.submits[0]
	job := s.Job
	if job.SubmissionID != spec.InvocationID {
		t.Errorf("submission id = %q, want the invocation id", job.SubmissionID)
	}
	if job.Entrypoint != "/usr/local/bin/orc ray-exec" {
		t.Errorf("entrypoint = %q", job.Entrypoint)
	}
	wantMeta := map[string]string{"orc_prefix": testPrefix, "orc_role": "invocation", "orc_attempt": "2", "orc_plugin": "echo"}
	if !reflect.DeepEqual(job.Metadata, wantMeta) {
		t.Errorf("metadata = %v, want %v", job.Metadata, wantMeta)
	}
	if job.NumCPUs != 0.5 || job.NumGPUs != 1 || job.Memory != 256<<20 || !reflect.DeepEqual(job.Resources, map[string]float64{"accelerator": 0.5}) {
		t.Errorf("entrypoint resources = cpus %g, gpus %g, memory %d, %v", job.NumCPUs, job.NumGPUs, job.Memory, job.Resources)
	}
	if got := string(s.Raw["entrypoint_memory"]); got != "268435456" {
		t.Errorf("entrypoint_memory sent as %s, want the integer 268435456", got)
	}
	if job.RuntimeEnv == nil || job.RuntimeEnv.EnvVars["ORC_DOCKER_HOST"] != "unix:///run/docker.sock" {
		t.Fatalf("runtime env = %+v, want the driver's env", job.RuntimeEnv)
	}
	got, err := DecodeTask(environ(job.RuntimeEnv.EnvVars))
	if err != nil {
		t.Fatalf("the job's environment does not carry the task: %v", err)
	}
	sameSpec(t, got, spec)
}

func TestJobDriverAttachesToSubmittedJob(t *testing.T) {
	want := &orc.ContainerResult{ExitCode: 3, Stderr: []byte("bad input\n"), Run: time.Second}
	cases := []struct {
		name  string
		state JobStatus
	}{
		{"job already finished", JobSucceeded},
		{"job still running", JobRunning},
		{"job still pending", JobPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f := newTestDriver(t)
			spec := testSpec()
			// A redelivered task: an earlier attempt sent the job.
			earlier := &JobDetails{SubmissionID: spec.InvocationID, Entrypoint: "earlier entrypoint", Status: tc.state,
				DriverNodeID: "node-1", Metadata: map[string]string{metaPrefix: testPrefix, metaRole: roleInvoke, "orc_attempt": "1"}}
			if tc.state.Terminal() {
				finish(earlier, tc.state, intPtr(0), "")
			}
			f.add(earlier)
			f.logs[spec.InvocationID] = resultLine(t, want) + "\n"
			f.onGet = func(j *JobDetails, n int) {
				if n >= 3 && !j.Status.Terminal() {
					finish(j, JobSucceeded, intPtr(0), "")
				}
			}

			res, err := d.Run(context.Background(), spec)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if res.ExitCode != 3 || string(res.Stderr) != "bad input\n" || res.Node != "node-1" {
				t.Fatalf("result = %+v, want the earlier job's result on node-1", res)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.posts != 1 || len(f.submits) != 0 || len(f.stops) != 0 {
				t.Fatalf("posts %d, accepted %d, stops %v; want one refused submission and no stop", f.posts, len(f.submits), f.stops)
			}
			if j := f.jobs[spec.InvocationID]; j.Entrypoint != "earlier entrypoint" || j.Metadata["orc_attempt"] != "1" {
				t.Fatalf("job = %+v, want the earlier one untouched", j)
			}
		})
	}
}

func TestJobDriverJobEndsWithoutResult(t *testing.T) {
	cases := []struct {
		name         string
		status       JobStatus
		exitCode     *int
		message      string
		logs         string
		logsStatus   int
		wantExit     int
		wantStderr   string
		wantCanceled bool
	}{
		{"entrypoint failed", JobFailed, intPtr(3),
			"Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\nTraceback (most recent call last):\n  ...",
			"orc ray-exec: running invocation x\nError: run container: no such image\n", 0,
			3, "the Ray job ended without a result: FAILED: Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\n", false},
		{"node died without an exit code", JobFailed, nil,
			"Job supervisor actor died: the node was terminated", "", 0,
			-1, "the Ray job ended without a result: FAILED: Job supervisor actor died: the node was terminated\n", false},
		{"entrypoint exited 0 without a result", JobSucceeded, intPtr(0), "", "just logs\n", 0,
			-1, "the Ray job ended without a result: SUCCEEDED\n", false},
		{"logs unreadable", JobFailed, intPtr(137), "killed", "", http.StatusInternalServerError,
			137, "the Ray job ended without a result: FAILED: killed\n", false},
		{"stopped by someone else", JobStopped, nil, "Job was intentionally stopped.", "", 0,
			-1, "the Ray job ended without a result: STOPPED: Job was intentionally stopped.\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f := newTestDriver(t)
			spec := testSpec()
			f.logs[spec.InvocationID] = tc.logs
			f.logsStatus = tc.logsStatus
			f.onGet = func(j *JobDetails, n int) {
				if n == 1 {
					j.Status, j.DriverNodeID = JobRunning, "node-2"
					return
				}
				finish(j, tc.status, tc.exitCode, tc.message)
			}
			res, err := d.Run(context.Background(), spec)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if res.ExitCode != tc.wantExit || string(res.Stderr) != tc.wantStderr || res.Canceled != tc.wantCanceled || res.TimedOut {
				t.Fatalf("result: exit %d, stderr %q, canceled %v, timed out %v\nwant: exit %d, stderr %q, canceled %v",
					res.ExitCode, res.Stderr, res.Canceled, res.TimedOut, tc.wantExit, tc.wantStderr, tc.wantCanceled)
			}
			if res.Node != "node-2" || len(res.Stdout) != 0 {
				t.Fatalf("result = %+v, want node-2 and no stdout", res)
			}
		})
	}
}

func TestJobDriverStopsJobWhenContextEnds(t *testing.T) {
	// The container exited as the stop came: its result does not say
	// canceled, the driver's context does.
	onStop := &orc.ContainerResult{ExitCode: 137, Stderr: []byte("killed\n"), Run: 2 * time.Second}
	yes, no := true, false
	cases := []struct {
		name         string
		timeout      time.Duration // 0: canceled while running
		logs         string
		wantExit     int
		wantCanceled *bool // nil: not checked
		wantTimedOut bool
	}{
		{"canceled, no result line", 0, "", -1, &yes, false},
		{"canceled, the entrypoint wrote its result", 0, resultLine(t, onStop) + "\n", 137, &yes, false},
		{"deadline passes", 50 * time.Millisecond, "", -1, nil, true},
		{"deadline passes, the entrypoint wrote its result", 50 * time.Millisecond, resultLine(t, onStop) + "\n", 137, &no, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f := newTestDriver(t)
			spec := testSpec()
			f.logs[spec.InvocationID] = tc.logs
			ctx, cancel := context.WithCancel(context.Background())
			if tc.timeout > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), tc.timeout)
			}
			defer cancel()
			f.onGet = func(j *JobDetails, n int) {
				if j.Status.Terminal() {
					return
				}
				j.Status, j.DriverNodeID = JobRunning, "node-3"
				if n == 2 && tc.timeout == 0 {
					cancel()
				}
			}
			res, err := d.Run(ctx, spec)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			f.mu.Lock()
			stops := slices.Clone(f.stops)
			status := f.jobs[spec.InvocationID].Status
			f.mu.Unlock()
			if !slices.Equal(stops, []string{spec.InvocationID}) || status != JobStopped {
				t.Fatalf("stops = %v, job %s; want the job stopped once", stops, status)
			}
			if res.ExitCode != tc.wantExit || res.TimedOut != tc.wantTimedOut {
				t.Fatalf("result: exit %d, timed out %v; want %d, %v", res.ExitCode, res.TimedOut, tc.wantExit, tc.wantTimedOut)
			}
			if tc.wantCanceled != nil && res.Canceled != *tc.wantCanceled {
				t.Fatalf("result: canceled %v, want %v", res.Canceled, *tc.wantCanceled)
			}
			if res.Node != "node-3" {
				t.Errorf("node = %q, want node-3", res.Node)
			}
		})
	}
}

func TestJobDriverSubmitErrors(t *testing.T) {
	tooLarge := testSpec()
	tooLarge.Stdin = randomBytes(1 << 20)
	cases := []struct {
		name      string
		spec      *orc.ContainerSpec
		status    int
		body      string
		wantCode  string
		wantPosts int
	}{
		{"dashboard unavailable", testSpec(), http.StatusServiceUnavailable, "not ready", orc.EUNAVAILABLE, 1},
		{"Ray refuses the job", testSpec(), http.StatusBadRequest, "TypeError: entrypoint_memory must be an integer", orc.EINTERNAL, 1},
		{"input too large", tooLarge, 0, "", orc.EINVALID, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f := newTestDriver(t)
			f.submitStatus, f.submitBody = tc.status, tc.body
			res, err := d.Run(context.Background(), tc.spec)
			if res != nil || orc.ErrorCode(err) != tc.wantCode {
				t.Fatalf("run = %+v, %v; want no result and code %s", res, err, tc.wantCode)
			}
			var apiErr *APIError
			if tc.status != 0 && tc.wantCode == orc.EINTERNAL && !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want Ray's APIError wrapped", err)
			}
			if n := f.postCount(); n != tc.wantPosts {
				t.Fatalf("posts = %d, want %d", n, tc.wantPosts)
			}
		})
	}
}

func TestJobDriverDeadlineIsNotCancel(t *testing.T) {
	d, f := newTestDriver(t)
	f.onGet = func(j *JobDetails, n int) {} // stays PENDING until stopped
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	res, err := d.Run(ctx, testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Canceled {
		t.Fatalf("timed out %v, canceled %v; want a timeout only", res.TimedOut, res.Canceled)
	}
}
