package ray

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

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

// tasks keeps ray tasks in memory, as the store does.
type tasks struct {
	mu      sync.Mutex
	specs   map[string][]byte
	results map[string][]byte
	deleted []string
	err     error // returned by PutRayTask
}

func newTasks() *tasks { return &tasks{specs: map[string][]byte{}, results: map[string][]byte{}} }

func taskKey(id string, attempt int) string { return id + "/" + strconv.Itoa(attempt) }

func (s *tasks) PutRayTask(ctx context.Context, id string, attempt int, spec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.specs[taskKey(id, attempt)] = spec
	return nil
}

func (s *tasks) RayTaskResult(ctx context.Context, id string, attempt int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[taskKey(id, attempt)], nil
}

func (s *tasks) DeleteRayTasks(ctx context.Context, id string, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = append(s.deleted, id)
	return nil
}

// store stores the result of an attempt, as the job's entrypoint does.
func (s *tasks) store(t *testing.T, id string, attempt int, res *orc.ContainerResult) {
	t.Helper()
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[taskKey(id, attempt)] = raw
}

// newTestDriver returns a driver of a fake dashboard that polls every
// millisecond.
func newTestDriver(t *testing.T) (*JobDriver, *fakeRay, *tasks) {
	t.Helper()
	f, c := newFakeRay(t, time.Now)
	d := NewJobDriver(JobDriverConfig{Prefix: testPrefix, Command: []string{"/usr/local/bin/orc", "ray-exec"},
		Env: map[string]string{"ORC_DOCKER_HOST": "unix:///run/docker.sock"}, Poll: time.Millisecond}, c)
	d.Logger = slog.New(slog.DiscardHandler)
	d.Tasks = newTasks()
	return d, f, d.Tasks.(*tasks)
}

// finish makes a job terminal.
func finish(j *JobDetails, status JobStatus, exitCode *int, message string) {
	j.Status, j.EndTime, j.DriverExitCode, j.Message = status, time.Now().UnixMilli(), exitCode, message
}

func intPtr(n int) *int { return &n }

func TestJobDriverRunSucceeds(t *testing.T) {
	d, f, ts := newTestDriver(t)
	spec := testSpec()
	want := &orc.ContainerResult{Stdout: []byte(`{"echo": "héllo"}` + "\n"), Stderr: []byte("plugin log\n"), Run: 1500 * time.Millisecond}
	var stored *orc.ContainerSpec
	f.onGet = func(j *JobDetails, n int) {
		switch {
		case n == 1:
			j.Status, j.DriverNodeID = JobRunning, "node-accel"
			// The entrypoint reads its task and stores its result.
			ts.mu.Lock()
			raw := ts.specs[taskKey(spec.InvocationID, spec.Attempt)]
			ts.mu.Unlock()
			stored = &orc.ContainerSpec{}
			if err := json.Unmarshal(raw, stored); err != nil {
				t.Errorf("stored task: %v", err)
			}
			ts.store(t, spec.InvocationID, spec.Attempt, want)
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
	// Ray's record of the job holds the task's id and attempt, never the
	// task: its dashboard shows job environments to anyone who reaches it.
	wantEnv := map[string]string{"ORC_DOCKER_HOST": "unix:///run/docker.sock", TaskIDEnv: spec.InvocationID, TaskAttemptEnv: "2"}
	if job.RuntimeEnv == nil || !reflect.DeepEqual(job.RuntimeEnv.EnvVars, wantEnv) {
		t.Fatalf("runtime env = %+v, want %v", job.RuntimeEnv, wantEnv)
	}
	if strings.Contains(string(s.Raw["runtime_env"]), "héllo") || strings.Contains(string(s.Raw["runtime_env"]), "C.UTF-8") {
		t.Fatalf("the job's record carries the task: %s", s.Raw["runtime_env"])
	}
	if stored == nil {
		t.Fatal("the task was not stored for the entrypoint")
	}
	sameSpec(t, stored, spec)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !slices.Equal(ts.deleted, []string{spec.InvocationID}) {
		t.Errorf("deleted tasks %v, want the invocation's once read", ts.deleted)
	}
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
			d, f, ts := newTestDriver(t)
			spec := testSpec()
			// A redelivered task: an earlier attempt sent the job, whose
			// entrypoint stores its result under that attempt.
			earlier := &JobDetails{SubmissionID: spec.InvocationID, Entrypoint: "earlier entrypoint", Status: tc.state,
				DriverNodeID: "node-1", Metadata: map[string]string{metaPrefix: testPrefix, metaRole: roleInvoke, "orc_attempt": "1"}}
			if tc.state.Terminal() {
				finish(earlier, tc.state, intPtr(0), "")
			}
			f.add(earlier)
			ts.store(t, spec.InvocationID, 1, want)
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
		wantExit     int
		wantStderr   string
		wantCanceled bool
	}{
		{"entrypoint failed", JobFailed, intPtr(3),
			"Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\nTraceback (most recent call last):\n  ...",
			3, "the Ray job ended without a result: FAILED: Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\n", false},
		{"node died without an exit code", JobFailed, nil,
			"Job supervisor actor died: the node was terminated",
			-1, "the Ray job ended without a result: FAILED: Job supervisor actor died: the node was terminated\n", false},
		{"entrypoint exited 0 without a result", JobSucceeded, intPtr(0), "",
			-1, "the Ray job ended without a result: SUCCEEDED\n", false},
		{"killed", JobFailed, intPtr(137), "killed",
			137, "the Ray job ended without a result: FAILED: killed\n", false},
		{"stopped by someone else", JobStopped, nil, "Job was intentionally stopped.",
			-1, "the Ray job ended without a result: STOPPED: Job was intentionally stopped.\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f, _ := newTestDriver(t)
			spec := testSpec()
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
		stored       bool          // the entrypoint stored its result
		wantExit     int
		wantCanceled *bool // nil: not checked
		wantTimedOut bool
	}{
		{"canceled, no result", 0, false, -1, &yes, false},
		{"canceled, the entrypoint stored its result", 0, true, 137, &yes, false},
		{"deadline passes", 50 * time.Millisecond, false, -1, nil, true},
		{"deadline passes, the entrypoint stored its result", 50 * time.Millisecond, true, 137, &no, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f, ts := newTestDriver(t)
			spec := testSpec()
			if tc.stored {
				ts.store(t, spec.InvocationID, spec.Attempt, onStop)
			}
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

// A run handed back (the scheduler stops) leaves its Ray job running and its
// task stored, for the next attempt to attach to.
func TestJobDriverHandedBackLeavesJobRunning(t *testing.T) {
	d, f, ts := newTestDriver(t)
	spec := testSpec()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	f.onGet = func(j *JobDetails, n int) {
		if j.Status.Terminal() {
			return
		}
		j.Status = JobRunning
		if n == 2 {
			cancel(orc.ErrHandedBack)
		}
	}
	if _, err := d.Run(ctx, spec); !errors.Is(err, orc.ErrHandedBack) {
		t.Fatalf("run: %v, want orc.ErrHandedBack", err)
	}
	f.mu.Lock()
	stops, status := slices.Clone(f.stops), f.jobs[spec.InvocationID].Status
	f.mu.Unlock()
	ts.mu.Lock()
	deleted := slices.Clone(ts.deleted)
	ts.mu.Unlock()
	if len(stops) != 0 || status != JobRunning || len(deleted) != 0 {
		t.Fatalf("stops %v, job %s, tasks deleted for %v; want the job running and its task kept", stops, status, deleted)
	}
}

func TestJobDriverSubmitErrors(t *testing.T) {
	cases := []struct {
		name      string
		spec      *orc.ContainerSpec
		status    int
		body      string
		storeErr  error
		wantCode  string
		wantPosts int
	}{
		{"dashboard unavailable", testSpec(), http.StatusServiceUnavailable, "not ready", nil, orc.EUNAVAILABLE, 1},
		{"Ray refuses the job", testSpec(), http.StatusBadRequest, "TypeError: entrypoint_memory must be an integer", nil, orc.EINTERNAL, 1},
		{"store unavailable", testSpec(), 0, "", orc.Errorf(orc.EUNAVAILABLE, "database down"), orc.EUNAVAILABLE, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, f, ts := newTestDriver(t)
			ts.err = tc.storeErr
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
	d, f, _ := newTestDriver(t)
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
