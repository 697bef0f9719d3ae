package invoke

import (
	"sync"

	"github.com/orc-gateway/orc"
)

// waiters routes replies from workers to the synchronous calls waiting for
// them. Several calls may wait for one invocation (idempotent retries).
type waiters struct {
	mu sync.Mutex
	m  map[string][]chan *orc.Reply
}

// add registers a waiter for an invocation. Call the returned func when done.
func (ws *waiters) add(id string) (<-chan *orc.Reply, func()) {
	ch := make(chan *orc.Reply, 1)
	ws.mu.Lock()
	if ws.m == nil {
		ws.m = make(map[string][]chan *orc.Reply)
	}
	ws.m[id] = append(ws.m[id], ch)
	ws.mu.Unlock()
	return ch, func() {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		list := ws.m[id]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(ws.m, id)
		} else {
			ws.m[id] = list
		}
	}
}

// deliver hands a reply to every waiter of its invocation, never blocking.
func (ws *waiters) deliver(r *orc.Reply) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, ch := range ws.m[r.InvocationID] {
		select {
		case ch <- r:
		default:
		}
	}
}
