package runtime

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// engineServers is an engine's warm containers, by their labels, in the
// order they were started; ListServers lists them and StopServer removes one.
type engineServers struct {
	fakeServers
	mu         sync.Mutex
	containers []map[string]string
	lists      int
}

func (e *engineServers) ListServers(ctx context.Context) ([]orc.PluginServer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lists++
	var list []orc.PluginServer
	for i, l := range e.containers {
		if l != nil {
			list = append(list, orc.PluginServer{ID: strconv.Itoa(i), Labels: l})
		}
	}
	return list, nil
}

func (e *engineServers) StopServer(ctx context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, _ := strconv.Atoi(id)
	e.containers[i] = nil
	return nil
}

// workers returns the workers whose containers run, and how many times the
// engine was listed.
func (e *engineServers) workers() (lists int, workers []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.containers {
		if l != nil {
			workers = append(workers, l[LabelWorker])
		}
	}
	return e.lists, workers
}

// liveWorkers answers heartbeats and lists the same live workers.
type liveWorkers struct{ live []*orc.WorkerInfo }

func (r *liveWorkers) Heartbeat(ctx context.Context, w *orc.WorkerInfo) error { return nil }
func (r *liveWorkers) ListWorkers(ctx context.Context, since time.Time) ([]*orc.WorkerInfo, error) {
	return r.live, nil
}

// A worker that starts removes the warm containers a dead worker left on
// its engine as soon as it has been heard for a few heartbeats, with no
// other worker running: not only once it has run a minute. It keeps those
// of live workers, of workers too young to have reported, and its own.
func TestTendReapsOrphansAtStart(t *testing.T) {
	t.Parallel()
	now := time.Now()
	started := func(d time.Duration) string { return strconv.FormatInt(now.Add(-d).Unix(), 10) }
	engine := &engineServers{containers: []map[string]string{
		{LabelWorker: "dead", LabelWorkerStarted: started(2 * time.Hour)},
		{LabelWorker: "dead-unlabelled"},
		{LabelWorker: "live", LabelWorkerStarted: started(2 * time.Hour)},
		{LabelWorker: "young", LabelWorkerStarted: started(10 * time.Second)},
		{LabelWorker: "me", LabelWorkerStarted: started(0)},
	}}
	w := NewWorker(Config{ID: "me", Node: "n", Pool: "default"}, nil)
	w.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	w.Registry = &liveWorkers{live: []*orc.WorkerInfo{{ID: "live"}}}
	w.Warm = NewWarm(WarmConfig{}, engine, w.Logger)
	t.Cleanup(w.Warm.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Tend(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The reap stops what it refuses after it listed: wait for the
	// engine to settle on the containers it keeps.
	want := []string{"live", "young", "me"}
	deadline := time.Now().Add(reapSteady + 4*TendEvery)
	for {
		lists, workers := engine.workers()
		if lists > 0 && slices.Equal(workers, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listings within %s of the start; the engine runs the containers of %v, want %v",
				lists, reapSteady+4*TendEvery, workers, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
