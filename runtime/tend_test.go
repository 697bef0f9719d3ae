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

// engineServers is an engine's warm containers, by their labels; ReapServers
// removes those keep refuses.
type engineServers struct {
	fakeServers
	mu         sync.Mutex
	containers []map[string]string
	reaps      int
}

func (e *engineServers) ReapServers(ctx context.Context, keep func(map[string]string) bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reaps++
	e.containers = slices.DeleteFunc(e.containers, func(l map[string]string) bool { return !keep(l) })
	return nil
}

func (e *engineServers) workers() (reaps int, workers []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.containers {
		workers = append(workers, l[LabelWorker])
	}
	return e.reaps, workers
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

	deadline := time.Now().Add(reapSteady + 4*TendEvery)
	for {
		reaps, workers := engine.workers()
		if reaps > 0 {
			if want := []string{"live", "young", "me"}; !slices.Equal(workers, want) {
				t.Fatalf("after the reap the engine runs the containers of %v, want %v", workers, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reap within %s of the start", reapSteady+4*TendEvery)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
