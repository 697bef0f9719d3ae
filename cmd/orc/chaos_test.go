package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/scheduler/ray"
)

// The fault suite (make chaos): for each fault, invocations accepted while
// it strikes, and what became of each. It is not part of make test: it
// restarts the broker and the database many times and takes minutes. Set
// ORC_CHAOS=1 to run it; ORC_CHAOS_SCALE (default 1) multiplies the
// counts; -run TestChaos/<fault> picks faults. Everything stays on loopback.

// chaosRow is one line of the report.
type chaosRow struct {
	fault                                         string
	strikes                                       int
	accepted, succeeded, dead, failed, lost, dups int
	recover                                       []time.Duration
	took                                          time.Duration
}

// chaosLoad submits invocations of echo and checks what became of them:
// every accepted one must end, with its own input as its output.
type chaosLoad struct {
	s      *stack
	plugin string

	mu       sync.Mutex
	inputs   map[string]string // id → input
	refused  int               // 503s and connection errors, not accepted
	firstEnd map[string]*orc.Invocation
}

func newChaosLoad(s *stack, plugin string) *chaosLoad {
	return &chaosLoad{s: s, plugin: plugin, inputs: map[string]string{}, firstEnd: map[string]*orc.Invocation{}}
}

// submit sends one invocation (sync or async) and records it if accepted.
// It does not fail the test: faults make refusals expected.
func (l *chaosLoad) submit(i int, sleepMS int, syncCall bool) {
	input := fmt.Sprintf(`{"i":%d,"sleep_ms":%d,"r":%d}`, i, sleepMS, rand.Int64())
	req, _ := http.NewRequest("POST", l.s.gw.URL()+"/invoke/"+l.plugin, strings.NewReader(input))
	req.Header.Set("Authorization", "Bearer "+l.s.token)
	req.Header.Set("Content-Type", "application/json")
	if !syncCall {
		req.Header.Set("Prefer", "respond-async")
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Do(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.refused++
		return
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Orc-Invocation-Id")
	switch {
	case (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusGatewayTimeout) && id != "":
		// A 504 names an invocation that goes on.
		l.inputs[id] = input
	default:
		l.refused++
	}
}

// settle waits until every accepted invocation is final (or limit passes),
// then fills in the row: lost are those still not final, dups those whose
// output is not their input or whose final record changed after it was
// first seen final.
func (l *chaosLoad) settle(t *testing.T, row *chaosRow, limit time.Duration) {
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	l.mu.Lock()
	ids := make([]string, 0, len(l.inputs))
	for id := range l.inputs {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	pending := slices.Clone(ids)
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []string
		for _, id := range pending {
			inv, err := l.s.db.FindInvocation(ctx, id)
			if err == nil && inv.Status.Terminal() {
				l.firstEnd[id] = inv
				continue
			}
			still = append(still, id)
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	time.Sleep(2 * time.Second) // a late duplicate commit would show by now
	row.accepted, row.lost = len(ids), len(pending)
	for _, id := range ids {
		first, ok := l.firstEnd[id]
		if !ok {
			t.Logf("%s: lost: %s never reached a final state", row.fault, id)
			continue
		}
		inv, err := l.s.db.FindInvocation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		switch inv.Status {
		case orc.StatusSucceeded:
			row.succeeded++
			var got, want any
			_ = json.Unmarshal(inv.Output, &got)
			_ = json.Unmarshal([]byte(l.inputs[id]), &want)
			if !reflect.DeepEqual(got, want) {
				row.dups++
				t.Logf("%s: %s answered %s for the input %s", row.fault, id, inv.Output, l.inputs[id])
			}
		case orc.StatusDead:
			row.dead++
		default:
			row.failed++
			t.Logf("%s: %s ended %s: %+v", row.fault, id, inv.Status, inv.Error)
		}
		if inv.Status != first.Status || string(inv.Output) != string(first.Output) || !inv.FinishedAt.Equal(*first.FinishedAt) {
			row.dups++
			t.Logf("%s: %s changed after it was final: %s → %s", row.fault, id, first.Status, inv.Status)
		}
	}
}

// probe measures how long after a fault ended an invocation succeeds.
func (l *chaosLoad) probe(limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		req, _ := http.NewRequest("POST", l.s.gw.URL()+"/invoke/"+l.plugin, strings.NewReader(`{"probe":true}`))
		req.Header.Set("Authorization", "Bearer "+l.s.token)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return limit
}

// steady submits one invocation every interval from a few clients until
// stop is closed.
func (l *chaosLoad) steady(stop <-chan struct{}, clients int, every time.Duration, syncCalls bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(every):
				}
				l.submit(c*1_000_000+i, rand.IntN(300), syncCalls && i%2 == 0)
			}
		}()
	}
	return &wg
}

// chaosScale returns a function that scales a fault's count by
// ORC_CHAOS_SCALE (default 1; 0.1 for a quick look), at least 1.
func chaosScale(t *testing.T) func(int) int {
	if os.Getenv("ORC_CHAOS") == "" {
		t.Skip("the fault suite runs with make chaos (ORC_CHAOS=1)")
	}
	f, err := strconv.ParseFloat(os.Getenv("ORC_CHAOS_SCALE"), 64)
	if err != nil || f <= 0 {
		f = 1
	}
	return func(n int) int { return max(1, int(float64(n)*f+0.5)) }
}

func TestChaos(t *testing.T) {
	scale := chaosScale(t)
	var rows []*chaosRow
	t.Cleanup(func() { printChaos(rows) })
	t.Run("worker kill", func(t *testing.T) { rows = append(rows, chaosWorkerKills(t, scale(100))) })
	t.Run("poison", func(t *testing.T) { rows = append(rows, chaosPoison(t)) })
	t.Run("broker restart", func(t *testing.T) { rows = append(rows, chaosBrokerRestarts(t, scale(20))) })
	t.Run("database restart", func(t *testing.T) { rows = append(rows, chaosDatabaseRestarts(t, scale(20))) })
	t.Run("gateway restart", func(t *testing.T) { rows = append(rows, chaosGatewayRestarts(t, scale(5))) })
	t.Run("ray node", func(t *testing.T) { rows = append(rows, chaosRayNodeKills(t, scale(3))) })
	for _, r := range rows {
		if r.lost > 0 || r.dups > 0 {
			t.Errorf("%s: %d lost, %d duplicated outputs; want 0", r.fault, r.lost, r.dups)
		}
	}
}

func printChaos(rows []*chaosRow) {
	fmt.Println()
	fmt.Println("| fault | strikes | accepted | succeeded | dead-lettered | failed | lost | duplicated outputs | recovery median / max | took |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		med, most := "—", "—"
		if len(r.recover) > 0 {
			slices.Sort(r.recover)
			med = r.recover[len(r.recover)/2].Round(10 * time.Millisecond).String()
			most = r.recover[len(r.recover)-1].Round(10 * time.Millisecond).String()
		}
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %d | %d | %s / %s | %s |\n", r.fault, r.strikes, r.accepted, r.succeeded,
			r.dead, r.failed, r.lost, r.dups, med, most, r.took.Round(time.Second))
	}
}

// chaosWorkerKills kills a worker process with SIGKILL while invocations
// run on it, kills times, and starts another each time.
func chaosWorkerKills(t *testing.T, kills int) *chaosRow {
	row := &chaosRow{fault: "worker `kill -9` mid-run", strikes: kills}
	start := time.Now()
	s := newStack(t, nil, true)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["timeout_s"] = "echo-chaos", 60 }))
	load := newChaosLoad(s, "echo-chaos")
	workers := []*exec.Cmd{s.workerProcess(), s.workerProcess()}
	stop := make(chan struct{})
	// Below the two workers' capacity (two runs each), so that the probe
	// after the last kill measures the recovery, not a backlog.
	wg := load.steady(stop, 1, 250*time.Millisecond, false)
	for k := range kills {
		time.Sleep(time.Duration(800+rand.IntN(700)) * time.Millisecond)
		i := k % len(workers)
		workers[i].Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have died already
		workers[i].Wait()                          //nolint:errcheck // killed
		workers[i] = s.workerProcess()
	}
	close(stop)
	wg.Wait()
	row.recover = append(row.recover, load.probe(2*time.Minute))
	load.settle(t, row, 5*time.Minute)
	row.took = time.Since(start)
	return row
}

// chaosPoison: a task that kills every worker that runs it (the harness
// plays the crash: it kills the worker as soon as the run starts) is
// dead-lettered after the delivery limit, and the other invocations are
// not held up by it.
func chaosPoison(t *testing.T) *chaosRow {
	row := &chaosRow{fault: "poison task (kills its worker)", strikes: 1}
	start := time.Now()
	s := newStack(t, nil, true)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["timeout_s"] = "echo-chaos", 60 }))
	load := newChaosLoad(s, "echo-chaos")
	worker := s.workerProcess()
	resp := s.do("POST", "/invoke/echo-chaos", `{"poison":true,"sleep_ms":60000}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("poison: %d %s", resp.status, resp.body)
	}
	poison := resp.header.Get("X-Orc-Invocation-Id")
	stop := make(chan struct{})
	wg := load.steady(stop, 1, 300*time.Millisecond, false)
	for {
		inv, err := s.db.FindInvocation(context.Background(), poison)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Status.Terminal() {
			if inv.Status != orc.StatusDead {
				t.Errorf("poison task ended %s, want dead", inv.Status)
			} else {
				row.dead++
			}
			break
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("poison task still %s after 5 min", inv.Status)
		}
		if inv.Status == orc.StatusRunning && len(containersOf(t, poison)) > 0 {
			worker.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have died already
			worker.Wait()                          //nolint:errcheck // killed
			worker = s.workerProcess()
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	load.settle(t, row, 3*time.Minute)
	row.accepted++ // the poison task itself
	row.took = time.Since(start)
	return row
}

// chaosBrokerRestarts stops and starts RabbitMQ's application under load.
func chaosBrokerRestarts(t *testing.T, restarts int) *chaosRow {
	row := &chaosRow{fault: "broker restart", strikes: restarts}
	start := time.Now()
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["timeout_s"] = "echo-chaos", 60 }))
	load := newChaosLoad(s, "echo-chaos")
	stop := make(chan struct{})
	wg := load.steady(stop, 3, 200*time.Millisecond, true)
	for range restarts {
		time.Sleep(2 * time.Second)
		rabbitmqctl(t, "stop_app")
		time.Sleep(time.Second)
		rabbitmqctl(t, "start_app")
		row.recover = append(row.recover, load.probe(2*time.Minute))
	}
	close(stop)
	wg.Wait()
	load.settle(t, row, 5*time.Minute)
	row.took = time.Since(start)
	return row
}

// chaosDatabaseRestarts restarts PostgreSQL under load.
func chaosDatabaseRestarts(t *testing.T, restarts int) *chaosRow {
	row := &chaosRow{fault: "PostgreSQL restart", strikes: restarts}
	start := time.Now()
	s := newStack(t, nil, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["timeout_s"] = "echo-chaos", 60 }))
	load := newChaosLoad(s, "echo-chaos")
	out, err := exec.Command("sh", "-c", "ls /usr/lib/postgresql | sort -V | tail -1").Output()
	if err != nil {
		t.Fatal(err)
	}
	ver := strings.TrimSpace(string(out))
	stop := make(chan struct{})
	wg := load.steady(stop, 3, 200*time.Millisecond, true)
	for range restarts {
		time.Sleep(2 * time.Second)
		if out, err := exec.Command("pg_ctlcluster", ver, "main", "restart", "-m", "fast").CombinedOutput(); err != nil {
			t.Fatalf("restart PostgreSQL: %v %s", err, out)
		}
		row.recover = append(row.recover, load.probe(2*time.Minute))
	}
	close(stop)
	wg.Wait()
	load.settle(t, row, 5*time.Minute)
	row.took = time.Since(start)
	return row
}

// chaosGatewayRestarts stops the gateway (as SIGTERM does) while
// synchronous calls are in flight, and starts another on the same address.
func chaosGatewayRestarts(t *testing.T, restarts int) *chaosRow {
	row := &chaosRow{fault: "gateway restart, sync calls in flight", strikes: restarts}
	start := time.Now()
	s := newStack(t, func(c *Config) { c.Gateway.ShutdownDelay = 500 * time.Millisecond }, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"], m["timeout_s"] = "echo-chaos", 60 }))
	load := newChaosLoad(s, "echo-chaos")
	addr := s.gw.URL()
	for range restarts {
		stop := make(chan struct{})
		wg := load.steady(stop, 4, 100*time.Millisecond, true)
		time.Sleep(2 * time.Second)
		if err := s.stopGateway(); err != nil {
			t.Errorf("gateway stop: %v", err)
		}
		close(stop)
		wg.Wait()
		s.restartGateway(addr)
		row.recover = append(row.recover, load.probe(time.Minute))
	}
	load.settle(t, row, 3*time.Minute)
	row.took = time.Since(start)
	return row
}

// chaosRayNodeKills kills, kills times, every process of the Ray node that
// runs a replica of the pool (its raylet and all below it: the replicas,
// their job supervisors, the node's agents), as a machine that dies does,
// and brings the node back with deploy/local/services.sh once Ray has
// seen it die. Recovery is from the kill until a synchronous call succeeds:
// a replica elsewhere takes the work, or the scheduler places one.
func chaosRayNodeKills(t *testing.T, kills int) *chaosRow {
	row := &chaosRow{fault: "a Ray node's processes killed", strikes: kills}
	start := time.Now()
	s := newRayStack(t)
	s.register(manifest(t, "echo", func(m map[string]any) {
		echoIn("echo-chaos", "chaos", map[string]any{"cpu": 0.5})(m)
		m["min_workers"], m["max_workers"], m["timeout_s"] = 2, 3, 60
	}))
	load := newChaosLoad(s.stack, "echo-chaos")
	if d := load.probe(3 * time.Minute); d >= 3*time.Minute {
		t.Fatal("no replica answered within 3 min")
	}
	stop := make(chan struct{})
	wg := load.steady(stop, 1, 250*time.Millisecond, false)
	for range kills {
		time.Sleep(3 * time.Second)
		node := killRayNodeOfReplica(t, s)
		row.recover = append(row.recover, load.probe(3*time.Minute))
		waitRayNodeDead(t, s, node, 2*time.Minute)
		if out, err := exec.Command("../../deploy/local/services.sh").CombinedOutput(); err != nil {
			t.Fatalf("services.sh after the kill: %v\n%s", err, out)
		}
	}
	close(stop)
	wg.Wait()
	load.settle(t, row, 5*time.Minute)
	row.took = time.Since(start)
	return row
}

// killRayNodeOfReplica finds the raylet above a running replica of s and
// kills it and every process below it with SIGKILL. It returns the
// node's Ray id.
func killRayNodeOfReplica(t *testing.T, s *rayStack) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, j := range s.jobsOf(t, "worker") {
			if j.Status != ray.JobRunning {
				continue
			}
			out, _ := exec.Command("pgrep", "-f", "worker --ray-replica.*--id "+j.SubmissionID).Output()
			pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
			if err != nil {
				continue
			}
			raylet := pid
			for raylet > 1 && procName(raylet) != "raylet" {
				raylet = procParent(raylet)
			}
			if raylet <= 1 {
				t.Fatalf("replica %s (pid %d) has no raylet above it", j.SubmissionID, pid)
			}
			node := rayletNodeID(t, raylet)
			tree := procTree(raylet)
			for _, p := range tree {
				syscall.Kill(p, syscall.SIGKILL) //nolint:errcheck // it may have exited already
			}
			t.Logf("killed Ray node %s: raylet %d and %d processes below it (replica %s)", node, raylet, len(tree)-1, j.SubmissionID)
			return node
		}
		if time.Now().After(deadline) {
			t.Fatal("no running replica to kill the node of")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitRayNodeDead waits until Ray reports the node dead.
func waitRayNodeDead(t *testing.T, s *rayStack, node string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		nodes, err := s.ray.Nodes(context.Background())
		if err == nil {
			for _, n := range nodes {
				if n.ID == node && !n.Alive() {
					return
				}
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("Ray still reports node %s alive %s after its processes were killed", node, limit)
}

// procName is the command name of a process, "" if it is gone.
func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// procParent is a process's parent, 0 if it is gone.
func procParent(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces; cut after its ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procTree is root and every process below it.
func procTree(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			children[procParent(pid)] = append(children[procParent(pid)], pid)
		}
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// rayletNodeID reads a raylet's Ray node id from its command line.
func rayletNodeID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "--node-id=")
	if !ok {
		t.Fatalf("raylet %d: no --node-id in its command line", pid)
	}
	return strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == 0 })[0]
}
