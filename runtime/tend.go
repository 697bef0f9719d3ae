package runtime

import (
	"context"
	"strconv"
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
	// reapSteady is how long a worker must itself have been heard before it
	// removes others' warm containers: after an outage of the database,
	// live workers report again within a heartbeat, and must have had the
	// chance to.
	reapSteady = 3 * TendEvery
	// reapEvery is how many tend rounds pass between two reaps.
	reapEvery = 15
)

// Labels of the warm containers a worker starts (set on Warm.Labels).
const (
	LabelWorker        = "orc.worker"         // the worker's id
	LabelWorkerStarted = "orc.worker-started" // when it started (Unix seconds)
)

// Tend reports the worker alive and keeps its warm pools (min_warm, idle
// timeout) every TendEvery until ctx ends. Once it has been heard for
// reapSteady, and every reapEvery rounds after, it also removes the warm
// containers of its installation on its engine whose workers stopped
// reporting (killed, or stopped with the engine down): so a worker that
// starts cleans up after one that died, whether or not another runs.
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
	var steadySince, reaped time.Time
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
		now := w.Clock.Now()
		reap := !steadySince.IsZero() && now.Sub(steadySince) >= reapSteady && now.Sub(reaped) >= reapEvery*TendEvery
		if reap {
			reaped = now
		}
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
		StartedAt: started, HeartbeatAt: w.Clock.Now(), Paused: w.Paused(),
		MetricsAddr: w.cfg.MetricsAddr, Driver: w.DriverInfo()}
	if w.Warm != nil {
		info.Warm = w.Warm.Total()
	}
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
	servers, err := w.Warm.Servers.ListServers(ctx)
	if err != nil {
		w.Logger.Warn("list plugin servers", "err", err)
		return
	}
	n := 0
	for _, s := range servers {
		// A worker that started within deadAfter may not have reported
		// yet: its containers stay.
		if at, err := strconv.ParseInt(s.Labels[LabelWorkerStarted], 10, 64); err == nil && now.Sub(time.Unix(at, 0)) < deadAfter {
			continue
		}
		if alive[s.Labels[LabelWorker]] {
			continue
		}
		if err := w.Warm.Servers.StopServer(ctx, s.ID); err != nil {
			w.Logger.Warn("remove orphaned plugin server", "server", s.ID, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		w.Logger.Info("removed orphaned plugin servers", "count", n)
	}
}
