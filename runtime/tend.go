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
	// Heartbeats have a loop of their own: tending (which may wait for a
	// slow model to load) must not silence them, or other workers would
	// take this one for dead and remove its containers.
	beats := make(chan time.Time, 1)
	go func() {
		t := time.NewTicker(TendEvery)
		defer t.Stop()
		for {
			if w.heartbeat(ctx, started) {
				select {
				case beats <- w.Clock.Now():
				default:
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Reaping others' containers waits until this worker has itself been
	// heard for deadAfter: after an outage, the others have had the same
	// time to report.
	var steadySince time.Time
	last := started
	t := time.NewTicker(TendEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case at := <-beats:
			if steadySince.IsZero() || at.Sub(last) > 3*TendEvery {
				steadySince = at
			}
			last = at
		default:
		}
		reap := i%15 == 0 && !steadySince.IsZero() && w.Clock.Now().Sub(steadySince) > deadAfter
		w.tendOnce(ctx, reap)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// heartbeat reports the worker alive and says whether that worked.
func (w *Worker) heartbeat(ctx context.Context, started time.Time) bool {
	if w.Registry == nil {
		return false
	}
	info := &orc.WorkerInfo{ID: w.cfg.ID, Node: w.cfg.Node, Pool: w.cfg.Pool,
		StartedAt: started, HeartbeatAt: w.Clock.Now()}
	if err := w.Registry.Heartbeat(ctx, info); err != nil {
		w.Logger.Warn("heartbeat", "err", err)
		return false
	}
	if info.Drain && w.OnDrain != nil {
		w.drainOnce.Do(func() {
			w.Logger.Info("asked to drain")
			w.OnDrain()
		})
	}
	return true
}

func (w *Worker) tendOnce(ctx context.Context, reap bool) {
	if w.Warm == nil {
		return
	}
	if wv, ok := w.Plugins.(orc.WarmVersions); ok {
		keep, err := wv.WarmVersions(ctx, w.cfg.Pool)
		if err != nil {
			// Without the list, changing nothing is safer than treating
			// every version as cold.
			w.Logger.Warn("list warm versions", "err", err)
			return
		}
		w.Warm.Tend(ctx, keep)
	}
	if reap && w.Registry != nil {
		w.reapOrphanServers(ctx, w.Clock.Now())
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
