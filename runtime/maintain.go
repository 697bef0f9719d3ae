package runtime

import (
	"github.com/orc-gateway/orc"

	"context"
	"time"
)

// Maintenance intervals.
const (
	// MaintainEvery is how often Maintain looks for containers left behind.
	MaintainEvery = 30 * time.Second
	// deadlineGrace is how long past its deadline a container may still run
	// before any worker on its engine kills it.
	deadlineGrace = 30 * time.Second
)

// Maintain kills, every MaintainEvery until ctx ends, the containers that
// outlived their deadline: their worker died or was drained mid-run. Any
// number of workers may run it.
func (w *Worker) Maintain(ctx context.Context) {
	t := time.NewTicker(MaintainEvery)
	defer t.Stop()
	for {
		w.MaintainOnce(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// MaintainOnce does one round of Maintain.
func (w *Worker) MaintainOnce(ctx context.Context) {
	reaper, ok := w.Driver.(orc.Reaper)
	if !ok {
		return
	}
	if err := reaper.ReapExpired(ctx, w.Clock.Now().Add(-deadlineGrace)); err != nil {
		w.Logger.Warn("maintain: reap expired containers", "err", err)
	}
}
