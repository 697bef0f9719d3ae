package invoke

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// markStore records the publish marks it is asked to write.
type markStore struct {
	orc.InvocationService
	mu      sync.Mutex
	batches [][]string
}

func (m *markStore) MarkPublished(_ context.Context, ids ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches = append(m.batches, append([]string(nil), ids...))
	return nil
}

func (m *markStore) marked() [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]string(nil), m.batches...)
}

func TestPublishMarksAreBatched(t *testing.T) {
	store := &markStore{}
	s := New(Config{}, nil)
	s.Invocations = store
	for i := range 3 {
		s.markPublished(fmt.Sprint("inv-", i))
	}
	if got := store.marked(); len(got) != 0 {
		t.Fatalf("marks written before their delay: %v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(store.marked()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := store.marked()
	if len(got) != 1 || len(got[0]) != 3 || got[0][0] != "inv-0" || got[0][2] != "inv-2" {
		t.Fatalf("batches = %v, want one of three", got)
	}

	// More than a batch holds, flushed at shutdown without waiting.
	for i := range markBatch + 5 {
		s.markPublished(fmt.Sprint("more-", i))
	}
	s.Flush(context.Background())
	got = store.marked()
	if len(got) != 3 || len(got[1]) != markBatch || len(got[2]) != 5 {
		t.Fatalf("after flush: %d batches, want 3 (1, %d, 5 ids)", len(got), markBatch)
	}
	time.Sleep(markDelay + 50*time.Millisecond)
	if n := len(store.marked()); n != 3 {
		t.Fatalf("a stopped timer still wrote: %d batches", n)
	}
}
