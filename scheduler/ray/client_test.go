package ray_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/scheduler/ray"
)

func newClient(t *testing.T) *ray.Client {
	t.Helper()
	c, err := ray.NewClient(testenv.RayAddress(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitJob polls a job until it is terminal.
func waitJob(t *testing.T, c *ray.Client, id string) *ray.JobDetails {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
		if j.Status.Terminal() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 60s: %s", id, j.Status, j.Message)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle waits until an ended job's supervisor has exited: a job deleted
// before that comes back as a FAILED record without metadata.
func settle(j *ray.JobDetails) {
	time.Sleep(time.Until(time.UnixMilli(j.EndTime).Add(6 * time.Second)))
}

// nodeWith returns the id of the alive node that offers a resource.
func nodeWith(t *testing.T, c *ray.Client, resource string) string {
	t.Helper()
	nodes, err := c.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Alive() && n.Total[resource] > 0 {
			return n.ID
		}
	}
	t.Fatalf("no alive node offers %q", resource)
	return ""
}

func TestClientJobLifecycle(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	id := "orc-test-" + testenv.Suffix()
	job := &ray.JobSubmission{
		SubmissionID: id,
		Entrypoint:   `echo "hello $ORC_TEST_WORD"`,
		RuntimeEnv:   &ray.RuntimeEnv{EnvVars: map[string]string{"ORC_TEST_WORD": "from ray"}},
		NumCPUs:      0.5,
		Memory:       64 << 20,
		Resources:    map[string]float64{"accelerator": 0.1},
		Metadata:     map[string]string{"orc_test": "lifecycle"},
	}
	got, err := c.SubmitJob(ctx, job)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if got != id {
		t.Fatalf("submission id = %q, want %q", got, id)
	}
	// A second submission with the same id is "already sent", not a new run.
	if _, err := c.SubmitJob(ctx, job); !errors.Is(err, ray.ErrAlreadySubmitted) {
		t.Fatalf("duplicate submit: err = %v, want ErrAlreadySubmitted", err)
	}

	j := waitJob(t, c, id)
	if j.Status != ray.JobSucceeded {
		t.Fatalf("status = %s (%s), want SUCCEEDED", j.Status, j.Message)
	}
	if j.DriverExitCode == nil || *j.DriverExitCode != 0 {
		t.Fatalf("driver exit code = %v, want 0", j.DriverExitCode)
	}
	if j.Metadata["orc_test"] != "lifecycle" {
		t.Fatalf("metadata = %v", j.Metadata)
	}
	// The entrypoint resources chose the node: only one offers "accelerator".
	if want := nodeWith(t, c, "accelerator"); j.DriverNodeID != want {
		t.Fatalf("ran on node %s, want the accelerator node %s", j.DriverNodeID, want)
	}
	logs, err := c.JobLogs(ctx, id)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	if !strings.Contains(logs, "hello from ray") {
		t.Fatalf("logs do not show the entrypoint's output:\n%s", logs)
	}

	jobs, err := c.Jobs(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	found := false
	for _, j := range jobs {
		found = found || j.SubmissionID == id
	}
	if !found {
		t.Fatalf("job %s not listed", id)
	}

	settle(j)
	if err := c.DeleteJob(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Job(ctx, id); !errors.Is(err, ray.ErrNotFound) {
		t.Fatalf("get after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := c.JobLogs(ctx, id); !errors.Is(err, ray.ErrNotFound) {
		t.Fatalf("logs after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := c.StopJob(ctx, id); !errors.Is(err, ray.ErrNotFound) {
		t.Fatalf("stop after delete: err = %v, want ErrNotFound", err)
	}
}

func TestClientStopAndDeleteRunning(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	id := "orc-test-" + testenv.Suffix()
	if _, err := c.SubmitJob(ctx, &ray.JobSubmission{SubmissionID: id, Entrypoint: "sleep 300", NumCPUs: 0.1}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == ray.JobRunning {
			break
		}
		if j.Status.Terminal() || time.Now().After(deadline) {
			t.Fatalf("job did not start: %s %s", j.Status, j.Message)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.DeleteJob(ctx, id); !errors.Is(err, ray.ErrNotTerminal) {
		t.Fatalf("delete running job: err = %v, want ErrNotTerminal", err)
	}
	stopped, err := c.StopJob(ctx, id)
	if err != nil || !stopped {
		t.Fatalf("stop: stopped = %v, err = %v", stopped, err)
	}
	j := waitJob(t, c, id)
	if j.Status != ray.JobStopped {
		t.Fatalf("status after stop = %s, want STOPPED", j.Status)
	}
	settle(j)
	if err := c.DeleteJob(ctx, id); err != nil {
		t.Fatalf("delete stopped job: %v", err)
	}
}

func TestClientNodes(t *testing.T) {
	c := newClient(t)
	nodes, err := c.NodesWithUsage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var alive, heads int
	for _, n := range nodes {
		if !n.Alive() {
			continue
		}
		alive++
		if n.Head {
			heads++
		}
		if n.ID == "" || n.Total["memory"] <= 0 {
			t.Errorf("node %+v lacks an id or memory", n)
		}
		if _, ok := n.Used["CPU"]; !ok && n.Total["CPU"] > 0 {
			t.Errorf("node %s: no CPU usage reported: %v", n.ID, n.Used)
		}
	}
	if alive < 2 || heads != 1 {
		t.Fatalf("alive nodes = %d (heads %d); the local cluster has a head and two nodes", alive, heads)
	}
	if v, err := c.Version(context.Background()); err != nil || v == "" {
		t.Fatalf("version = %q, %v", v, err)
	}
}

func TestClientRetriesUntilReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "Failed to get job agent: not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"ray_version":"2.60.0"}`))
	}))
	defer srv.Close()
	c, err := ray.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.RetryWait = time.Millisecond
	v, err := c.Version(context.Background())
	if err != nil || v != "2.60.0" {
		t.Fatalf("version = %q, %v", v, err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("calls = %d, want 3 (two not-ready answers, then success)", n)
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there now
	c, err := ray.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Retries, c.RetryWait = 1, time.Millisecond
	if _, err := c.Nodes(context.Background()); !errors.Is(err, ray.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestClientErrorsAreTyped(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"not found", 404, "Job nope does not exist", ray.ErrNotFound},
		{"duplicate", 500, "Traceback ...\nValueError: Job with submission_id x already exists. Please use a different submission_id.\n", ray.ErrAlreadySubmitted},
		{"delete running", 500, "RuntimeError: Attempted to delete job 'x', but it is in a non-terminal state RUNNING.", ray.ErrNotTerminal},
		{"bad request", 400, "TypeError: entrypoint_memory must be an integer", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, tc.body, tc.status)
			}))
			defer srv.Close()
			c, _ := ray.NewClient(srv.URL)
			_, err := c.Job(context.Background(), "x")
			var apiErr *ray.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Fatalf("err = %v, want an APIError with status %d", err, tc.status)
			}
			for _, sentinel := range []error{ray.ErrNotFound, ray.ErrAlreadySubmitted, ray.ErrNotTerminal, ray.ErrUnavailable} {
				if errors.Is(err, sentinel) != (sentinel == tc.want) {
					t.Fatalf("errors.Is(err, %v) = %v", sentinel, !(sentinel == tc.want))
				}
			}
		})
	}
}
