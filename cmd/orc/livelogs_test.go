package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// TestLiveLogsTenancy: a developer who goes after another's invocation's
// log lines gets none of them — not by its id (in any spelling), not by a
// wildcard of the broker's routing keys, not on the stream of everything
// he may see, nor on the stream of an invocation of his own — while its
// owner and an admin see them as they are written.
func TestLiveLogsTenancy(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, false)
	s.register(echoManifest(t, "echo-live", true))
	alice := s.addUser("alice-live@example.com", orc.RoleDeveloper)
	bob := s.addUser("bob-live@example.com", orc.RoleDeveloper)

	// Bob watches everything he may see, and an invocation of his own that
	// runs at the same time as alice's.
	bobAll, _ := s.openEvents(t, bob, "")
	bobID := s.invokeAsyncAs(t, bob, "echo-live", `{"sleep_ms":6000,"log_lines":6}`)
	bobOwn, status := s.openEvents(t, bob, "?invocation="+bobID)
	if status != http.StatusOK {
		t.Fatalf("bob's stream of his own invocation: %d", status)
	}
	aliceAll, _ := s.openEvents(t, alice, "")

	id := s.invokeAsyncAs(t, alice, "echo-live", `{"sleep_ms":4000,"log_lines":8,"secret":"alice's"}`)
	for name, query := range map[string]string{
		"her id":                "?invocation=" + id,
		"her id in capitals":    "?invocation=" + strings.ToUpper(id),
		"her id as a URN":       "?invocation=urn:uuid:" + id,
		"her id and his own":    "?invocation=" + bobID + "&invocation=" + id,
		"a wildcard":            "?invocation=" + url.QueryEscape("#"),
		"a one-word wildcard":   "?invocation=*",
		"a routing key":         "?invocation=" + url.QueryEscape("invocation.log."+id),
		"a key with a wildcard": "?invocation=" + url.QueryEscape("invocation.log.#"),
	} {
		if es, status := s.openEvents(t, bob, query); status == http.StatusOK {
			es.cancel()
			t.Errorf("%s: bob's stream opened (%d)", name, status)
		} else if status != http.StatusNotFound && status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 404 (or 400)", name, status)
		}
	}

	aliceLive, status := s.openEvents(t, alice, "?invocation="+id)
	if status != http.StatusOK {
		t.Fatalf("alice's stream of her invocation: %d", status)
	}
	adminLive, status := s.openEvents(t, s.token, "?invocation="+id)
	if status != http.StatusOK {
		t.Fatalf("the admin's stream of alice's invocation: %d", status)
	}
	for name, es := range map[string]*eventStream{"alice": aliceLive, "admin": adminLive} {
		lines, final := es.liveLines(t, id, 60*time.Second)
		if final != orc.StatusSucceeded {
			t.Fatalf("%s's stream: the invocation ended %q", name, final)
		}
		if len(lines) == 0 {
			t.Fatalf("%s's stream: no log line before the invocation ended", name)
		}
		for _, l := range lines {
			if l.Stream != "stderr" || !strings.HasPrefix(l.Line, "echo: log line ") || !strings.HasSuffix(l.Line, " of 8") {
				t.Errorf("%s's stream: line %+v, want one of echo's stderr lines (never the output on stdout)", name, l)
			}
		}
	}

	// The stored log, written when the invocation ended, has every line.
	var page struct{ Lines []orc.LogLine }
	s.do("GET", "/api/v1/invocations/"+id+"/logs", nil).json(t, &page)
	var stored int
	for _, l := range page.Lines {
		if l.Stream == "stderr" && strings.HasPrefix(l.Line, "echo: log line ") {
			stored++
		}
	}
	if stored != 8 {
		t.Errorf("the stored log has %d of echo's 8 lines: %+v", stored, page.Lines)
	}

	// Bob's streams, and alice's stream of everything, carried no log line
	// of alice's invocation; the streams of everything carry none at all.
	s.waitFor(bobID, 30*time.Second, terminal)
	var bobsLines int
	for name, es := range map[string]*eventStream{"bob's stream of everything": bobAll,
		"alice's stream of everything": aliceAll, "bob's stream of his own invocation": bobOwn} {
		deadline := time.After(2 * time.Second)
		for {
			var e orc.InvocationEvent
			var l orc.LogEvent
			kind := es.next(deadline, &e, &l)
			if kind == "" {
				break
			}
			if kind == "log" && (l.ID != bobID || es != bobOwn) {
				t.Errorf("%s carried log lines of %s: %+v", name, l.ID, l)
			} else if kind == "log" {
				bobsLines += len(l.Lines)
			}
			if kind == "invocation" && e.ID == id && es != aliceAll {
				t.Errorf("%s carried alice's invocation: %+v", name, e)
			}
		}
	}
	if bobsLines == 0 {
		t.Error("bob's stream of his own invocation carried none of its lines")
	}
}

// invokeAsyncAs invokes a plugin asynchronously with a user's token and
// returns the invocation's id.
func (s *stack) invokeAsyncAs(t *testing.T, token, plugin, input string) string {
	t.Helper()
	resp := s.do("POST", "/invoke/"+plugin, input, "Authorization", "Bearer "+token, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke %s: %d %s", plugin, resp.status, resp.body)
	}
	return resp.header.Get("X-Orc-Invocation-Id")
}

// liveLines reads an invocation's stream until its final status and
// returns the log lines that came before it, and that status ("" when the
// limit passed first). The lines must all be of the invocation.
func (es *eventStream) liveLines(t *testing.T, id string, limit time.Duration) ([]orc.LiveLine, orc.Status) {
	t.Helper()
	deadline := time.After(limit)
	var lines []orc.LiveLine
	for {
		var e orc.InvocationEvent
		var l orc.LogEvent
		switch es.next(deadline, &e, &l) {
		case "":
			return lines, ""
		case "log":
			if l.ID != id || l.Attempt < 1 {
				t.Errorf("a log event of %s (attempt %d) on the stream of %s", l.ID, l.Attempt, id)
			}
			lines = append(lines, l.Lines...)
		case "invocation":
			if e.ID != id {
				t.Errorf("an event of %s on the stream of %s", e.ID, id)
			}
			if e.Status.Terminal() {
				return lines, e.Status
			}
		}
	}
}
