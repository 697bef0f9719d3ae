package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/orc-gateway/orc"
)

// EventSource delivers the invocation events of the installation, and the
// log events of the invocations this gateway follows (rabbitmq.Broker).
type EventSource interface {
	OnEvent(h func(*orc.InvocationEvent))
	OnLogs(h func(*orc.LogEvent))
	// FollowLogs makes the log events of an invocation reach OnLogs's
	// handler until stop is called.
	FollowLogs(ctx context.Context, id string) (stop func(), err error)
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
// each filtered by what its principal may see, and the log events of an
// invocation to the streams that follow it.
type hub struct {
	in   chan message
	find func(ctx context.Context, id string) (*orc.Invocation, error)
	src  EventSource
	once sync.Once

	mu      sync.Mutex
	streams map[*stream]struct{}
	perUser map[int64]int
	// follows are the streams of each invocation followed here.
	follows map[string]map[*stream]struct{}
	// owners remembers the owner, plugin and version of recent
	// invocations, for the events that do not carry them.
	owners map[string]orc.InvocationEvent
	order  []string
}

// message is what the hub passes on: an invocation event or a log event.
type message struct {
	event *orc.InvocationEvent
	logs  *orc.LogEvent
}

type stream struct {
	p      *orc.Principal
	plugin string
	// invocation, when set, is the one invocation the stream carries, with
	// its log events; owner is its owner, whom p may see.
	invocation string
	owner      int64
	ch         chan message
	closed     chan struct{}
	once       sync.Once
}

func (st *stream) close() { st.once.Do(func() { close(st.closed) }) }

func newHub(find func(ctx context.Context, id string) (*orc.Invocation, error), src EventSource) *hub {
	h := &hub{in: make(chan message, 4096), find: find, src: src, streams: map[*stream]struct{}{},
		perUser: map[int64]int{}, follows: map[string]map[*stream]struct{}{}, owners: map[string]orc.InvocationEvent{}}
	go h.run()
	return h
}

// deliver takes an event from the broker; it never blocks.
func (h *hub) deliver(e *orc.InvocationEvent) { h.take(message{event: e}) }

// deliverLogs takes a log event from the broker; it never blocks.
func (h *hub) deliverLogs(e *orc.LogEvent) { h.take(message{logs: e}) }

// take queues a message for run; one in the order the broker gave them,
// so that an invocation's last lines come before its final status.
func (h *hub) take(m message) {
	select {
	case h.in <- m:
	default:
	}
}

func (h *hub) run() {
	for m := range h.in {
		if m.logs != nil {
			h.fanLogs(m.logs)
			continue
		}
		e := m.event
		h.mu.Lock()
		n := len(h.streams)
		h.mu.Unlock()
		if !h.complete(e, n > 0) {
			continue
		}
		h.mu.Lock()
		for st := range h.streams {
			if !st.p.CanSee(e.OwnerID) || (st.plugin != "" && st.plugin != e.Plugin) ||
				(st.invocation != "" && st.invocation != e.ID) {
				continue
			}
			st.send(m)
		}
		h.mu.Unlock()
	}
}

// fanLogs sends a log event to the streams that follow its invocation,
// and to no other: a stream follows only an invocation its principal may
// see.
func (h *hub) fanLogs(e *orc.LogEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.follows[e.ID] {
		if st.invocation == e.ID && st.p.CanSee(st.owner) {
			st.send(message{logs: e})
		}
	}
}

// send passes m to the stream, or closes a stream too slow to take it: it
// reconnects and reads afresh. The caller holds h.mu.
func (st *stream) send(m message) {
	select {
	case st.ch <- m:
	default:
		st.close()
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
	h.once.Do(func() {
		h.src.OnLogs(h.deliverLogs)
		h.src.OnEvent(h.deliver)
	})
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

// follow makes the log events of a stream's invocation reach it, until
// the returned func is called.
func (h *hub) follow(ctx context.Context, st *stream) (func(), error) {
	stop, err := h.src.FollowLogs(ctx, st.invocation)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.follows[st.invocation] == nil {
		h.follows[st.invocation] = map[*stream]struct{}{}
	}
	h.follows[st.invocation][st] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if delete(h.follows[st.invocation], st); len(h.follows[st.invocation]) == 0 {
			delete(h.follows, st.invocation)
		}
		h.mu.Unlock()
		stop()
	}, nil
}

// handleEvents is GET /api/v1/events: a server-sent event stream of the
// invocations the caller may see (its own; an admin's, all), each time one
// is created or changes status, optionally of one plugin (?plugin=); or of
// one invocation (?invocation=), which starts with its status and carries
// its log lines while it runs. Events are hints: read the invocation for
// its state.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.hub == nil {
		s.error(w, r, orc.Errorf(orc.ENOTFOUND, "no such route"))
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	st, err := s.eventStream(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.hub.add(st); err != nil {
		s.error(w, r, err)
		return
	}
	defer s.hub.remove(st)
	var now *orc.InvocationEvent
	if st.invocation != "" {
		unfollow, err := s.hub.follow(r.Context(), st)
		if err != nil {
			s.error(w, r, err)
			return
		}
		defer unfollow()
		// Read once the stream follows it: what changes from here on
		// comes as an event, and the first event says where it stands.
		inv, err := s.visibleInvocation(r.Context(), st.invocation)
		if err != nil {
			s.error(w, r, err)
			return
		}
		now = &orc.InvocationEvent{ID: inv.ID, Status: inv.Status, Plugin: inv.Plugin, Version: inv.Version,
			OwnerID: inv.OwnerID, At: s.Clock.Now()}
	}
	rc := http.NewResponseController(w)
	// A stream outlives any write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	if now != nil {
		writeEvent(w, message{event: now})
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case m := <-st.ch:
			writeEvent(w, m)
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

// eventStream is the stream a request asks for. An invocation it names
// must be one the caller may see: another user's is not found, as
// everywhere.
func (s *Server) eventStream(r *http.Request) (*stream, error) {
	q := r.URL.Query()
	st := &stream{p: orc.PrincipalFromContext(r.Context()), plugin: q.Get("plugin"),
		ch: make(chan message, streamBuffer), closed: make(chan struct{})}
	id := q.Get("invocation")
	if len(q["invocation"]) > 1 || (id != "" && st.plugin != "") {
		return nil, orc.Errorf(orc.EINVALID, "invocation names one invocation, without plugin")
	}
	if id != "" {
		inv, err := s.visibleInvocation(r.Context(), id)
		if err != nil {
			return nil, err
		}
		// The stored id, not the one asked for: it names the invocation
		// to the broker.
		st.invocation, st.owner = inv.ID, inv.OwnerID
	}
	return st, nil
}

// writeEvent writes a message as a server-sent event: "invocation" or
// "log", with its JSON (which escapes every line break) as data.
func writeEvent(w io.Writer, m message) {
	name, v := "invocation", any(m.event)
	if m.logs != nil {
		name, v = "log", m.logs
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
}
