package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// eventStream reads GET /api/v1/events as a client would.
type eventStream struct {
	messages chan sseMessage
	cancel   context.CancelFunc
}

// sseMessage is one server-sent event: its name and data, and when its
// data line was read.
type sseMessage struct {
	event    string
	data     []byte
	received time.Time
}

func (s *stack) openEvents(t testing.TB, token, query string) (*eventStream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gw.URL()+"/api/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	es := &eventStream{messages: make(chan sseMessage, 1000), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		event := "message"
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				event = name
			} else if data, ok := strings.CutPrefix(line, "data: "); ok {
				es.messages <- sseMessage{event: event, data: []byte(data), received: time.Now()}
			} else if line == "" {
				event = "message"
			}
		}
		close(es.messages)
	}()
	t.Cleanup(cancel)
	return es, http.StatusOK
}

// next returns the stream's next invocation or log event, decoded into
// one of e and l, and its name; "" when the stream ended or the limit
// passed first.
func (es *eventStream) next(deadline <-chan time.Time, e *orc.InvocationEvent, l *orc.LogEvent) string {
	for {
		select {
		case m, ok := <-es.messages:
			if !ok {
				return ""
			}
			var err error
			switch m.event {
			case "invocation":
				*e = orc.InvocationEvent{}
				err = json.Unmarshal(m.data, e)
			case "log":
				*l = orc.LogEvent{}
				err = json.Unmarshal(m.data, l)
			default:
				continue
			}
			if err == nil {
				return m.event
			}
		case <-deadline:
			return ""
		}
	}
}

// statuses collects the statuses of one invocation's events until it is
// final or the limit passes.
func (es *eventStream) statuses(id string, limit time.Duration) []orc.Status {
	var got []orc.Status
	deadline := time.After(limit)
	for {
		var e orc.InvocationEvent
		switch es.next(deadline, &e, &orc.LogEvent{}) {
		case "":
			return got
		case "invocation":
			if e.ID == id {
				got = append(got, e.Status)
				if e.Status.Terminal() {
					return got
				}
			}
		}
	}
}

// TestEventStream: a new invocation and its status changes reach the
// event streams of its owner and of admins, never another user's; a user
// may hold only so many streams.
func TestEventStream(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(echoManifest(t, "echo-ev", true))
	alice, bob := s.addUser("alice-ev@example.com", orc.RoleDeveloper), s.addUser("bob-ev@example.com", orc.RoleDeveloper)
	aliceEvents, _ := s.openEvents(t, alice, "")
	bobEvents, _ := s.openEvents(t, bob, "")
	adminEvents, _ := s.openEvents(t, s.token, "?plugin=echo-ev")
	otherPlugin, _ := s.openEvents(t, s.token, "?plugin=something-else")

	resp := s.do("POST", "/invoke/echo-ev", `{"sleep_ms":300}`, "Authorization", "Bearer "+alice, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	id := resp.header.Get("X-Orc-Invocation-Id")
	want := []orc.Status{orc.StatusQueued, orc.StatusRunning, orc.StatusSucceeded}
	for name, es := range map[string]*eventStream{"owner": aliceEvents, "admin": adminEvents} {
		if got := es.statuses(id, 30*time.Second); strings.Join(statusNames(got), ",") != strings.Join(statusNames(want), ",") {
			t.Errorf("%s's stream: %v, want %v", name, got, want)
		}
	}
	for name, es := range map[string]*eventStream{"another user": bobEvents, "another plugin": otherPlugin} {
		if got := es.statuses(id, time.Second); len(got) != 0 {
			t.Errorf("%s's stream saw %v", name, got)
		}
	}

	// Streams per user are capped (alice holds one already).
	for i := 1; i < 8; i++ {
		if _, status := s.openEvents(t, alice, ""); status != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, status)
		}
	}
	if _, status := s.openEvents(t, alice, ""); status != http.StatusTooManyRequests {
		t.Errorf("a ninth stream: %d, want 429", status)
	}
}

func statusNames(ss []orc.Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
