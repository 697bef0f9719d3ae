package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// fakeSource is an EventSource whose events the test delivers.
type fakeSource struct {
	mu      sync.Mutex
	events  func(*orc.InvocationEvent)
	logs    func(*orc.LogEvent)
	follows map[string]int
}

func (f *fakeSource) OnEvent(h func(*orc.InvocationEvent)) { f.mu.Lock(); f.events = h; f.mu.Unlock() }
func (f *fakeSource) OnLogs(h func(*orc.LogEvent))         { f.mu.Lock(); f.logs = h; f.mu.Unlock() }

func (f *fakeSource) FollowLogs(_ context.Context, id string) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.follows[id]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.follows[id]--
	}, nil
}

func (f *fakeSource) following(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.follows[id]
}

// TestHubLogs: an invocation's log lines reach the streams that follow it
// and whose principal may see it — its owner's, an admin's — and no
// other: not the streams of everything, not the stream of another
// invocation, not a stream that follows an invocation its principal may
// not see. Lines and statuses of one invocation keep their order.
func TestHubLogs(t *testing.T) {
	src := &fakeSource{follows: map[string]int{}}
	h := newHub(func(context.Context, string) (*orc.Invocation, error) {
		return nil, errors.New("every event here names its owner")
	}, src)
	alice := &orc.Principal{UserID: 1, Role: orc.RoleDeveloper}
	bob := &orc.Principal{UserID: 2, Role: orc.RoleDeveloper}
	admin := &orc.Principal{UserID: 3, Role: orc.RoleAdmin}
	newStream := func(p *orc.Principal, invocation string, owner int64) *stream {
		st := &stream{p: p, invocation: invocation, owner: owner, ch: make(chan message, 16), closed: make(chan struct{})}
		if err := h.add(st); err != nil {
			t.Fatal(err)
		}
		if invocation != "" {
			unfollow, err := h.follow(context.Background(), st)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(unfollow)
		}
		return st
	}
	streams := map[string]*stream{
		"alice's of a":              newStream(alice, "a", 1),
		"the admin's of a":          newStream(admin, "a", 1),
		"bob's of b":                newStream(bob, "b", 2),
		"bob's of everything":       newStream(bob, "", 0),
		"the admin's of everything": newStream(admin, "", 0),
		// The handler never makes one: bob may not see a.
		"bob's of alice's a": newStream(bob, "a", 1),
	}
	want := map[string][]string{
		"alice's of a":              {"log a", "invocation a"},
		"the admin's of a":          {"log a", "invocation a"},
		"bob's of b":                {"log b", "invocation b"},
		"bob's of everything":       {"invocation b"},
		"the admin's of everything": {"invocation a", "invocation b"},
		"bob's of alice's a":        nil,
	}

	line := []orc.LiveLine{{Stream: "stderr", Line: "epoch 1"}}
	src.logs(&orc.LogEvent{ID: "a", Attempt: 1, Lines: line})
	src.events(&orc.InvocationEvent{ID: "a", Status: orc.StatusSucceeded, OwnerID: 1})
	src.logs(&orc.LogEvent{ID: "b", Attempt: 1, Lines: line})
	src.events(&orc.InvocationEvent{ID: "b", Status: orc.StatusSucceeded, OwnerID: 2})
	src.logs(&orc.LogEvent{ID: "c", Attempt: 1, Lines: line}) // followed by nobody here
	src.events(&orc.InvocationEvent{ID: "end", Status: orc.StatusQueued, OwnerID: 3})

	// The admin's stream of everything sees every event: once it has the
	// last, the hub has passed everything on.
	deadline := time.After(5 * time.Second)
	var adminAll []string
	for len(adminAll) == 0 || adminAll[len(adminAll)-1] != "invocation end" {
		select {
		case m := <-streams["the admin's of everything"].ch:
			adminAll = append(adminAll, describe(m))
		case <-deadline:
			t.Fatalf("the admin's stream of everything got %q", adminAll)
		}
	}
	for name, st := range streams {
		got := drain(st)
		if name == "the admin's of everything" {
			got = adminAll[:len(adminAll)-1]
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s: %q, want %q", name, got, want[name])
		}
	}
	if n := src.following("a"); n != 3 {
		t.Errorf("a is followed %d times, want 3", n)
	}
}

// TestHubUnfollow: a stream that ends stops following, and the hub
// forgets it.
func TestHubUnfollow(t *testing.T) {
	src := &fakeSource{follows: map[string]int{}}
	h := newHub(nil, src)
	st := &stream{p: &orc.Principal{UserID: 1}, invocation: "a", owner: 1, ch: make(chan message, 1), closed: make(chan struct{})}
	unfollow, err := h.follow(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	unfollow()
	if n := src.following("a"); n != 0 {
		t.Errorf("a still followed %d times", n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.follows) != 0 {
		t.Errorf("the hub still knows followers: %v", h.follows)
	}
}

func describe(m message) string {
	if m.logs != nil {
		return "log " + m.logs.ID
	}
	return "invocation " + m.event.ID
}

func drain(st *stream) []string {
	var got []string
	for {
		select {
		case m := <-st.ch:
			got = append(got, describe(m))
		default:
			return got
		}
	}
}
