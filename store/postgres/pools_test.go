package postgres_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/store/postgres"
)

// poolVersion is a version of a plugin that edit adjusts before its
// defaults are set, as the gateway does on registration.
func poolVersion(name, v string, edit func(*orc.Version)) *orc.Version {
	ver := &orc.Version{Plugin: name, Version: v, Image: name + ":" + v, Description: "d " + v,
		InputSchema: json.RawMessage(`{"type": "object"}`)}
	if edit != nil {
		edit(ver)
	}
	ver.SetDefaults()
	return ver
}

func intp(n int) *int { return &n }

func TestPoolDemands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	dev := createUser(t, db, "dev@example.com", orc.RoleDeveloper)
	create := func(v *orc.Version) *orc.Version {
		t.Helper()
		created, err := db.CreateVersion(ctx, dev, v)
		if err != nil {
			t.Fatalf("create %s %s: %v", v.Plugin, v.Version, err)
		}
		return created
	}
	invoke := func(v *orc.Version, pool string) *orc.Invocation {
		t.Helper()
		inv, _, err := db.CreateInvocation(ctx, &orc.Invocation{Plugin: v.Plugin, Version: v.Version, VersionID: v.ID,
			Pool: pool, Input: json.RawMessage(`{}`), OwnerID: dev.UserID})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	cancel := func(inv *orc.Invocation) {
		t.Helper()
		if _, err := db.CancelInvocation(ctx, inv.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	// Pool work: two latest versions, the bounds and resources of the
	// larger win.
	small := create(poolVersion("small", "1.0.0", func(v *orc.Version) { v.Pool = "work" }))
	big := create(poolVersion("big", "1.0.0", func(v *orc.Version) {
		v.Pool = "work"
		v.Resources = orc.Resources{CPU: 2, MemoryMB: 2048, Custom: map[string]float64{"accelerator": 1}}
		v.MinWorkers, v.MaxWorkers = intp(2), intp(6)
	}))
	// Pool default is shared (the default policy): its replicas have the
	// policy's size, whatever a version asks.
	greedy := create(poolVersion("greedy", "1.0.0", func(v *orc.Version) {
		v.Resources, v.MinWorkers, v.MaxWorkers = orc.Resources{CPU: 64, MemoryMB: 1 << 20}, intp(100), intp(100)
	}))
	// Pool gpu: a latest version without invocations still has demand.
	create(poolVersion("vision", "1.0.0", func(v *orc.Version) {
		v.Pool, v.Resources.GPU, v.MinWorkers = "gpu", 1, intp(0)
	}))
	// Pool legacy: only an old version, kept by its queued invocation.
	legacy := create(poolVersion("legacy", "1.0.0", func(v *orc.Version) {
		v.Pool, v.Resources = "legacy", orc.Resources{CPU: 8, MemoryMB: 4096}
	}))
	create(poolVersion("legacy", "2.0.0", func(v *orc.Version) { v.Execution = orc.ExecutionRayJob }))
	// Pool retired: an old version whose invocations are all final.
	moved := create(poolVersion("moved", "1.0.0", func(v *orc.Version) { v.Pool, v.Resources.CPU = "retired", 4 }))
	create(poolVersion("moved", "2.0.0", nil))
	// ray-job versions have no worker replicas.
	batch := create(poolVersion("batch", "1.0.0", func(v *orc.Version) { v.Execution = orc.ExecutionRayJob }))

	invoke(small, "work")
	invoke(small, "work")
	running := invoke(big, "work")
	if _, err := db.StartAttempt(ctx, running.ID, "w1", "n1", time.Now()); err != nil {
		t.Fatal(err)
	}
	cancel(invoke(big, "work"))
	invoke(greedy, orc.DefaultPool)
	legacyInv := invoke(legacy, "legacy")
	cancel(invoke(moved, "retired"))
	// A hook routed these to a pool no version names.
	hooked := []*orc.Invocation{invoke(small, "hooked"), invoke(small, "hooked")}
	invoke(batch, orc.RayJobPool)

	demands := func() map[string]*orc.PoolDemand {
		t.Helper()
		list, err := db.PoolDemands(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*orc.PoolDemand{}
		for _, d := range list {
			if out[d.Pool] != nil {
				t.Fatalf("pool %s listed twice", d.Pool)
			}
			out[d.Pool] = d
		}
		return out
	}
	got := demands()
	want := map[string]*orc.PoolDemand{
		"work": {Pool: "work", MinWorkers: 2, MaxWorkers: 6, Unfinished: 3,
			Resources: orc.Resources{CPU: 2, MemoryMB: 2048, Custom: map[string]float64{"accelerator": 1}}},
		"default": {Pool: "default", MinWorkers: orc.DefaultMinWorkers, MaxWorkers: orc.DefaultMaxWorkers, Unfinished: 1,
			Resources: orc.DefaultPolicy().SharedPools[orc.DefaultPool].Resources},
		"gpu": {Pool: "gpu", MinWorkers: 0, MaxWorkers: orc.DefaultMaxWorkers, Unfinished: 0,
			Resources: orc.Resources{CPU: orc.DefaultCPU, MemoryMB: orc.DefaultMemoryMB, GPU: 1}},
		"legacy": {Pool: "legacy", MinWorkers: orc.DefaultMinWorkers, MaxWorkers: orc.DefaultMaxWorkers, Unfinished: 1,
			Resources: orc.Resources{CPU: 8, MemoryMB: 4096}},
		"hooked": {Pool: "hooked", MinWorkers: orc.DefaultMinWorkers, MaxWorkers: orc.DefaultMaxWorkers, Unfinished: 2,
			Resources: orc.Resources{CPU: orc.DefaultCPU, MemoryMB: orc.DefaultMemoryMB}},
	}
	for pool, w := range want {
		t.Run(pool, func(t *testing.T) {
			if !reflect.DeepEqual(got[pool], w) {
				t.Fatalf("demand = %+v, want %+v", got[pool], w)
			}
		})
	}
	for _, pool := range []string{"retired", orc.RayJobPool} {
		t.Run(pool+" has no demand", func(t *testing.T) {
			if d := got[pool]; d != nil {
				t.Fatalf("demand = %+v, want none", d)
			}
		})
	}
	if len(got) != len(want) {
		t.Fatalf("%d pools, want %d: %v", len(got), len(want), got)
	}

	// Once their invocations are final, pools no latest version names go.
	cancel(legacyInv)
	for _, inv := range hooked {
		cancel(inv)
	}
	got = demands()
	if got["legacy"] != nil || got["hooked"] != nil || got["work"] == nil || got["default"] == nil || got["gpu"] == nil {
		t.Fatalf("pools after the invocations ended: %v, want work, default and gpu", got)
	}
	if got["work"].Unfinished != 3 {
		t.Fatalf("work unfinished = %d, want 3", got["work"].Unfinished)
	}

	// A policy that shares work sizes its replicas; one that does not share
	// default lets its versions size it.
	policy := orc.DefaultPolicy()
	policy.SharedPools = map[string]orc.PoolSize{"work": {Resources: orc.Resources{CPU: 0.5, MemoryMB: 256}, MinWorkers: 0, MaxWorkers: 2}}
	if err := db.SetPolicy(ctx, policy); err != nil {
		t.Fatal(err)
	}
	got = demands()
	if w := got["work"]; w.Resources.CPU != 0.5 || w.Resources.MemoryMB != 256 || w.MinWorkers != 0 || w.MaxWorkers != 2 {
		t.Fatalf("shared work: %+v", w)
	}
	if d := got["default"]; d.Resources.CPU != 64 || d.MaxWorkers != 100 {
		t.Fatalf("default, no longer shared: %+v", d)
	}
}

func TestPoolStatuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	at := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	defaultPool := &orc.PoolStatus{Pool: "default", State: orc.PoolWaiting, Reason: "1 worker replica(s) wait for Ray",
		Desired: 2, MinWorkers: 1, MaxWorkers: 4, Unfinished: 5, Resources: orc.Resources{CPU: 1, MemoryMB: 512},
		Replicas: []orc.Replica{
			{ID: "orc-worker-default-1", State: "RUNNING", Node: "n1"},
			{ID: "orc-worker-default-2", State: "PENDING", Message: "waiting for resources"},
			{ID: "orc-worker-default-0", State: "RUNNING", Node: "n2", Draining: true},
		}, UpdatedAt: at}
	gpu := &orc.PoolStatus{Pool: "gpu", State: orc.PoolUnschedulable, Reason: "no Ray node offers cpu=1, memory=512MB, accelerator=64",
		Desired: 1, MinWorkers: 1, MaxWorkers: 1, Resources: orc.Resources{CPU: 1, MemoryMB: 512, Custom: map[string]float64{"accelerator": 64}},
		Replicas: []orc.Replica{}, UpdatedAt: at}
	later := at.Add(2 * time.Second)
	gpuLater := &orc.PoolStatus{Pool: "gpu", State: orc.PoolReady, Desired: 1, MinWorkers: 1, MaxWorkers: 1,
		Resources: orc.Resources{CPU: 1, MemoryMB: 512, Custom: map[string]float64{"accelerator": 4}},
		Replicas:  []orc.Replica{{ID: "orc-worker-gpu-1", State: "RUNNING", Node: "n3"}}, UpdatedAt: later}

	// Each step saves a report and reads it back.
	steps := []struct {
		name string
		save []*orc.PoolStatus
		want []*orc.PoolStatus
	}{
		{"first report, read by pool name", []*orc.PoolStatus{gpu, defaultPool}, []*orc.PoolStatus{defaultPool, gpu}},
		{"saving the same report again", []*orc.PoolStatus{gpu, defaultPool}, []*orc.PoolStatus{defaultPool, gpu}},
		{"a report replaces the last one", []*orc.PoolStatus{gpuLater}, []*orc.PoolStatus{gpuLater}},
		{"an empty report clears it", nil, nil},
		{"a report after an empty one", []*orc.PoolStatus{defaultPool}, []*orc.PoolStatus{defaultPool}},
	}
	for _, step := range steps {
		if err := db.SavePoolStatuses(ctx, step.save); err != nil {
			t.Fatalf("%s: save: %v", step.name, err)
		}
		got, err := db.PoolStatuses(ctx)
		if err != nil {
			t.Fatalf("%s: read: %v", step.name, err)
		}
		if len(got) != len(step.want) {
			t.Fatalf("%s: %d pools, want %d", step.name, len(got), len(step.want))
		}
		for i, w := range step.want {
			g := *got[i]
			if !g.UpdatedAt.Equal(w.UpdatedAt) {
				t.Fatalf("%s: pool %s updated at %v, want %v", step.name, g.Pool, g.UpdatedAt, w.UpdatedAt)
			}
			wc := *w
			g.UpdatedAt, wc.UpdatedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, wc) {
				t.Fatalf("%s: pool %d = %+v\nwant %+v", step.name, i, g, wc)
			}
		}
	}
}

func TestRequestDrainAndHeartbeat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	beat := func(id, pool string, at time.Time) *orc.WorkerInfo {
		t.Helper()
		w := &orc.WorkerInfo{ID: id, Node: "node-" + id, Pool: pool, StartedAt: now.Add(-time.Minute), HeartbeatAt: at}
		if err := db.Heartbeat(ctx, w); err != nil {
			t.Fatalf("heartbeat %s: %v", id, err)
		}
		return w
	}
	listed := func() map[string]*orc.WorkerInfo {
		t.Helper()
		list, err := db.ListWorkers(ctx, now.Add(-48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*orc.WorkerInfo{}
		for _, w := range list {
			out[w.ID] = w
		}
		return out
	}

	beat("running", "default", now)
	beat("bystander", "default", now)
	if err := db.RequestDrain(ctx, "running"); err != nil {
		t.Fatal(err)
	}
	// A replica Ray has not started yet: it must drain once it does.
	if err := db.RequestDrain(ctx, "not-started"); err != nil {
		t.Fatal(err)
	}
	if err := db.RequestDrain(ctx, "not-started"); err != nil {
		t.Fatalf("second drain request: %v", err)
	}
	if _, ok := listed()["not-started"]; ok {
		t.Fatal("a worker that never reported is listed")
	}

	cases := []struct {
		name      string
		id        string
		wantDrain bool
	}{
		{"running worker sees its drain", "running", true},
		{"and keeps seeing it", "running", true},
		{"worker that starts after the request", "not-started", true},
		{"other workers do not drain", "bystander", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := now.Add(time.Duration(i+1) * time.Second)
			w := beat(tc.id, "vision", at)
			if w.Drain != tc.wantDrain {
				t.Fatalf("drain = %v, want %v", w.Drain, tc.wantDrain)
			}
			got := listed()[tc.id]
			if got == nil || got.Pool != "vision" || got.Node != "node-"+tc.id || got.Drain != tc.wantDrain ||
				!got.HeartbeatAt.Equal(at) || !got.StartedAt.Equal(now.Add(-time.Minute)) {
				t.Fatalf("listed as %+v, want pool vision, node node-%s, drain %v, heartbeat %v", got, tc.id, tc.wantDrain, at)
			}
		})
	}

	// A worker silent for a day is forgotten, drain request and all.
	beat("silent", "default", now.Add(-25*time.Hour))
	if err := db.RequestDrain(ctx, "silent"); err != nil {
		t.Fatal(err)
	}
	beat("running", "vision", now.Add(time.Minute))
	if _, ok := listed()["silent"]; ok {
		t.Fatal("a worker silent for a day is still listed")
	}
	if w := beat("silent", "default", now.Add(time.Minute)); w.Drain {
		t.Fatal("a forgotten worker that comes back still drains")
	}
}

func TestTryAdvisoryLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Two handles on one database, like two schedulers.
	url := testenv.DatabaseURL(t)
	open := func() *postgres.DB {
		t.Helper()
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	a, b := open(), open()
	const name = "orc-scheduler:orc"

	tryLock := func(db *postgres.DB, name string) (func(), bool) {
		t.Helper()
		release, ok, err := db.TryAdvisoryLock(ctx, name)
		if err != nil {
			t.Fatalf("lock %s: %v", name, err)
		}
		if ok != (release != nil) {
			t.Fatalf("lock %s: ok %v with release %v", name, ok, release != nil)
		}
		if ok {
			// A handle's Close waits for its connections: release first.
			var once sync.Once
			r := release
			release = func() { once.Do(r) }
			t.Cleanup(release)
		}
		return release, ok
	}

	releaseA, ok := tryLock(a, name)
	if !ok {
		t.Fatal("the first lock was not taken")
	}
	steps := []struct {
		name   string
		db     *postgres.DB
		lock   string
		wantOK bool
	}{
		{"another handle waits", b, name, false},
		{"another connection of the same handle waits", a, name, false},
		{"another name is free", b, name + "-other", true},
	}
	for _, s := range steps {
		release, ok := tryLock(s.db, s.lock)
		if ok != s.wantOK {
			t.Fatalf("%s: ok = %v, want %v", s.name, ok, s.wantOK)
		}
		if ok {
			release()
		}
	}

	releaseA()
	releaseB, ok := tryLock(b, name)
	if !ok {
		t.Fatal("the lock was not free after its release")
	}
	if _, ok := tryLock(a, name); ok {
		t.Fatal("the lock was taken twice after changing hands")
	}
	releaseB()

	// Many schedulers starting at once: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []func()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := a
			if i%2 == 1 {
				db = b
			}
			release, ok, err := db.TryAdvisoryLock(ctx, name)
			if err != nil {
				t.Errorf("racing lock: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, release)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, release := range winners {
		release()
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners among 8 racing schedulers, want 1", len(winners))
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	release, ok, err := a.TryAdvisoryLock(canceled, name)
	if err == nil || ok || release != nil {
		t.Fatalf("lock with a canceled context: ok %v, err %v; want an error", ok, err)
	}
}

// A worker's heartbeat carries its driver's fingerprint; a heartbeat
// before the first fingerprint keeps the one known.
func TestHeartbeatDriver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	id := "driver-" + strconv.FormatInt(now.UnixNano(), 36)
	info := &orc.DriverInfo{Name: "podman", Version: "4.3.1", Healthy: true, Detail: "rootful", External: true}
	for i, d := range []*orc.DriverInfo{info, nil} {
		w := &orc.WorkerInfo{ID: id, Node: "n", Pool: "drivers", StartedAt: now, HeartbeatAt: now.Add(time.Duration(i) * time.Second), Driver: d}
		if err := db.Heartbeat(ctx, w); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListWorkers(ctx, now.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(w *orc.WorkerInfo) bool { return w.ID == id })
		if i < 0 || list[i].Driver == nil || *list[i].Driver != *info {
			t.Fatalf("listed %+v, want driver %+v", list, info)
		}
	}
}
