package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orc-gateway/orc"
)

// EngineCheckEvery is how often a worker asks its container engine whether
// it answers (the driver's Fingerprint).
const EngineCheckEvery = 2 * time.Second

// errEngineDown ends the attempts of a worker whose container engine
// stopped answering: their tasks go back to the queue for a worker whose
// engine works, rather than fail.
var errEngineDown = fmt.Errorf("the container engine is unavailable: %w", orc.ErrHandedBack)

// engine is what the worker knows of its container engine. A worker takes
// tasks only while it is up: one whose engine is down hands its tasks back
// instead of failing its share of all traffic.
type engine struct {
	mu     sync.Mutex
	down   string          // why it is down; "" while up
	info   *orc.DriverInfo // the last fingerprint
	lost   chan struct{}   // closed when it goes down
	back   chan struct{}   // closed when it comes back
	probes int             // fingerprints asked (tests)
}

func newEngine() *engine {
	return &engine{lost: make(chan struct{}), back: make(chan struct{})}
}

// set records a check's outcome and reports whether the state changed.
func (e *engine) set(down string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.probes++
	if (e.down == "") == (down == "") {
		e.down = down
		return false
	}
	e.down = down
	if down != "" {
		close(e.lost)
		e.back = make(chan struct{})
	} else {
		close(e.back)
		e.lost = make(chan struct{})
	}
	return true
}

// Paused returns why the worker takes no tasks ("" when it takes them):
// its container engine does not answer.
func (w *Worker) Paused() string {
	w.engine.mu.Lock()
	defer w.engine.mu.Unlock()
	return w.engine.down
}

// DriverInfo returns the driver's last fingerprint, nil before the first.
func (w *Worker) DriverInfo() *orc.DriverInfo {
	w.engine.mu.Lock()
	defer w.engine.mu.Unlock()
	return w.engine.info
}

// EngineUp returns a channel closed once the engine answers (at once when
// it does), and EngineLost one closed when it stops answering: the worker
// consumes between the two.
func (w *Worker) EngineUp() <-chan struct{} {
	w.engine.mu.Lock()
	defer w.engine.mu.Unlock()
	if w.engine.down == "" {
		c := make(chan struct{})
		close(c)
		return c
	}
	return w.engine.back
}

// EngineLost returns a channel closed when the engine stops answering.
func (w *Worker) EngineLost() <-chan struct{} {
	w.engine.mu.Lock()
	defer w.engine.mu.Unlock()
	if w.engine.down != "" {
		c := make(chan struct{})
		close(c)
		return c
	}
	return w.engine.lost
}

// WatchEngine asks the driver every EngineCheckEvery whether its engine
// answers, until ctx ends, and pauses the worker while it does not. A
// driver that cannot say is taken as up.
func (w *Worker) WatchEngine(ctx context.Context) {
	fp, ok := w.Driver.(orc.Fingerprinter)
	if !ok {
		return
	}
	t := time.NewTicker(EngineCheckEvery)
	defer t.Stop()
	for {
		w.checkEngine(ctx, fp)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (w *Worker) checkEngine(ctx context.Context, fp orc.Fingerprinter) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	info, err := fp.Fingerprint(cctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if info != nil {
		w.engine.mu.Lock()
		w.engine.info = info
		w.engine.mu.Unlock()
	}
	down := ""
	if err != nil {
		down = "the container engine does not answer"
		if orc.ErrorCode(err) != orc.EUNAVAILABLE && !errors.Is(err, context.DeadlineExceeded) {
			down = "the container engine fails: " + orc.ErrorMessage(err)
		}
	}
	if !w.engine.set(down) {
		return
	}
	if down != "" {
		w.metrics.paused.Set(1)
		w.Logger.Warn("worker paused: it takes no tasks until its container engine answers", "err", err)
		return
	}
	w.metrics.paused.Set(0)
	w.Logger.Info("worker resumed: its container engine answers")
}

// retryEngine is retry for a call to the container engine: while the
// engine is known down (or once it goes down) it gives up with
// errEngineDown, so that the task goes back to the queue at once.
func (w *Worker) retryEngine(ctx context.Context, log *slog.Logger, op string, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		if w.Paused() != "" {
			return errEngineDown
		}
		err := f()
		if orc.ErrorCode(err) != orc.EUNAVAILABLE {
			return err
		}
		log.Warn("container engine unavailable; trying again", "op", op, "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-w.EngineLost():
			return errEngineDown
		case <-ctx.Done():
			return err
		}
		wait = min(wait*2, w.cfg.RetryMax)
	}
}
