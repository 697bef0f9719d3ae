package runtime

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

// Heartbeat timing.
const (
	// TendEvery is how often a worker reports itself alive and tends its
	// warm pools.
	TendEvery = 2 * time.Second
	// deadAfter is how long a worker may stay silent before the others
	// remove its warm containers.
	deadAfter = time.Minute
)

// Tend reports the worker alive and keeps its warm pools (min_warm, idle
// timeout) every TendEvery until ctx ends; every so often it also removes
// the warm containers of workers that stopped reporting.
func (w *Worker) Tend(ctx context.Context) {
	started := w.Clock.Now()
	t := time.NewTicker(TendEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		w.tendOnce(ctx, started, i%15 == 0)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (w *Worker) tendOnce(ctx context.Context, started time.Time, reap bool) {
	now := w.Clock.Now()
	if w.Registry != nil {
		err := w.Registry.Heartbeat(ctx, &orc.WorkerInfo{ID: w.cfg.ID, Node: w.cfg.Node, Pool: w.cfg.Pool,
			StartedAt: started, HeartbeatAt: now})
		if err != nil {
			w.Logger.Warn("heartbeat", "err", err)
		}
	}
	if w.Warm == nil {
		return
	}
	var keep []*orc.Version
	if wv, ok := w.Plugins.(orc.WarmVersions); ok {
		list, err := wv.WarmVersions(ctx, w.cfg.Pool)
		if err != nil {
			w.Logger.Warn("list warm versions", "err", err)
		}
		keep = list
	}
	w.Warm.Tend(ctx, keep)
	if reap && w.Registry != nil {
		w.reapOrphanServers(ctx, now)
	}
}

// reapOrphanServers removes the warm containers on this engine whose
// worker stopped reporting (it was killed and cannot stop them).
func (w *Worker) reapOrphanServers(ctx context.Context, now time.Time) {
	live, err := w.Registry.ListWorkers(ctx, now.Add(-deadAfter))
	if err != nil {
		w.Logger.Warn("list live workers", "err", err)
		return
	}
	alive := map[string]bool{w.cfg.ID: true}
	for _, l := range live {
		alive[l.ID] = true
	}
	err = w.Warm.Servers.ReapServers(ctx, func(labels map[string]string) bool {
		return alive[labels["orc.worker"]]
	})
	if err != nil {
		w.Logger.Warn("remove orphaned plugin servers", "err", err)
	}
}
