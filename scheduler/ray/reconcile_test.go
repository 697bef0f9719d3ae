package ray

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// t0 is when the fake clocks start.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is an orc.Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ orc.Clock = (*fakeClock)(nil)

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeRay is a Ray dashboard in memory: the parts of the Jobs API and of the
// State API's node list that the reconciler and the job driver use. It
// answers errors the way Ray does, so that the client classifies them.
type fakeRay struct {
	t   *testing.T
	now func() time.Time

	mu      sync.Mutex
	jobs    map[string]*JobDetails
	nodes   []*Node
	posts   int          // submissions received, accepted or not
	submits []fakeSubmit // submissions accepted
	stops   []string     // POST /api/jobs/{id}/stop, in order
	deletes []string     // DELETE /api/jobs/{id}, in order
	gets    map[string]int
	// onGet, when set, may change a job before GET /api/jobs/{id} answers
	// with it; n counts that job's reads from 1. It runs under the lock.
	onGet func(j *JobDetails, n int)
	// submitStatus, when set, answers every submission with it and
	// submitBody instead of accepting it.
	submitStatus int
	submitBody   string
}

// fakeSubmit is a submission as the dashboard received it.
type fakeSubmit struct {
	Job JobSubmission
	Raw map[string]json.RawMessage // the body as sent, to check JSON types
}

// newFakeRay starts a fake dashboard and returns it with a client of it
// that does not retry.
func newFakeRay(t *testing.T, now func() time.Time) (*fakeRay, *Client) {
	t.Helper()
	f := &fakeRay{t: t, now: now, jobs: map[string]*JobDetails{}, gets: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/jobs/{$}", f.list)
	mux.HandleFunc("POST /api/jobs/{$}", f.submit)
	mux.HandleFunc("GET /api/jobs/{id}", f.get)
	mux.HandleFunc("POST /api/jobs/{id}/stop", f.stop)
	mux.HandleFunc("DELETE /api/jobs/{id}", f.delete)
	mux.HandleFunc("GET /api/v0/nodes", f.listNodes)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake ray: unexpected %s %s", r.Method, r.URL)
		http.Error(w, "unexpected request", http.StatusTeapot)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Retries = 0
	return f, c
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the test sees a broken answer
}

func jobNotFound(w http.ResponseWriter, id string) {
	http.Error(w, fmt.Sprintf("Job %s does not exist", id), http.StatusNotFound)
}

func (f *fakeRay) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.jobs))
	for id := range f.jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*JobDetails, 0, len(ids))
	for _, id := range ids {
		out = append(out, f.jobs[id])
	}
	writeJSON(w, out)
}

func (f *fakeRay) submit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var job JobSubmission
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &job); err != nil {
		http.Error(w, "TypeError: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		http.Error(w, "TypeError: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts++
	if f.submitStatus != 0 {
		http.Error(w, f.submitBody, f.submitStatus)
		return
	}
	if _, ok := f.jobs[job.SubmissionID]; ok {
		http.Error(w, "Traceback (most recent call last):\n  ...\nValueError: Job with submission_id "+
			job.SubmissionID+" already exists. Please use a different submission_id.\n", http.StatusInternalServerError)
		return
	}
	f.submits = append(f.submits, fakeSubmit{Job: job, Raw: raw})
	f.jobs[job.SubmissionID] = &JobDetails{SubmissionID: job.SubmissionID, Entrypoint: job.Entrypoint,
		Status: JobPending, StartTime: f.now().UnixMilli(), Metadata: job.Metadata}
	writeJSON(w, map[string]string{"submission_id": job.SubmissionID})
}

func (f *fakeRay) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		jobNotFound(w, id)
		return
	}
	f.gets[id]++
	if f.onGet != nil {
		f.onGet(j, f.gets[id])
	}
	writeJSON(w, j)
}

func (f *fakeRay) stop(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, id)
	j, ok := f.jobs[id]
	if !ok {
		jobNotFound(w, id)
		return
	}
	if j.Status.Terminal() {
		writeJSON(w, map[string]bool{"stopped": false})
		return
	}
	j.Status, j.EndTime = JobStopped, f.now().UnixMilli()
	writeJSON(w, map[string]bool{"stopped": true})
}

func (f *fakeRay) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, id)
	j, ok := f.jobs[id]
	if !ok {
		jobNotFound(w, id)
		return
	}
	if !j.Status.Terminal() {
		http.Error(w, fmt.Sprintf("RuntimeError: Attempted to delete job '%s', but it is in a non-terminal state %s.", id, j.Status),
			http.StatusInternalServerError)
		return
	}
	delete(f.jobs, id)
	writeJSON(w, true)
}

func (f *fakeRay) listNodes(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out struct {
		Data struct {
			Result struct {
				Result []*Node `json:"result"`
			} `json:"result"`
		} `json:"data"`
	}
	out.Data.Result.Result = f.nodes
	writeJSON(w, out)
}

// add puts a job on the fake cluster.
func (f *fakeRay) add(jobs ...*JobDetails) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range jobs {
		f.jobs[j.SubmissionID] = j
	}
}

// setStatus changes the status of jobs on the fake cluster.
func (f *fakeRay) setStatus(status JobStatus, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.jobs[id].Status = status
	}
}

// calls returns copies of what the dashboard was asked to do.
func (f *fakeRay) calls() (submits []fakeSubmit, stops, deletes []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.submits), slices.Clone(f.stops), slices.Clone(f.deletes)
}

// postCount is how many submissions the dashboard received.
func (f *fakeRay) postCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts
}

// fakePools is the part of orc.PoolStore the reconciler uses.
type fakePools struct {
	orc.PoolStore // not implemented: a call panics

	mu        sync.Mutex
	demands   []*orc.PoolDemand
	demandErr error
	saved     []*orc.PoolStatus // the last report
	saves     int
	drains    []string
}

func (p *fakePools) PoolDemands(ctx context.Context) ([]*orc.PoolDemand, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.demands), p.demandErr
}

func (p *fakePools) SavePoolStatuses(ctx context.Context, pools []*orc.PoolStatus) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saved, p.saves = pools, p.saves+1
	return nil
}

func (p *fakePools) RequestDrain(ctx context.Context, workerID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drains = append(p.drains, workerID)
	return nil
}

func (p *fakePools) setDemands(d ...*orc.PoolDemand) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.demands = d
}

func (p *fakePools) drained() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.drains)
}

// fakeInvocations is the part of orc.InvocationService the reconciler uses.
type fakeInvocations struct {
	orc.InvocationService // not implemented: a call panics

	mu    sync.Mutex
	byID  map[string]*orc.Invocation
	err   error // when set, every lookup fails with it
	finds []string
}

func (s *fakeInvocations) FindInvocation(ctx context.Context, id string) (*orc.Invocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finds = append(s.finds, id)
	if s.err != nil {
		return nil, s.err
	}
	inv, ok := s.byID[id]
	if !ok {
		return nil, orc.Errorf(orc.ENOTFOUND, "invocation %s not found", id)
	}
	return inv, nil
}

// testNodes is a cluster like the local one: a head without CPUs, a general
// node, a node with an accelerator, and a dead node that had everything.
func testNodes() []*Node {
	return []*Node{
		{ID: "head", State: "ALIVE", Head: true, Total: map[string]float64{"memory": 4 << 30, "object_store_memory": 1 << 30}},
		{ID: "general", State: "ALIVE", Total: map[string]float64{"CPU": 8, "memory": 16 << 30}},
		{ID: "accel", State: "ALIVE", Total: map[string]float64{"CPU": 4, "memory": 8 << 30, "accelerator": 4}},
		{ID: "gone", State: "DEAD", Total: map[string]float64{"CPU": 64, "memory": 256 << 30, "GPU": 8, "accelerator": 64}},
	}
}

// testCommand starts a replica; its path needs quoting.
var testCommand = []string{"/opt/orc bin/orc", "worker"}

const testPrefix = "orc-test"

// reconcileEnv is a Reconciler wired to fakes, on a fake clock.
type reconcileEnv struct {
	clock *fakeClock
	ray   *fakeRay
	pools *fakePools
	invs  *fakeInvocations
	r     *Reconciler
}

func newReconcileEnv(t *testing.T, cfg ReconcilerConfig, demands ...*orc.PoolDemand) *reconcileEnv {
	t.Helper()
	clock := &fakeClock{now: t0}
	f, c := newFakeRay(t, clock.Now)
	f.nodes = testNodes()
	if cfg.Prefix == "" {
		cfg.Prefix = testPrefix
	}
	if cfg.Command == nil {
		cfg.Command = testCommand
	}
	e := &reconcileEnv{clock: clock, ray: f, pools: &fakePools{demands: demands},
		invs: &fakeInvocations{byID: map[string]*orc.Invocation{}}}
	e.r = NewReconciler(cfg)
	e.r.Ray, e.r.Pools, e.r.Invocations, e.r.Clock = c, e.pools, e.invs, clock
	e.r.Logger = slog.New(slog.DiscardHandler)
	return e
}

// reconcile runs one reconciliation and returns the saved report by pool.
func (e *reconcileEnv) reconcile(t *testing.T) map[string]*orc.PoolStatus {
	t.Helper()
	if err := e.r.Reconcile(context.Background()); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	e.pools.mu.Lock()
	defer e.pools.mu.Unlock()
	out := map[string]*orc.PoolStatus{}
	for _, st := range e.pools.saved {
		if out[st.Pool] != nil {
			t.Fatalf("pool %s reported twice", st.Pool)
		}
		out[st.Pool] = st
	}
	return out
}

// workerJob is a worker replica's job as Ray lists it.
func workerJob(prefix, pool, id string, status JobStatus, start time.Time) *JobDetails {
	return &JobDetails{SubmissionID: id, Status: status, StartTime: start.UnixMilli(),
		Metadata: map[string]string{metaPrefix: prefix, metaRole: roleWorker, metaPool: pool}}
}

// ended marks a job terminal at a time.
func ended(j *JobDetails, status JobStatus, at time.Time) *JobDetails {
	j.Status, j.EndTime = status, at.UnixMilli()
	return j
}

func replicaStates(st *orc.PoolStatus) map[string]orc.Replica {
	out := map[string]orc.Replica{}
	for _, r := range st.Replicas {
		out[r.ID] = r
	}
	return out
}

func TestDesired(t *testing.T) {
	cases := []struct {
		name       string
		min, max   int
		unfinished int
		perReplica int
		want       int
	}{
		{"zero unfinished gives min", 2, 5, 0, 4, 2},
		{"zero unfinished and zero min", 0, 5, 0, 4, 0},
		{"less than one replica's work still gives min", 2, 5, 3, 4, 2},
		{"one invocation needs one replica", 0, 5, 1, 4, 1},
		{"exact multiple", 1, 10, 8, 4, 2},
		{"rounds up", 1, 10, 9, 4, 3},
		{"one per replica", 1, 10, 7, 1, 7},
		{"clamped to max", 1, 4, 100, 4, 4},
		{"max equals min", 3, 3, 100, 4, 3},
		{"min above max wins when idle", 3, 1, 0, 4, 3},
		{"min above max wins when busy", 3, 1, 100, 4, 3},
		{"zero bounds", 0, 0, 10, 4, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &orc.PoolDemand{Pool: "p", MinWorkers: tc.min, MaxWorkers: tc.max, Unfinished: tc.unfinished}
			if got := desired(d, tc.perReplica); got != tc.want {
				t.Fatalf("desired(min %d, max %d, unfinished %d, per replica %d) = %d, want %d",
					tc.min, tc.max, tc.unfinished, tc.perReplica, got, tc.want)
			}
		})
	}
}

func TestUnschedulable(t *testing.T) {
	small := orc.Resources{CPU: 1, MemoryMB: 512}
	dead := func(n *Node) *Node { n.State = "DEAD"; return n }
	byID := func(ids ...string) []*Node {
		var out []*Node
		for _, n := range testNodes() {
			if slices.Contains(ids, n.ID) {
				out = append(out, n)
			}
		}
		return out
	}
	cases := []struct {
		name  string
		res   orc.Resources
		nodes []*Node
		want  string // "" when it fits
	}{
		{"fits on the general node", small, testNodes(), ""},
		{"fits only on the accelerator node", orc.Resources{CPU: 2, MemoryMB: 1024, Custom: map[string]float64{"accelerator": 1}}, testNodes(), ""},
		{"uses all of a node", orc.Resources{CPU: 8, MemoryMB: 16 << 10}, testNodes(), ""},
		{"cpu missing", orc.Resources{CPU: 16, MemoryMB: 512}, testNodes(),
			"no Ray node offers cpu=16, memory=512MB"},
		{"memory missing", orc.Resources{CPU: 1, MemoryMB: 64 << 10}, testNodes(),
			"no Ray node offers cpu=1, memory=65536MB"},
		{"gpu missing", orc.Resources{CPU: 1, MemoryMB: 512, GPU: 1}, testNodes(),
			"no Ray node offers cpu=1, memory=512MB, gpu=1"},
		{"custom resource missing", orc.Resources{CPU: 1, MemoryMB: 512, Custom: map[string]float64{"accelerator": 64}}, testNodes(),
			"no Ray node offers cpu=1, memory=512MB, accelerator=64"},
		{"unknown custom resource", orc.Resources{CPU: 1, MemoryMB: 512, Custom: map[string]float64{"tpu": 1, "accelerator": 1}}, testNodes(),
			"no Ray node offers cpu=1, memory=512MB, accelerator=1, tpu=1"},
		{"resources split over two nodes do not fit", orc.Resources{CPU: 6, MemoryMB: 512, Custom: map[string]float64{"accelerator": 1}}, testNodes(),
			"no Ray node offers cpu=6, memory=512MB, accelerator=1"},
		{"the head without CPUs does not count", small, byID("head"),
			"no Ray node offers cpu=1, memory=512MB"},
		{"dead nodes are ignored", orc.Resources{CPU: 1, MemoryMB: 512, GPU: 2}, testNodes(),
			"no Ray node offers cpu=1, memory=512MB, gpu=2"},
		{"a dead node that fitted is ignored", small, []*Node{dead(testNodes()[1])},
			"the Ray cluster has no alive node"},
		{"no alive node", small, []*Node{dead(testNodes()[0]), dead(testNodes()[1])},
			"the Ray cluster has no alive node"},
		{"no node at all", small, nil, "the Ray cluster has no alive node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := unschedulable(tc.res, tc.nodes); got != tc.want {
				t.Fatalf("unschedulable(%+v) = %q, want %q", tc.res, got, tc.want)
			}
		})
	}
}

func TestShellJoin(t *testing.T) {
	// Files a glob would match: an unquoted pattern would show in the
	// round trip.
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "axb", "out"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		argv []string
		want string // the exact quoting, or "" to check the round trip only
	}{
		{"plain args stay unquoted",
			[]string{"/usr/local/bin/orc", "worker", "--pool", "default", "--id", "orc-worker-default-0a1b2c3d"},
			"/usr/local/bin/orc worker --pool default --id orc-worker-default-0a1b2c3d"},
		{"safe punctuation stays unquoted",
			[]string{"--db=postgres://orc@db:5432/orc", "a,b", "./x_y.z"},
			"--db=postgres://orc@db:5432/orc a,b ./x_y.z"},
		{"empty arg", []string{"a", "", "b"}, "a '' b"},
		{"spaces", []string{"/opt/orc bin/orc", "two  spaces", " lead"}, "'/opt/orc bin/orc' 'two  spaces' ' lead'"},
		{"single quotes", []string{"it's", "'"}, `'it'\''s' ''\'''`},
		{"double quotes and backslashes", []string{`say "hi"`, `C:\dir\`}, `'say "hi"' 'C:\dir\'`},
		{"dollar and command substitution", []string{"$HOME", "${PATH}", "$(echo pwned)", "`echo pwned`"},
			`'$HOME' '${PATH}' '$(echo pwned)' '` + "`echo pwned`'"},
		{"globs and tilde", []string{"*", "a?b", "[ab]", "~", "~root"}, ""},
		{"shell operators", []string{"a;b", "a|b", "a&&b", ">out", "<in", "#not-a-comment", "!", "(x)", "{a,b}"}, ""},
		{"newlines and tabs", []string{"line1\nline2", "tab\there", "\n"}, ""},
		{"non-ASCII", []string{"héllo", "日本語"}, ""},
		{"quotes only", []string{"''", `"`, `'\''`}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := shellJoin(tc.argv)
			if tc.want != "" && got != tc.want {
				t.Fatalf("shellJoin(%q) = %s, want %s", tc.argv, got, tc.want)
			}
			// The shell must give back exactly the arguments.
			cmd := exec.Command("/bin/sh", "-c", `printf '%s\0' `+got)
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("sh -c %q: %v", got, err)
			}
			args := strings.Split(string(out), "\x00")
			args = args[:len(args)-1] // after the last NUL
			if !slices.Equal(args, tc.argv) {
				t.Fatalf("round trip of %s:\n got %q\nwant %q", got, args, tc.argv)
			}
		})
	}
}

func TestEntrypointResources(t *testing.T) {
	cases := []struct {
		name string
		res  orc.Resources
		want JobSubmission
	}{
		{"cpu and memory", orc.Resources{CPU: 2, MemoryMB: 1536},
			JobSubmission{NumCPUs: 2, Memory: 1536 << 20}},
		{"no cpu still asks for some", orc.Resources{MemoryMB: 64},
			JobSubmission{NumCPUs: 0.1, Memory: 64 << 20}},
		{"gpu and custom", orc.Resources{CPU: 0.5, MemoryMB: 512, GPU: 2, Pids: 100, Custom: map[string]float64{"accelerator": 1}},
			JobSubmission{NumCPUs: 0.5, NumGPUs: 2, Memory: 512 << 20, Resources: map[string]float64{"accelerator": 1}}},
		{"empty custom is left out", orc.Resources{CPU: 1, MemoryMB: 512, Custom: map[string]float64{}},
			JobSubmission{NumCPUs: 1, Memory: 512 << 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got JobSubmission
			entrypointResources(&got, tc.res)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReconcileSubmitsMinReplicas(t *testing.T) {
	env := map[string]string{"ORC_DATABASE_URL": "postgres://orc@db/orc", "ORC_AMQP_URL": "amqp://mq/"}
	demand := &orc.PoolDemand{Pool: "vision", MinWorkers: 2, MaxWorkers: 5,
		Resources: orc.Resources{CPU: 2, MemoryMB: 1536, Custom: map[string]float64{"accelerator": 1}}}
	e := newReconcileEnv(t, ReconcilerConfig{Env: env}, demand)

	st := e.reconcile(t)["vision"]
	submits, stops, deletes := e.ray.calls()
	if len(submits) != 2 || len(stops) != 0 || len(deletes) != 0 {
		t.Fatalf("submits %d, stops %v, deletes %v; want 2 submissions only", len(submits), stops, deletes)
	}
	idPattern := regexp.MustCompile(`^orc-test-worker-vision-[0-9a-f]{8}$`)
	ids := map[string]bool{}
	for _, s := range submits {
		job := s.Job
		id := job.SubmissionID
		if !idPattern.MatchString(id) || ids[id] {
			t.Fatalf("submission id %q: want a new orc-test-worker-vision-<hex>", id)
		}
		ids[id] = true
		if want := "'/opt/orc bin/orc' worker --pool vision --id " + id; job.Entrypoint != want {
			t.Errorf("entrypoint = %s, want %s", job.Entrypoint, want)
		}
		if job.NumCPUs != 2 || job.NumGPUs != 0 || job.Memory != 1536<<20 ||
			!reflect.DeepEqual(job.Resources, map[string]float64{"accelerator": 1}) {
			t.Errorf("entrypoint resources = cpus %g, gpus %g, memory %d, %v; want 2, 0, %d, accelerator=1",
				job.NumCPUs, job.NumGPUs, job.Memory, job.Resources, 1536<<20)
		}
		// Ray refuses a memory that is not an integer.
		if got := string(s.Raw["entrypoint_memory"]); got != "1610612736" {
			t.Errorf("entrypoint_memory sent as %s, want the integer 1610612736", got)
		}
		wantMeta := map[string]string{"orc_prefix": "orc-test", "orc_role": "worker", "orc_pool": "vision"}
		if !reflect.DeepEqual(job.Metadata, wantMeta) {
			t.Errorf("metadata = %v, want %v", job.Metadata, wantMeta)
		}
		if job.RuntimeEnv == nil || !reflect.DeepEqual(job.RuntimeEnv.EnvVars, env) {
			t.Errorf("runtime env = %+v, want env vars %v", job.RuntimeEnv, env)
		}
	}

	if st == nil {
		t.Fatal("no status saved for pool vision")
	}
	if st.State != orc.PoolWaiting || st.Desired != 2 || st.MinWorkers != 2 || st.MaxWorkers != 5 || len(st.Replicas) != 2 {
		t.Fatalf("status = %+v, want waiting for 2 replicas", st)
	}
	if want := "2 worker replica(s) wait for Ray to place them (cpu=2, memory=1536MB, accelerator=1 each)"; st.Reason != want {
		t.Errorf("reason = %q, want %q", st.Reason, want)
	}
	if !st.UpdatedAt.Equal(t0) {
		t.Errorf("updated at %v, want the clock's %v", st.UpdatedAt, t0)
	}
	for id, r := range replicaStates(st) {
		if !ids[id] || r.State != string(JobPending) || r.Draining {
			t.Errorf("replica %+v: want one of the submitted ones, pending", r)
		}
	}

	// A pool's driver, or the installation's, is the replicas'.
	for _, tc := range []struct {
		cfg  ReconcilerConfig
		want string
	}{
		{ReconcilerConfig{Driver: "podman"}, " --driver podman"},
		{ReconcilerConfig{Driver: "podman", PoolDrivers: map[string]string{"vision": "docker", "other": "x"}}, " --driver docker"},
		{ReconcilerConfig{PoolDrivers: map[string]string{"other": "podman"}}, ""},
	} {
		e := newReconcileEnv(t, tc.cfg, &orc.PoolDemand{Pool: "vision", MinWorkers: 1, MaxWorkers: 1})
		e.reconcile(t)
		submits, _, _ := e.ray.calls()
		if len(submits) != 1 || !strings.HasSuffix(submits[0].Job.Entrypoint, " --id "+submits[0].Job.SubmissionID+tc.want) {
			t.Errorf("config %+v: entrypoints %+v, want them to end with %q", tc.cfg, submits, tc.want)
		}
	}

	// Replicas Ray has not placed yet count: nothing more is submitted.
	e.clock.Advance(2 * time.Second)
	if st := e.reconcile(t)["vision"]; st.State != orc.PoolWaiting {
		t.Errorf("state while pending = %s, want waiting", st.State)
	}
	var all []string
	for id := range ids {
		all = append(all, id)
	}
	e.ray.setStatus(JobRunning, all...)
	e.clock.Advance(2 * time.Second)
	if st := e.reconcile(t)["vision"]; st.State != orc.PoolReady || st.Reason != "" {
		t.Errorf("status once running = %s (%q), want ready", st.State, st.Reason)
	}
	if submits, _, _ := e.ray.calls(); len(submits) != 2 {
		t.Fatalf("submissions = %d after the replicas started, want still 2", len(submits))
	}
}

func TestReconcileScalesWithUnfinishedWork(t *testing.T) {
	cases := []struct {
		name        string
		running     int
		unfinished  int
		min, max    int
		wantDesired int
		wantSubmits int
		wantState   string
	}{
		{"idle pool keeps min", 1, 0, 1, 4, 1, 0, orc.PoolReady},
		{"work for one replica", 1, 4, 1, 4, 1, 0, orc.PoolReady},
		{"work for three replicas", 1, 9, 1, 4, 3, 2, orc.PoolWaiting},
		{"capped at max", 1, 100, 1, 4, 4, 3, orc.PoolWaiting},
		{"already at max", 4, 100, 1, 4, 4, 0, orc.PoolReady},
		{"from no replica", 0, 5, 0, 4, 2, 2, orc.PoolWaiting},
		{"min above max", 0, 0, 3, 1, 3, 3, orc.PoolWaiting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newReconcileEnv(t, ReconcilerConfig{WorkerConcurrency: 4}, &orc.PoolDemand{Pool: "default",
				MinWorkers: tc.min, MaxWorkers: tc.max, Unfinished: tc.unfinished,
				Resources: orc.Resources{CPU: 1, MemoryMB: 512}})
			for i := range tc.running {
				e.ray.add(workerJob(testPrefix, "default", fmt.Sprintf("orc-test-worker-default-r%d", i), JobRunning, t0.Add(-time.Hour)))
			}
			st := e.reconcile(t)["default"]
			submits, stops, _ := e.ray.calls()
			if len(submits) != tc.wantSubmits || len(stops) != 0 {
				t.Fatalf("submitted %d, stopped %v; want %d submissions", len(submits), stops, tc.wantSubmits)
			}
			for _, s := range submits {
				if s.Job.Metadata[metaPool] != "default" || !strings.HasSuffix(s.Job.Entrypoint, " --pool default --id "+s.Job.SubmissionID) {
					t.Errorf("submission %+v is not a replica of pool default", s.Job)
				}
			}
			if st.Desired != tc.wantDesired || st.Unfinished != tc.unfinished || len(st.Replicas) != tc.running+tc.wantSubmits || st.State != tc.wantState {
				t.Fatalf("status = %+v, want desired %d, %d replicas, %s", st, tc.wantDesired, tc.running+tc.wantSubmits, tc.wantState)
			}
			// The next pass finds what it submitted and submits no more.
			e.clock.Advance(2 * time.Second)
			e.reconcile(t)
			if submits, _, _ := e.ray.calls(); len(submits) != tc.wantSubmits {
				t.Fatalf("second pass: %d submissions in all, want still %d", len(submits), tc.wantSubmits)
			}
			if drains := e.pools.drained(); len(drains) != 0 {
				t.Fatalf("drained %v while scaling up", drains)
			}
		})
	}
}

func TestReconcileRaySubmitRefused(t *testing.T) {
	e := newReconcileEnv(t, ReconcilerConfig{}, &orc.PoolDemand{Pool: "default", MinWorkers: 2, MaxWorkers: 4,
		Resources: orc.Resources{CPU: 1, MemoryMB: 512}})
	e.ray.submitStatus, e.ray.submitBody = http.StatusBadRequest, "TypeError: entrypoint_memory must be an integer"
	st := e.reconcile(t)["default"]
	if n := e.ray.postCount(); n != 1 {
		t.Errorf("submissions tried = %d, want 1 (the pass gives up on the first refusal)", n)
	}
	if st.Reason != "Ray did not accept a worker replica; trying again" || len(st.Replicas) != 0 || st.State != orc.PoolScaling {
		t.Fatalf("status = %+v, want scaling with the refusal as reason and no replica", st)
	}
}

func TestReconcileUnschedulablePool(t *testing.T) {
	cases := []struct {
		name       string
		nodes      []*Node
		wantReason string
	}{
		{"no node has the resource", testNodes(), "no Ray node offers cpu=1, memory=512MB, accelerator=64"},
		{"no alive node", testNodes()[3:], "the Ray cluster has no alive node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			huge := &orc.PoolDemand{Pool: "huge", MinWorkers: 1, MaxWorkers: 4, Unfinished: 3,
				Resources: orc.Resources{CPU: 1, MemoryMB: 512, Custom: map[string]float64{"accelerator": 64}}}
			e := newReconcileEnv(t, ReconcilerConfig{}, huge)
			e.ray.nodes = tc.nodes
			// A replica submitted before the big node died waits in Ray's
			// queue for a node that will not come back.
			e.ray.add(workerJob(testPrefix, "huge", "orc-test-worker-huge-old", JobPending, t0.Add(-time.Minute)))

			st := e.reconcile(t)["huge"]
			submits, stops, _ := e.ray.calls()
			if len(submits) != 0 {
				t.Fatalf("submitted %d replicas of an unschedulable pool", len(submits))
			}
			if !slices.Equal(stops, []string{"orc-test-worker-huge-old"}) {
				t.Fatalf("stops = %v, want the pending replica stopped", stops)
			}
			if st.State != orc.PoolUnschedulable || st.Reason != tc.wantReason {
				t.Fatalf("state %s, reason %q; want unschedulable, %q", st.State, st.Reason, tc.wantReason)
			}
			if r := replicaStates(st)["orc-test-worker-huge-old"]; !r.Draining {
				t.Errorf("the stopped replica is reported as %+v, want draining", r)
			}

			// It stays so on the next pass, and still submits nothing.
			e.clock.Advance(2 * time.Second)
			if st := e.reconcile(t)["huge"]; st.State != orc.PoolUnschedulable {
				t.Fatalf("second pass: state %s", st.State)
			}
			if submits, _, _ := e.ray.calls(); len(submits) != 0 {
				t.Fatalf("second pass submitted %d replicas", len(submits))
			}
		})
	}

	t.Run("other pools are still served", func(t *testing.T) {
		e := newReconcileEnv(t, ReconcilerConfig{},
			&orc.PoolDemand{Pool: "huge", MinWorkers: 1, MaxWorkers: 1, Resources: orc.Resources{CPU: 1, MemoryMB: 512, GPU: 1}},
			&orc.PoolDemand{Pool: "default", MinWorkers: 1, MaxWorkers: 1, Resources: orc.Resources{CPU: 1, MemoryMB: 512}})
		report := e.reconcile(t)
		if report["huge"].State != orc.PoolUnschedulable || report["huge"].Reason != "no Ray node offers cpu=1, memory=512MB, gpu=1" {
			t.Errorf("huge: %+v", report["huge"])
		}
		submits, _, _ := e.ray.calls()
		if len(submits) != 1 || submits[0].Job.Metadata[metaPool] != "default" {
			t.Fatalf("submissions = %+v, want one replica of pool default", submits)
		}
	})
}

func TestReconcileReplacesEndedReplica(t *testing.T) {
	for _, status := range []JobStatus{JobFailed, JobSucceeded, JobStopped} {
		t.Run(string(status), func(t *testing.T) {
			e := newReconcileEnv(t, ReconcilerConfig{}, &orc.PoolDemand{Pool: "default", MinWorkers: 1, MaxWorkers: 1,
				Resources: orc.Resources{CPU: 1, MemoryMB: 512}})
			dead := ended(workerJob(testPrefix, "default", "orc-test-worker-default-dead", status, t0.Add(-time.Hour)), status, t0.Add(-time.Second))
			dead.Message = "Job entrypoint command failed with exit code 1"
			e.ray.add(dead)

			st := e.reconcile(t)["default"]
			submits, _, deletes := e.ray.calls()
			if len(submits) != 1 {
				t.Fatalf("submitted %d replicas, want 1 to replace the ended one", len(submits))
			}
			if len(deletes) != 0 {
				t.Fatalf("deleted %v a second after it ended; Ray's supervisor may still be exiting", deletes)
			}
			if _, ok := replicaStates(st)["orc-test-worker-default-dead"]; ok || len(st.Replicas) != 1 {
				t.Fatalf("replicas = %+v, want only the replacement", st.Replicas)
			}

			// Exactly settleTime after its end it is still kept...
			e.clock.Advance(settleTime - time.Second)
			e.reconcile(t)
			if _, _, deletes := e.ray.calls(); len(deletes) != 0 {
				t.Fatalf("deleted %v exactly settleTime after its end", deletes)
			}
			// ...and deleted once more than settleTime passed, once.
			e.clock.Advance(time.Millisecond)
			e.reconcile(t)
			e.clock.Advance(2 * time.Second)
			e.reconcile(t)
			submits, _, deletes = e.ray.calls()
			if !slices.Equal(deletes, []string{"orc-test-worker-default-dead"}) {
				t.Fatalf("deletes = %v, want the ended replica once", deletes)
			}
			if len(submits) != 1 {
				t.Fatalf("submitted %d replicas in all, want 1", len(submits))
			}
		})
	}
}

func TestReconcileDrainsSurplusAfterScaleDownAfter(t *testing.T) {
	const after = 30 * time.Second
	pool := func(unfinished int) *orc.PoolDemand {
		return &orc.PoolDemand{Pool: "default", MinWorkers: 1, MaxWorkers: 4, Unfinished: unfinished,
			Resources: orc.Resources{CPU: 1, MemoryMB: 512}}
	}
	const (
		oldest  = "orc-test-worker-default-oldest"
		middle  = "orc-test-worker-default-middle"
		pending = "orc-test-worker-default-pending"
	)
	setup := func(t *testing.T) *reconcileEnv {
		e := newReconcileEnv(t, ReconcilerConfig{ScaleDownAfter: after, WorkerConcurrency: 4}, pool(0))
		e.ray.add(
			workerJob(testPrefix, "default", oldest, JobRunning, t0.Add(-3*time.Hour)),
			workerJob(testPrefix, "default", middle, JobRunning, t0.Add(-2*time.Hour)),
			workerJob(testPrefix, "default", pending, JobPending, t0.Add(-time.Hour)),
		)
		return e
	}
	noRetirement := func(t *testing.T, e *reconcileEnv, when string) {
		t.Helper()
		if _, stops, _ := e.ray.calls(); len(stops) != 0 {
			t.Fatalf("%s: stopped %v", when, stops)
		}
		if drains := e.pools.drained(); len(drains) != 0 {
			t.Fatalf("%s: drained %v", when, drains)
		}
	}

	t.Run("drains after the delay, pending first", func(t *testing.T) {
		e := setup(t)
		if st := e.reconcile(t)["default"]; st.Desired != 1 || st.State != orc.PoolScaling {
			t.Fatalf("status = %+v, want scaling down to 1", st)
		}
		noRetirement(t, e, "at once")
		e.clock.Advance(after - time.Second)
		e.reconcile(t)
		noRetirement(t, e, "before ScaleDownAfter")

		e.clock.Advance(time.Second)
		st := e.reconcile(t)["default"]
		submits, stops, _ := e.ray.calls()
		drains := e.pools.drained()
		// The pending replica runs nothing: it is stopped, not drained.
		if !slices.Equal(stops, []string{pending}) {
			t.Fatalf("stops = %v, want only the pending replica %s", stops, pending)
		}
		// One of the running ones is asked to drain through the store.
		if len(drains) != 1 || (drains[0] != oldest && drains[0] != middle) {
			t.Fatalf("drains = %v, want one running replica", drains)
		}
		if len(submits) != 0 {
			t.Fatalf("submitted %d replicas while scaling down", len(submits))
		}
		reps := replicaStates(st)
		if !reps[pending].Draining || !reps[drains[0]].Draining || len(st.Replicas) != 3 {
			t.Fatalf("replicas = %+v, want 3 with the retired two draining", st.Replicas)
		}
		if st.State != orc.PoolReady {
			t.Errorf("state = %s, want ready: one replica runs, one is wanted", st.State)
		}

		// Draining replicas no longer count: nothing more is retired,
		// however long the pool stays at its size.
		for range 3 {
			e.clock.Advance(after + time.Second)
			e.reconcile(t)
		}
		if _, stops, _ := e.ray.calls(); len(stops) != 1 {
			t.Fatalf("stops = %v after more passes, want still one", stops)
		}
		if drains := e.pools.drained(); len(drains) != 1 {
			t.Fatalf("drains = %v after more passes, want still one", drains)
		}
	})

	t.Run("surplus that comes and goes restarts the delay", func(t *testing.T) {
		e := setup(t)
		e.reconcile(t) // surplus since t0
		e.clock.Advance(20 * time.Second)
		e.pools.setDemands(pool(12)) // three replicas wanted: no surplus
		e.reconcile(t)
		e.clock.Advance(20 * time.Second)
		e.pools.setDemands(pool(0)) // surplus again since t0+40s
		e.reconcile(t)
		e.clock.Advance(after - time.Second)
		e.reconcile(t)
		noRetirement(t, e, "less than ScaleDownAfter after the surplus came back")
		e.clock.Advance(time.Second)
		e.reconcile(t)
		if _, stops, _ := e.ray.calls(); !slices.Equal(stops, []string{pending}) {
			t.Fatalf("stops = %v, want the pending replica once the delay passed", stops)
		}
		if drains := e.pools.drained(); len(drains) != 1 {
			t.Fatalf("drains = %v, want one", drains)
		}
	})

	t.Run("replicas of a pool nobody wants drain at once", func(t *testing.T) {
		e := setup(t)
		e.pools.setDemands()
		e.reconcile(t)
		if _, stops, _ := e.ray.calls(); !slices.Equal(stops, []string{pending}) {
			t.Fatalf("stops = %v, want the pending replica", stops)
		}
		drains := e.pools.drained()
		sort.Strings(drains)
		if want := []string{middle, oldest}; !slices.Equal(drains, want) {
			t.Fatalf("drains = %v, want %v", drains, want)
		}
		if e.pools.saved == nil || len(e.pools.saved) != 0 {
			t.Fatalf("report = %+v, want an empty report", e.pools.saved)
		}
	})
}

func TestReconcileIgnoresOtherInstallations(t *testing.T) {
	e := newReconcileEnv(t, ReconcilerConfig{}, &orc.PoolDemand{Pool: "default", MinWorkers: 1, MaxWorkers: 1,
		Resources: orc.Resources{CPU: 1, MemoryMB: 512}})
	other := func(j *JobDetails) *JobDetails { j.Metadata[metaPrefix] = "orc-other"; return j }
	e.ray.add(
		// Another installation's replicas of a pool with the same name.
		other(workerJob(testPrefix, "default", "orc-other-worker-default-1", JobRunning, t0.Add(-time.Hour))),
		other(workerJob(testPrefix, "default", "orc-other-worker-default-2", JobPending, t0.Add(-time.Hour))),
		other(ended(workerJob(testPrefix, "default", "orc-other-worker-default-3", JobFailed, t0.Add(-time.Hour)), JobFailed, t0.Add(-time.Hour))),
		// And one of its per-invocation jobs, long finished.
		ended(&JobDetails{SubmissionID: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
			Metadata: map[string]string{metaPrefix: "orc-other", metaRole: roleInvoke}}, JobSucceeded, t0.Add(-time.Hour)),
		// A job someone submitted by hand.
		ended(&JobDetails{SubmissionID: "raysubmit_abc", Metadata: map[string]string{"owner": "alice"}}, JobSucceeded, t0.Add(-time.Hour)),
	)
	st := e.reconcile(t)["default"]
	submits, stops, deletes := e.ray.calls()
	if len(submits) != 1 {
		t.Fatalf("submitted %d replicas, want 1: the other installation's replicas are not ours", len(submits))
	}
	if len(stops) != 0 || len(deletes) != 0 || len(e.pools.drained()) != 0 {
		t.Fatalf("stops %v, deletes %v, drains %v; want the other jobs left alone", stops, deletes, e.pools.drained())
	}
	if len(e.invs.finds) != 0 {
		t.Fatalf("looked up invocations %v of another installation", e.invs.finds)
	}
	for id := range replicaStates(st) {
		if strings.HasPrefix(id, "orc-other-") {
			t.Fatalf("replicas = %+v, include another installation's", st.Replicas)
		}
	}
}

func TestReconcileCollectsInvocationJobs(t *testing.T) {
	const id = "0b6f7f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
	ours := map[string]string{metaPrefix: testPrefix, metaRole: roleInvoke, "orc_attempt": "1"}
	cases := []struct {
		name       string
		job        *JobDetails
		inv        *orc.Invocation // nil: the store does not know it
		findErr    error
		wantFind   bool
		wantDelete bool
	}{
		{"invocation succeeded", &JobDetails{Status: JobSucceeded, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			&orc.Invocation{Status: orc.StatusSucceeded}, nil, true, true},
		{"invocation failed", &JobDetails{Status: JobFailed, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			&orc.Invocation{Status: orc.StatusFailed}, nil, true, true},
		{"invocation canceled", &JobDetails{Status: JobStopped, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			&orc.Invocation{Status: orc.StatusCanceled}, nil, true, true},
		{"invocation unknown", &JobDetails{Status: JobSucceeded, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			nil, nil, true, true},
		{"invocation still running", &JobDetails{Status: JobSucceeded, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			&orc.Invocation{Status: orc.StatusRunning}, nil, true, false},
		{"invocation queued again", &JobDetails{Status: JobFailed, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			&orc.Invocation{Status: orc.StatusQueued}, nil, true, false},
		{"store unavailable", &JobDetails{Status: JobSucceeded, Metadata: ours, EndTime: t0.Add(-time.Minute).UnixMilli()},
			nil, orc.Errorf(orc.EUNAVAILABLE, "database unavailable"), true, false},
		{"ended too recently", &JobDetails{Status: JobSucceeded, Metadata: ours, EndTime: t0.Add(-time.Second).UnixMilli()},
			&orc.Invocation{Status: orc.StatusSucceeded}, nil, false, false},
		{"ended exactly settleTime ago", &JobDetails{Status: JobSucceeded, Metadata: ours, EndTime: t0.Add(-settleTime).UnixMilli()},
			&orc.Invocation{Status: orc.StatusSucceeded}, nil, false, false},
		{"terminal without an end time", &JobDetails{Status: JobFailed, Metadata: ours},
			&orc.Invocation{Status: orc.StatusSucceeded}, nil, false, false},
		{"job still running", &JobDetails{Status: JobRunning, Metadata: ours},
			&orc.Invocation{Status: orc.StatusSucceeded}, nil, false, false},
		{"record without metadata of an invocation", &JobDetails{Status: JobFailed, EndTime: t0.Add(-time.Minute).UnixMilli()},
			nil, nil, true, true},
		{"record without metadata of a running invocation", &JobDetails{Status: JobFailed, EndTime: t0.Add(-time.Minute).UnixMilli()},
			&orc.Invocation{Status: orc.StatusRunning}, nil, true, false},
		{"another installation's", &JobDetails{Status: JobSucceeded, EndTime: t0.Add(-time.Minute).UnixMilli(),
			Metadata: map[string]string{metaPrefix: "orc-other", metaRole: roleInvoke}},
			nil, nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newReconcileEnv(t, ReconcilerConfig{})
			tc.job.SubmissionID = id
			e.ray.add(tc.job)
			if tc.inv != nil {
				tc.inv.ID = id
				e.invs.byID[id] = tc.inv
			}
			e.invs.err = tc.findErr
			e.reconcile(t)
			_, stops, deletes := e.ray.calls()
			if got := len(e.invs.finds) > 0; got != tc.wantFind {
				t.Errorf("looked the invocation up: %v, want %v", got, tc.wantFind)
			}
			if got := slices.Equal(deletes, []string{id}); got != tc.wantDelete || (!tc.wantDelete && len(deletes) != 0) {
				t.Errorf("deletes = %v, want deleted: %v", deletes, tc.wantDelete)
			}
			if len(stops) != 0 {
				t.Errorf("stopped %v", stops)
			}
		})
	}

	t.Run("a job id that is not a uuid is not an invocation's", func(t *testing.T) {
		e := newReconcileEnv(t, ReconcilerConfig{})
		e.ray.add(ended(&JobDetails{SubmissionID: "raysubmit_XYZ"}, JobFailed, t0.Add(-time.Minute)))
		e.reconcile(t)
		if _, _, deletes := e.ray.calls(); len(deletes) != 0 || len(e.invs.finds) != 0 {
			t.Fatalf("deletes %v, lookups %v; want none", deletes, e.invs.finds)
		}
	})
}

func TestReconcileErrors(t *testing.T) {
	t.Run("store fails", func(t *testing.T) {
		e := newReconcileEnv(t, ReconcilerConfig{})
		e.pools.demandErr = orc.Errorf(orc.EUNAVAILABLE, "database unavailable")
		err := e.r.Reconcile(context.Background())
		if orc.ErrorCode(err) != orc.EUNAVAILABLE || e.pools.saves != 0 {
			t.Fatalf("err = %v, saves %d; want EUNAVAILABLE and nothing saved", err, e.pools.saves)
		}
	})
	t.Run("ray unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.URL
		srv.Close()
		e := newReconcileEnv(t, ReconcilerConfig{}, &orc.PoolDemand{Pool: "default", MinWorkers: 1, MaxWorkers: 1})
		c, err := NewClient(addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Retries = 0
		e.r.Ray = c
		err = e.r.Reconcile(context.Background())
		if !errors.Is(err, ErrUnavailable) || e.pools.saves != 0 {
			t.Fatalf("err = %v, saves %d; want ErrUnavailable and the last report kept", err, e.pools.saves)
		}
	})
}

func TestReconcileDrainsNewestRunningReplicas(t *testing.T) {
	e := newReconcileEnv(t, ReconcilerConfig{ScaleDownAfter: 30 * time.Second},
		&orc.PoolDemand{Pool: "default", MinWorkers: 1, MaxWorkers: 4, Resources: orc.Resources{CPU: 1, MemoryMB: 512}})
	e.ray.add(
		workerJob(testPrefix, "default", "oldest", JobRunning, t0.Add(-3*time.Hour)),
		workerJob(testPrefix, "default", "middle", JobRunning, t0.Add(-2*time.Hour)),
		workerJob(testPrefix, "default", "newest", JobRunning, t0.Add(-1*time.Hour)))
	e.reconcile(t)
	e.clock.Advance(30 * time.Second)
	e.reconcile(t)
	drains := e.pools.drained()
	sort.Strings(drains)
	if want := []string{"middle", "newest"}; !slices.Equal(drains, want) {
		t.Fatalf("drained %v, want %v", drains, want)
	}
	// Asked once: later passes do not ask again.
	e.reconcile(t)
	if n := len(e.pools.drained()); n != 2 {
		t.Fatalf("drain requests after another pass = %d, want 2", n)
	}
}
