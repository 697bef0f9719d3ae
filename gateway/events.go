package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/orc-gateway/orc"
)

// EventSource delivers the invocation events of the installation
// (rabbitmq.Broker.OnEvent).
type EventSource interface {
	OnEvent(h func(*orc.InvocationEvent))
}

// Limits of the event streams: per user and for the whole gateway, and
// how many events may wait for one slow stream before it is closed (the
// client reconnects and reads the list again).
const (
	maxStreamsPerUser = 8
	maxStreams        = 1000
	streamBuffer      = 256
	streamPing        = 15 * time.Second
	// ownersKept bounds the memory of which invocation belongs to whom.
	ownersKept = 100_000
)

// hub fans invocation events out to the event streams of this gateway,
// each filtered by what its principal may see.
type hub struct {
	in        chan *orc.InvocationEvent
	find      func(ctx context.Context, id string) (*orc.Invocation, error)
	subscribe func(h func(*orc.InvocationEvent))
	once      sync.Once

	mu      sync.Mutex
	streams map[*stream]struct{}
	perUser map[int64]int
	// owners remembers the owner, plugin and version of recent
	// invocations, for the events that do not carry them.
	owners map[string]orc.InvocationEvent
	order  []string
}

type stream struct {
	p      *orc.Principal
	plugin string
	ch     chan *orc.InvocationEvent
	closed chan struct{}
	once   sync.Once
}

func (st *stream) close() { st.once.Do(func() { close(st.closed) }) }

func newHub(find func(ctx context.Context, id string) (*orc.Invocation, error), subscribe func(h func(*orc.InvocationEvent))) *hub {
	h := &hub{in: make(chan *orc.InvocationEvent, 4096), find: find, subscribe: subscribe, streams: map[*stream]struct{}{},
		perUser: map[int64]int{}, owners: map[string]orc.InvocationEvent{}}
	go h.run()
	return h
}

// deliver takes an event from the broker; it never blocks.
func (h *hub) deliver(e *orc.InvocationEvent) {
	select {
	case h.in <- e:
	default:
	}
}

func (h *hub) run() {
	for e := range h.in {
		h.mu.Lock()
		n := len(h.streams)
		h.mu.Unlock()
		if !h.complete(e, n > 0) {
			continue
		}
		h.mu.Lock()
		for st := range h.streams {
			if !st.p.CanSee(e.OwnerID) || (st.plugin != "" && st.plugin != e.Plugin) {
				continue
			}
			select {
			case st.ch <- e:
			default:
				st.close() // too slow: it reconnects and reads afresh
			}
		}
		h.mu.Unlock()
	}
}

// complete fills in the owner, plugin and version of an event that does
// not carry them, from memory or (when anyone listens) the database. It
// reports whether the event can be sent.
func (h *hub) complete(e *orc.InvocationEvent, listened bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.OwnerID != 0 {
		if _, ok := h.owners[e.ID]; !ok {
			h.order = append(h.order, e.ID)
			if len(h.order) > ownersKept {
				delete(h.owners, h.order[0])
				h.order = h.order[1:]
			}
		}
		h.owners[e.ID] = orc.InvocationEvent{OwnerID: e.OwnerID, Plugin: e.Plugin, Version: e.Version}
		return true
	}
	if known, ok := h.owners[e.ID]; ok {
		e.OwnerID, e.Plugin, e.Version = known.OwnerID, known.Plugin, known.Version
		return true
	}
	if !listened {
		return false
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	inv, err := h.find(ctx, e.ID)
	cancel()
	h.mu.Lock()
	if err != nil {
		return false
	}
	e.OwnerID, e.Plugin, e.Version = inv.OwnerID, inv.Plugin, inv.Version
	return true
}

func (h *hub) add(st *stream) error {
	h.once.Do(func() { h.subscribe(h.deliver) })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) >= maxStreams {
		return &orc.Error{Code: orc.ERATELIMIT, Message: "too many event streams on this gateway; try again later", RetryAfter: 10 * time.Second}
	}
	if h.perUser[st.p.UserID] >= maxStreamsPerUser {
		return &orc.Error{Code: orc.ERATELIMIT, Message: fmt.Sprintf("at most %d event streams per user; close one", maxStreamsPerUser), RetryAfter: 10 * time.Second}
	}
	h.streams[st] = struct{}{}
	h.perUser[st.p.UserID]++
	return nil
}

func (h *hub) remove(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.streams[st]; !ok {
		return
	}
	delete(h.streams, st)
	if h.perUser[st.p.UserID]--; h.perUser[st.p.UserID] <= 0 {
		delete(h.perUser, st.p.UserID)
	}
}

// handleEvents is GET /api/v1/events: a server-sent event stream of the
// invocations the caller may see (its own; an admin's, all), each time one
// is created or changes status, optionally of one plugin (?plugin=).
// Events are hints: read the invocation for its state.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.hub == nil {
		s.error(w, r, orc.Errorf(orc.ENOTFOUND, "no such route"))
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	st := &stream{p: orc.PrincipalFromContext(r.Context()), plugin: r.URL.Query().Get("plugin"),
		ch: make(chan *orc.InvocationEvent, streamBuffer), closed: make(chan struct{})}
	if err := s.hub.add(st); err != nil {
		s.error(w, r, err)
		return
	}
	defer s.hub.remove(st)
	rc := http.NewResponseController(w)
	// A stream outlives any write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case e := <-st.ch:
			b, err := json.Marshal(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "event: invocation\ndata: %s\n\n", b)
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-st.closed:
			return
		case <-s.drained:
			return
		case <-r.Context().Done():
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
