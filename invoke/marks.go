package invoke

import (
	"context"
	"sync"
	"time"
)

// Batches of publish marks.
const (
	// markDelay is how long a publish mark waits for others to share its
	// statement. A synchronous call usually ends within it, and its mark
	// then changes nothing: the mark never contends with the worker's
	// writes to the same row.
	markDelay = 200 * time.Millisecond
	// markBatch caps the invocations of one statement.
	markBatch = 1000
)

// publishMarks records, in batches and off the answer's path, that the
// broker confirmed tasks. A mark lost in a crash only means that a worker
// queues the invocation once more after a minute; that copy finds it
// started or done.
type publishMarks struct {
	mu      sync.Mutex
	pending []string
	timer   *time.Timer // set while a flush is scheduled
	writing sync.Mutex  // held while batches are written
}

// markPublished schedules the publish mark of an invocation.
func (s *Service) markPublished(id string) {
	m := &s.marks
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = append(m.pending, id)
	if m.timer == nil {
		m.timer = time.AfterFunc(markDelay, func() { s.flushMarks(context.Background()) })
	}
}

// flushMarks writes the pending publish marks, after any batch still being
// written.
func (s *Service) flushMarks(ctx context.Context) {
	m := &s.marks
	m.writing.Lock()
	defer m.writing.Unlock()
	m.mu.Lock()
	ids := m.pending
	m.pending, m.timer = nil, nil
	m.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), markBatch)
		s.writeMarks(ctx, ids[:n])
		ids = ids[n:]
	}
}

// writeMarks writes the publish marks of ids in one statement. A failure
// is logged: a lost mark costs one extra delivery, nothing more.
func (s *Service) writeMarks(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Invocations.MarkPublished(ctx, ids...); err != nil {
		s.Logger.WarnContext(ctx, "mark invocations queued", "invocations", len(ids), "invocation_id", ids[0], "err", err)
	}
}

// Flush writes the publish marks still waiting, without waiting for their
// timer, and returns once they and any batch being written are done. Call
// it when the gateway stops, after its last request.
func (s *Service) Flush(ctx context.Context) {
	m := &s.marks
	m.mu.Lock()
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	m.mu.Unlock()
	s.flushMarks(ctx)
}
