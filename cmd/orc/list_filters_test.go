package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// TestListInvocationFilters: GET /api/v1/invocations (and the seed's
// /api/v1/jobs, which shares its filters) by version and a window of
// creation times, paged; bad values are 400 naming the parameter; a
// developer's filters never reach another's invocations.
func TestListInvocationFilters(t *testing.T) {
	s := newStack(t, nil, true)
	devA := s.addUser("lf-a@example.com", orc.RoleDeveloper)
	devB := s.addUser("lf-b@example.com", orc.RoleDeveloper)
	aID, bID := s.userID("lf-a@example.com"), s.userID("lf-b@example.com")
	at := func(minutes int) string { return listT0.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339) }
	create := func(owner int64, version string, minutes int) string {
		return s.invocationAt(owner, "lf-echo", version, minutes)
	}
	a1, a2, a3 := create(aID, "1.0.0", 0), create(aID, "2.0.0", 10), create(aID, "1.0.0", 20)
	b1, b2 := create(bID, "1.0.0", 5), create(bID, "1.0.0+build", 15)

	list := func(t *testing.T, token, query string) []string {
		t.Helper()
		r := s.do("GET", "/api/v1/invocations?"+query, nil, "Authorization", "Bearer "+token)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		var page struct {
			Items      []orc.Invocation `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		r.json(t, &page)
		var ids []string
		for _, inv := range page.Items {
			ids = append(ids, inv.ID)
		}
		return ids
	}
	tests := []struct {
		name, token, query string
		want               []string
	}{
		{"version", devA, "plugin=lf-echo&version=1.0.0", []string{a3, a1}},
		{"since", devA, "since=" + url.QueryEscape(at(10)), []string{a3, a2}},
		{"until", devA, "until=" + url.QueryEscape(at(10)), []string{a1}},
		{"window and version", devA, "plugin=lf-echo&version=1.0.0&since=" + url.QueryEscape(at(0)) + "&until=" + url.QueryEscape(at(20)), []string{a1}},
		{"an offset", devA, "since=" + url.QueryEscape("2026-12-01T13:10:00+01:00"), []string{a3, a2}},
		{"fractional seconds", devA, "until=2026-12-01T12:00:00.000001Z", []string{a1}},
		// A developer's list is their own, whatever the filters say.
		{"another's version", devA, "plugin=lf-echo&version=" + url.QueryEscape("1.0.0+build"), nil},
		{"another's window", devA, "since=" + url.QueryEscape(at(15)) + "&until=" + url.QueryEscape(at(16)), nil},
		{"another's owner_id", devA, "owner_id=" + itoa(bID) + "&plugin=lf-echo&version=1.0.0", []string{a3, a1}},
		{"own version with build metadata", devB, "plugin=lf-echo&version=" + url.QueryEscape("1.0.0+build"), []string{b2}},
		{"admin, by owner and version", s.token, "owner_id=" + itoa(bID) + "&plugin=lf-echo&version=1.0.0", []string{b1}},
		{"admin, window", s.token, "since=" + url.QueryEscape(at(5)) + "&until=" + url.QueryEscape(at(15)), []string{a2, b1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(t, tt.token, tt.query); !slices.Equal(got, tt.want) {
				t.Fatalf("%s: got %v, want %v", tt.query, got, tt.want)
			}
		})
	}

	t.Run("paged", func(t *testing.T) {
		// One at a time: each page's cursor, with the same filters, leads
		// to the next, and the pages together are the list.
		filters := "plugin=lf-echo&version=1.0.0&since=" + url.QueryEscape(at(0)) + "&until=" + url.QueryEscape(at(30))
		var got []string
		cursor := ""
		for pages := 0; pages < 5; pages++ {
			r := s.do("GET", "/api/v1/invocations?limit=1&"+filters+cursor, nil)
			var page struct {
				Items      []orc.Invocation `json:"items"`
				NextCursor string           `json:"next_cursor"`
			}
			r.json(t, &page)
			for _, inv := range page.Items {
				got = append(got, inv.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = "&cursor=" + page.NextCursor
		}
		if want := []string{a3, b1, a1}; !slices.Equal(got, want) {
			t.Fatalf("paged: got %v, want %v", got, want)
		}
		// The seed's job list takes the same filters and keeps them in
		// its Link to the next page.
		r := s.do("GET", "/api/v1/jobs?limit=1&"+filters, nil)
		var jobs []struct {
			ID string `json:"id"`
		}
		r.json(t, &jobs)
		next := r.header.Get("Link")
		if len(jobs) != 1 || jobs[0].ID != a3 || !strings.Contains(next, "version=1.0.0") || !strings.Contains(next, "since=") || !strings.Contains(next, "until=") {
			t.Fatalf("jobs: %s, Link %q", r.body, next)
		}
	})

	t.Run("bad values", func(t *testing.T) {
		for _, tt := range []struct{ query, want string }{
			{"version=1.0.0", "version needs plugin"},
			{"plugin=lf-echo&version=1.0.0+build", "send a '+' in a query string as %2B"},
			{"since=yesterday", "since must be a time in RFC 3339 form"},
			{"until=2026-12-01", "until must be a time in RFC 3339 form"},
			{"until=2026-13-01T00:00:00Z", "until must be a time"},
			{"since=2026-12-01T12:00:00+01:00", "send the '+' of an offset as %2B"},
			{"since=2026-12-01T12:00:00Z&until=2026-12-01T11:00:00Z", "until must not be before since"},
			{"since=2026-12-01T12:00:00Z&limit=0", "limit must be between"},
		} {
			for _, path := range []string{"/api/v1/invocations?", "/api/v1/jobs?"} {
				r := s.do("GET", path+tt.query, nil, "Authorization", "Bearer "+devA)
				if r.status != http.StatusBadRequest {
					t.Errorf("%s%s: %d %s", path, tt.query, r.status, r.body)
					continue
				}
				if e := r.apiError(t); e.Error.Code != orc.EINVALID || !strings.Contains(e.Error.Message, tt.want) {
					t.Errorf("%s%s: %s %q, want %q", path, tt.query, e.Error.Code, e.Error.Message, tt.want)
				}
			}
		}
		// Times at the ends of RFC 3339's years are the client's to ask
		// for, and PostgreSQL's to hold: an empty list, not a 500.
		for _, q := range []string{"since=9999-12-31T23:59:59Z", "until=0000-01-01T00:00:00Z"} {
			if got := list(t, devA, q); len(got) != 0 {
				t.Errorf("%s: %v", q, got)
			}
		}
	})
}

// listT0 is when the list tests' invocations start.
var listT0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// invocationAt records a queued invocation of plugin and version, owned
// by owner, created minutes after listT0, and returns its id.
func (s *stack) invocationAt(owner int64, plugin, version string, minutes int) string {
	s.t.Helper()
	inv := &orc.Invocation{Plugin: plugin, Version: version, Input: []byte(`{}`), OwnerID: owner,
		Pool: orc.DefaultPool, CreatedAt: listT0.Add(time.Duration(minutes) * time.Minute)}
	created, _, err := s.db.CreateInvocation(context.Background(), inv)
	if err != nil {
		s.t.Fatal(err)
	}
	return created.ID
}
