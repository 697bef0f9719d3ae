package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/scheduler/ray"
)

// rayStack is a stack whose workers the scheduler places on the local Ray
// cluster (deploy/local/services.sh starts it). No worker runs in process.
type rayStack struct {
	*stack
	ray   *ray.Client
	sched *Scheduler
	// stopScheduler stops the scheduler last started.
	stopScheduler func()
}

func newRayStack(t testing.TB, change ...func(*Config)) *rayStack {
	t.Helper()
	return newTracedRayStack(t, nil, change...)
}

// newTracedRayStack is newRayStack whose gateway and scheduler trace with
// tp.
func newTracedRayStack(t testing.TB, tp trace.TracerProvider, change ...func(*Config)) *rayStack {
	t.Helper()
	addr := testenv.RayAddress(t)
	s := newTracedStack(t, func(c *Config) {
		c.RayAddress = addr
		c.Scheduler.Orc = buildOrc(t)
		c.Scheduler.Interval = 500 * time.Millisecond
		c.Scheduler.ScaleDownAfter = 3 * time.Second
		c.Scheduler.WorkerConcurrency = 4
		for _, f := range change {
			f(c)
		}
	}, true, tp)
	rc, err := ray.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	rs := &rayStack{stack: s, ray: rc}
	// Registered last, so it runs first: the scheduler stops, then every
	// Ray job of this stack is stopped and deleted (in production, replicas
	// outlive a scheduler restart; in tests, nothing may outlive the test).
	t.Cleanup(func() { rs.removeRayJobs(t) })
	rs.startScheduler()
	return rs
}

// startScheduler starts a scheduler; stop (also run at cleanup) stops it
// as SIGTERM does and returns once Run returned.
func (s *rayStack) startScheduler() (stop func()) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sched := &Scheduler{Config: s.cfg, Logger: testLogger(t), Tracing: s.tracing}
	if err := sched.Open(ctx); err != nil {
		t.Fatalf("open scheduler: %v", err)
	}
	s.sched = sched
	sctx, cancelRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(sctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancelRun()
			if err := <-done; err != nil {
				t.Errorf("scheduler: %v", err)
			}
			sched.Close()
		})
	}
	t.Cleanup(stop)
	s.stopScheduler = stop
	return stop
}

// jobsOf lists this stack's Ray jobs.
func (s *rayStack) jobsOf(t testing.TB, role string) []*ray.JobDetails {
	t.Helper()
	jobs, err := s.ray.Jobs(context.Background())
	if err != nil {
		t.Fatalf("list ray jobs: %v", err)
	}
	var out []*ray.JobDetails
	for _, j := range jobs {
		if j.Metadata["orc_prefix"] == s.cfg.QueuePrefix && (role == "" || j.Metadata["orc_role"] == role) {
			out = append(out, j)
		}
	}
	return out
}

func (s *rayStack) removeRayJobs(t testing.TB) {
	ctx := context.Background()
	jobs := s.jobsOf(t, "")
	for _, j := range jobs {
		if !j.Status.Terminal() {
			s.ray.StopJob(ctx, j.SubmissionID) //nolint:errcheck // best effort; checked below
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	var ended time.Time
	for _, j := range jobs {
		for {
			d, err := s.ray.Job(ctx, j.SubmissionID)
			if errors.Is(err, ray.ErrNotFound) {
				break
			}
			if err == nil && d.Status.Terminal() {
				ended = later(ended, time.UnixMilli(d.EndTime))
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("ray job %s did not stop", j.SubmissionID)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	deleteSettled(t, s.ray, ended, jobIDs(jobs)...)
}

// deleteSettled deletes Ray jobs once their job supervisors have exited: a
// job deleted while its supervisor still exits comes back as a FAILED
// record without metadata.
func deleteSettled(t testing.TB, c *ray.Client, ended time.Time, ids ...string) {
	time.Sleep(time.Until(ended.Add(6 * time.Second)))
	for _, id := range ids {
		if err := c.DeleteJob(context.Background(), id); err != nil && !errors.Is(err, ray.ErrNotFound) {
			t.Logf("delete ray job %s: %v", id, err)
		}
	}
}

func jobIDs(jobs []*ray.JobDetails) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.SubmissionID
	}
	return ids
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nodeOffering returns the ids of the alive Ray nodes that offer (or, with
// offer false, lack) a resource.
func (s *rayStack) nodesWith(t *testing.T, resource string, offer bool) map[string]bool {
	t.Helper()
	nodes, err := s.ray.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, n := range nodes {
		if n.Alive() && (n.Total[resource] > 0) == offer {
			ids[n.ID] = true
		}
	}
	if len(ids) == 0 {
		t.Fatalf("no alive Ray node with %s offered = %v", resource, offer)
	}
	return ids
}

type clusterForTest struct {
	Scheduler struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"scheduler"`
	Nodes []orc.ClusterNode `json:"nodes"`
	Pools []struct {
		orc.PoolStatus
		QueueDepth int `json:"queue_depth"`
	} `json:"pools"`
}

func (s *stack) cluster(t *testing.T) *clusterForTest {
	t.Helper()
	resp := s.do("GET", "/api/v1/cluster", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("cluster: %d %s", resp.status, resp.body)
	}
	var c clusterForTest
	resp.json(t, &c)
	return &c
}

// invokeSync calls a plugin and fails the test unless it answers 200.
func (s *stack) invokeSync(t *testing.T, plugin, input string) *orc.Invocation {
	t.Helper()
	resp := s.do("POST", "/invoke/"+plugin, input)
	if resp.status != http.StatusOK {
		t.Fatalf("invoke %s: %d %s", plugin, resp.status, resp.body)
	}
	return s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal)
}

func (s *stack) invokeAsync(t *testing.T, plugin, input string) string {
	t.Helper()
	return s.invokeAsyncAs(t, s.token, plugin, input)
}

func echoIn(name, pool string, res map[string]any) func(m map[string]any) {
	return func(m map[string]any) {
		m["name"], m["pool"], m["resources"], m["timeout_s"] = name, pool, res, 60
	}
}

// TestRayPlacement: a pool that needs the custom resource runs only on
// the node that offers it; a pool that needs more than any node has stays
// queued with its reason, and no Ray job is submitted for it.
func TestRayPlacement(t *testing.T) {
	s := newRayStack(t)
	s.register(manifest(t, "echo", echoIn("echo-general", "general", map[string]any{"cpu": 0.5, "custom": map[string]any{"general": 0.1}})))
	s.register(manifest(t, "echo", echoIn("echo-accel", "accel", map[string]any{"cpu": 0.5, "custom": map[string]any{"accelerator": 1}})))
	s.register(manifest(t, "echo", echoIn("echo-huge", "huge", map[string]any{"cpu": 1, "custom": map[string]any{"accelerator": 64}})))

	accel := s.nodesWith(t, "accelerator", true)
	general := s.nodesWith(t, "accelerator", false)
	for i := 0; i < 3; i++ {
		inv := s.invokeSync(t, "echo-accel", fmt.Sprintf(`{"i":%d}`, i))
		if inv.Status != orc.StatusSucceeded || !accel[inv.Node] {
			t.Fatalf("echo-accel ran on node %q (status %s); only %v offer accelerator", inv.Node, inv.Status, accel)
		}
		if !strings.HasPrefix(inv.Worker, s.cfg.QueuePrefix+"-worker-accel-") {
			t.Fatalf("echo-accel ran on worker %q, not a Ray replica of pool accel", inv.Worker)
		}
		inv = s.invokeSync(t, "echo-general", fmt.Sprintf(`{"i":%d}`, i))
		if inv.Status != orc.StatusSucceeded || !general[inv.Node] {
			t.Fatalf("echo-general ran on node %q (status %s), want one of %v", inv.Node, inv.Status, general)
		}
	}
	// The replicas read the credentials from their node's file.
	s.noSecretsInRay(t)

	id := s.invokeAsync(t, "echo-huge", `{"big":true}`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := s.cluster(t)
		var state, reason string
		for _, p := range c.Pools {
			if p.Pool == "huge" && p.Unfinished == 1 {
				state, reason = p.State, p.Reason
				if p.QueueDepth != 1 || len(p.Replicas) != 0 {
					t.Fatalf("pool huge: depth %d, replicas %v; want 1, none", p.QueueDepth, p.Replicas)
				}
			}
		}
		if state == orc.PoolUnschedulable {
			if !strings.Contains(reason, "accelerator=64") {
				t.Fatalf("reason %q does not say what is missing", reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool huge is %q (%s), want unschedulable", state, reason)
		}
		time.Sleep(200 * time.Millisecond)
	}
	inv := s.waitFor(id, time.Second, func(*orc.Invocation) bool { return true })
	if inv.Status != orc.StatusQueued || inv.Attempts != 0 {
		t.Fatalf("echo-huge: status %s attempts %d, want queued and never tried", inv.Status, inv.Attempts)
	}
	if !strings.Contains(inv.QueueReason, "accelerator=64") {
		t.Fatalf("the queued invocation's reason is %q, want the pool's", inv.QueueReason)
	}
	// No error loop: Ray was never asked for a replica of pool huge.
	for _, j := range s.jobsOf(t, "worker") {
		if j.Metadata["orc_pool"] == "huge" {
			t.Fatalf("a replica of pool huge was submitted: %s %s", j.SubmissionID, j.Status)
		}
	}
}

// TestRayPooledScaleAndKill: 50 concurrent invocations across two pools
// complete; a replica killed mid-invocation is replaced and its invocation
// completes exactly once.
func TestRayPooledScaleAndKill(t *testing.T) {
	s := newRayStack(t)
	one := func(m map[string]any) { m["min_workers"], m["max_workers"] = 1, 3 }
	s.register(manifest(t, "echo", func(m map[string]any) {
		echoIn("echo-a", "alpha", map[string]any{"cpu": 0.5})(m)
		one(m)
	}))
	s.register(manifest(t, "echo", func(m map[string]any) {
		echoIn("echo-b", "beta", map[string]any{"cpu": 0.5, "custom": map[string]any{"accelerator": 0.5}})(m)
		one(m)
	}))

	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := 0; i < 50; i++ {
		plugin := []string{"echo-a", "echo-b"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := s.do("POST", "/invoke/"+plugin, fmt.Sprintf(`{"sleep_ms":300,"i":%d}`, i))
			if resp.status != http.StatusOK || !strings.Contains(string(resp.body), fmt.Sprintf(`"i":%d`, i)) {
				errs <- fmt.Sprintf("%s #%d: %d %s", plugin, i, resp.status, resp.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	// The burst scaled the pools up beyond their one replica.
	replicas := map[string]int{}
	for _, j := range s.jobsOf(t, "worker") {
		replicas[j.Metadata["orc_pool"]]++
	}
	if replicas["alpha"] < 2 && replicas["beta"] < 2 {
		t.Errorf("replicas after 25 invocations per pool: %v; want a pool scaled past its minimum", replicas)
	}

	// Kill the replica running an invocation.
	id := s.invokeAsync(t, "echo-a", `{"sleep_ms":4000,"n":7}`)
	running := s.waitFor(id, 30*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	waitContainers(t, id, 1)
	out, err := exec.Command("pkill", "-KILL", "-f", "worker --ray-replica.*--id "+running.Worker).CombinedOutput()
	if err != nil {
		t.Fatalf("kill replica %s: %v %s", running.Worker, err, out)
	}
	inv := s.waitFor(id, 90*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || string(inv.Output) != `{"sleep_ms":4000,"n":7}` {
		t.Fatalf("after the kill: %s %+v output %s", inv.Status, inv.Error, inv.Output)
	}
	if inv.Attempts != 2 || inv.Worker == running.Worker {
		t.Fatalf("attempts %d on %s (killed %s); want 2 on another replica", inv.Attempts, inv.Worker, running.Worker)
	}
	waitContainers(t, id, 0)
	// The killed replica's Ray job failed; the pool has replicas again.
	deadline := time.Now().Add(60 * time.Second)
	for {
		alive := 0
		for _, j := range s.jobsOf(t, "worker") {
			if j.Metadata["orc_pool"] == "alpha" && j.Status == ray.JobRunning && j.SubmissionID != running.Worker {
				alive++
			}
		}
		if alive >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool alpha has no running replica 60s after the kill")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if again := s.waitFor(id, time.Second, terminal); again.Attempts != 2 || !again.FinishedAt.Equal(*inv.FinishedAt) {
		t.Fatalf("invocation changed after its result: %+v", again)
	}

	// Scale-down: with nothing left to do, the surplus replicas drain and
	// exit on their own (Ray reports them SUCCEEDED, not stopped).
	deadline = time.Now().Add(60 * time.Second)
	for {
		c := s.cluster(t)
		n := 0
		for _, p := range c.Pools {
			for _, r := range p.Replicas {
				if !r.Draining {
					n++
				}
			}
		}
		if n == 2 && len(s.jobsOf(t, "worker")) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not drain back to one per pool: %+v", c.Pools)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestRayJobExecution: a ray-job invocation is its own Ray job (submission
// id = invocation id) on a node with its resources; the job is deleted once
// the invocation is final; cancel stops it and removes the container.
func TestRayJobExecution(t *testing.T) {
	s := newRayStack(t)
	s.register(manifest(t, "echo", func(m map[string]any) {
		m["name"], m["execution"], m["timeout_s"] = "echo-rj", "ray-job", 120
		m["resources"] = map[string]any{"cpu": 0.5, "custom": map[string]any{"accelerator": 0.5}}
	}))
	accel := s.nodesWith(t, "accelerator", true)

	inv := s.invokeSync(t, "echo-rj", `{"heavy":true}`)
	if inv.Status != orc.StatusSucceeded || string(inv.Output) != `{"heavy":true}` || !accel[inv.Node] {
		t.Fatalf("ray-job invocation: %s on node %q output %s (%+v)", inv.Status, inv.Node, inv.Output, inv.Error)
	}
	j, err := s.ray.Job(context.Background(), inv.ID)
	if err != nil {
		t.Fatalf("the invocation's Ray job: %v", err)
	}
	if j.Status != ray.JobSucceeded || j.Metadata["orc_role"] != "invocation" || j.DriverNodeID != inv.Node {
		t.Fatalf("ray job %s: %s on %s, metadata %v", j.SubmissionID, j.Status, j.DriverNodeID, j.Metadata)
	}
	// Ray's records (which its dashboard shows to anyone who reaches it)
	// hold neither the credentials nor the invocation's input or output:
	// replicas and entrypoints read them on their node.
	s.noSecretsInRay(t, `"heavy"`, `heavy\"`)
	waitRayJobGone(t, s.ray, inv.ID, 30*time.Second)

	// A plugin failure flows back with its message and exit code.
	resp := s.do("POST", "/invoke/echo-rj", `{"fail":"out of cheese","exit_code":3}`)
	if resp.status != http.StatusBadGateway || !strings.Contains(resp.apiError(t).Error.Message, "out of cheese") {
		t.Fatalf("failing ray-job invocation: %d %s", resp.status, resp.body)
	}

	id := s.invokeAsync(t, "echo-rj", `{"sleep_ms":120000}`)
	s.waitFor(id, 30*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	waitContainersWithin(t, id, 1, time.Minute)
	if resp := s.do("POST", "/api/v1/invocations/"+id+"/cancel", nil); resp.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.status, resp.body)
	}
	waitContainers(t, id, 0)
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := s.ray.Job(context.Background(), id)
		if errors.Is(err, ray.ErrNotFound) || (err == nil && j.Status == ray.JobStopped) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canceled invocation's Ray job: %+v %v", j, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if inv := s.waitFor(id, 10*time.Second, terminal); inv.Status != orc.StatusCanceled {
		t.Fatalf("canceled invocation is %s", inv.Status)
	}
	waitRayJobGone(t, s.ray, id, 30*time.Second)
}

// TestRayJobsInFlightAreCapped: with --max-ray-jobs 1, three ray-job
// invocations run one Ray job at a time and all complete.
func TestRayJobsInFlightAreCapped(t *testing.T) {
	s := newRayStack(t, func(c *Config) { c.Scheduler.MaxRayJobs = 1 })
	s.register(manifest(t, "echo", func(m map[string]any) {
		m["name"], m["execution"], m["timeout_s"] = "echo-rj", "ray-job", 60
		m["resources"] = map[string]any{"cpu": 0.5}
	}))
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, s.invokeAsync(t, "echo-rj", fmt.Sprintf(`{"sleep_ms":1500,"i":%d}`, i)))
	}
	most := 0
	deadline := time.Now().Add(90 * time.Second)
	for {
		live := 0
		for _, j := range s.jobsOf(t, "invocation") {
			if !j.Status.Terminal() {
				live++
			}
		}
		most = max(most, live)
		done := 0
		for _, id := range ids {
			if inv := s.waitFor(id, time.Second, func(*orc.Invocation) bool { return true }); inv.Status.Terminal() {
				if inv.Status != orc.StatusSucceeded {
					t.Fatalf("invocation %s: %s %+v", id, inv.Status, inv.Error)
				}
				done++
			}
		}
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d ray-job invocations done after 90s", done, len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if most != 1 {
		t.Fatalf("at most %d Ray jobs of invocations were in flight at once, want 1", most)
	}
}

// TestRaySchedulerHandsOverRayJobs: a scheduler that stops does not wait
// for its ray-job invocations past its drain time, nor stop their Ray jobs:
// it hands their tasks back, releases the lead, and the next scheduler
// attaches to the same Ray job and commits its result.
func TestRaySchedulerHandsOverRayJobs(t *testing.T) {
	s := newRayStack(t, func(c *Config) { c.Scheduler.Drain = 500 * time.Millisecond })
	s.register(manifest(t, "echo", func(m map[string]any) {
		m["name"], m["execution"], m["timeout_s"] = "echo-rj", "ray-job", 120
		m["resources"] = map[string]any{"cpu": 0.5}
	}))
	// Long enough to outlast a slow Ray job start on a busy machine: the
	// run must still be going when the scheduler stops.
	id := s.invokeAsync(t, "echo-rj", `{"sleep_ms":30000,"handed":"over"}`)
	s.waitFor(id, 60*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	waitContainersWithin(t, id, 1, time.Minute)

	s.stopScheduler()
	j, err := s.ray.Job(context.Background(), id)
	if err != nil || j.Status.Terminal() {
		t.Fatalf("after the scheduler stopped, its Ray job is %+v (%v); want it still running", j, err)
	}
	if inv := s.waitFor(id, time.Second, func(*orc.Invocation) bool { return true }); inv.Status.Terminal() {
		t.Fatalf("the invocation ended when its scheduler stopped: %s %+v", inv.Status, inv.Error)
	}

	s.startScheduler()
	inv := s.waitFor(id, 90*time.Second, terminal)
	if inv.Status != orc.StatusSucceeded || !strings.Contains(string(inv.Output), `"handed":"over"`) {
		t.Fatalf("after the handover: %s output %s (%+v)", inv.Status, inv.Output, inv.Error)
	}
	// Had the first scheduler stopped the job, the second would have
	// attached to a stopped job (same submission id) and failed.
}

func waitRayJobGone(t *testing.T, c *ray.Client, id string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, err := c.Job(context.Background(), id)
		if errors.Is(err, ray.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ray job %s not deleted after %s (err %v)", id, limit, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestRayUnreachable: with the Ray head unreachable the gateway still
// accepts async invocations, which wait in their queue, and reports the
// scheduler as degraded.
func TestRayUnreachable(t *testing.T) {
	s := newStack(t, func(c *Config) { c.RayAddress = "http://127.0.0.1:9" }, true) // discard port: nothing answers
	s.register(manifest(t, "echo", nil))
	id := s.invokeAsync(t, "echo", `{"x":1}`)
	if inv := s.waitFor(id, time.Second, func(*orc.Invocation) bool { return true }); inv.Status != orc.StatusQueued {
		t.Fatalf("status %s, want queued", inv.Status)
	}

	resp := s.do("GET", "/readyz", nil)
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	resp.json(t, &ready)
	if resp.status != http.StatusOK || ready.Status != "degraded" || ready.Checks["scheduler"] != "degraded" || ready.Checks["broker"] != "ok" {
		t.Fatalf("readyz: %d %s", resp.status, resp.body)
	}
	if c := s.cluster(t); c.Scheduler.State != "degraded" || !strings.Contains(c.Scheduler.Reason, "unreachable") {
		t.Fatalf("cluster scheduler: %+v", c.Scheduler)
	}

	// The invocation was kept: a worker started later runs it.
	s.startWorker()
	if inv := s.waitFor(id, 30*time.Second, terminal); inv.Status != orc.StatusSucceeded {
		t.Fatalf("after a worker started: %s", inv.Status)
	}
}

// noSecretsInRay fails the test when a Ray job record of this stack (which
// Ray's dashboard shows to anyone who reaches it) holds the stack's
// database or broker credentials, any of also, or an environment variable
// other than the few that hold neither (the task of a ray-job travels as
// its id, its input never).
func (s *rayStack) noSecretsInRay(t *testing.T, also ...string) {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(s.cfg.RayAddress, "/") + "/api/jobs/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var jobs []struct {
		SubmissionID string            `json:"submission_id"`
		Metadata     map[string]string `json:"metadata"`
		RuntimeEnv   struct {
			EnvVars map[string]string `json:"env_vars"`
		} `json:"runtime_env"`
	}
	if err := json.Unmarshal(body, &jobs); err != nil {
		t.Fatalf("Ray's job list: %v", err)
	}
	allowed := map[string]bool{"ORC_ENV_FILE": true, "ORC_QUEUE_PREFIX": true, "ORC_DELIVERY_LIMIT": true, "ORC_LOG_LEVEL": true,
		"ORC_LOG_FORMAT": true, "ORC_RAY_ADDRESS": true, "ORC_HOOK_TIMEOUT": true, "ORC_HOOK_MEMORY_MB": true,
		"ORC_HOOK_CACHE_DIR": true, "DOCKER_HOST": true, ray.TaskIDEnv: true, ray.TaskAttemptEnv: true}
	seen := 0
	for _, j := range jobs {
		if j.Metadata["orc_prefix"] != s.cfg.QueuePrefix {
			continue
		}
		seen++
		for k := range j.RuntimeEnv.EnvVars {
			if !allowed[k] {
				t.Errorf("Ray job %s (%s) carries %s in its environment", j.SubmissionID, j.Metadata["orc_role"], k)
			}
		}
	}
	if seen == 0 {
		t.Fatalf("no Ray job of this stack listed")
	}
	for _, secret := range append([]string{s.cfg.DatabaseURL, s.cfg.AMQPURL, "orc:orc@"}, also...) {
		if strings.Contains(string(body), secret) {
			t.Errorf("Ray's job records hold %q", secret)
		}
	}
}

// TestRayReplicaMetrics: a worker replica on Ray serves its /metrics on a
// port of its node, the gateway's service discovery lists it, and it
// asks for the metrics token, which stays out of Ray's job records.
func TestRayReplicaMetrics(t *testing.T) {
	const token = "scrape-s3cret"
	s := newRayStack(t, func(c *Config) {
		c.MetricsToken = token
		c.Scheduler.MetricsAddr = "127.0.0.1:0"
	})
	s.register(manifest(t, "echo", echoIn("echo-scraped", "general", map[string]any{"cpu": 0.5, "custom": map[string]any{"general": 0.1}})))
	inv := s.invokeSync(t, "echo-scraped", `{"i":1}`)
	if inv.Status != orc.StatusSucceeded {
		t.Fatalf("invoke: %s", inv.Status)
	}
	var target string
	deadline := time.Now().Add(10 * time.Second)
	for target == "" {
		var groups []targetGroupJSON
		s.do("GET", "/api/v1/metrics/targets", nil, "Authorization", "Bearer "+token).json(t, &groups)
		for _, g := range groups {
			if g.Labels["worker"] == inv.Worker && g.Labels["pool"] == "general" && len(g.Targets) == 1 {
				target = g.Targets[0]
			}
		}
		if target == "" && time.Now().After(deadline) {
			t.Fatalf("targets %+v lack the replica %s", groups, inv.Worker)
		}
		time.Sleep(200 * time.Millisecond)
	}
	resp, err := http.Get("http://" + target + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the replica's metrics without the token: %d", resp.StatusCode)
	}
	if got := scrape(t, "http://"+target+"/metrics", token)["orc_invocations_total{plugin=echo-scraped,status=succeeded}"]; got != 1 {
		t.Fatalf("the replica counts %v succeeded invocations of echo-scraped, want 1", got)
	}
	s.noSecretsInRay(t, token)

	// The scheduler serves the metrics of the ray-job invocations.
	if _, ok := scrape(t, "http://"+s.sched.metricsAddr+"/metrics", token)["orc_worker_paused{}"]; !ok {
		t.Fatalf("the scheduler's /metrics lack its runner's")
	}
}
