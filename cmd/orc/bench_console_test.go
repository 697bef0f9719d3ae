package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

// BenchmarkConsole measures the console with 100,000 invocations in its
// database: the server-side time of the invocations page (a developer's,
// filtered, and an admin's) and of a plugin's page, each beside the API
// call the page makes and /healthz (the floor of an HTTP request to the
// gateway), with each page's size; and the time a new invocation takes to
// reach an open list: from the answer of an asynchronous POST /invoke to
// its event on GET /api/v1/events. See docs/BENCHMARKS.md, "The console".
//
//	go test -run '^$' -bench BenchmarkConsole -benchtime 300x -count 1 ./cmd/orc
func BenchmarkConsole(b *testing.B) {
	s := newStack(b, func(c *Config) {
		c.LogLevel = "warn"
		// The benchmark's client asks faster than a developer may.
		c.Identity.Limits[orc.RoleDeveloper] = identity.Limit{}
	}, false)
	echo := warmEcho(b, "echo", 1, 2, 8)
	echo["public"] = true
	s.register(echo)
	// A plugin whose page has a form built from its schema.
	s.register(manifest(b, "processor", func(m map[string]any) { m["public"] = true }))
	devToken := s.addUser(benchDeveloper, orc.RoleDeveloper)
	start := time.Now()
	n := seedInvocations(b, s, s.userID(benchDeveloper))
	b.Logf("seeded %d invocations in %v", n, time.Since(start).Round(time.Millisecond))
	waitServers(b, s.cfg.QueuePrefix, "echo", "1.0.0", 1, 30*time.Second)

	dev, admin := newConsoleUser(b, s.gw.URL()), newConsoleUser(b, s.gw.URL())
	dev.signIn(benchDeveloper, "password-"+benchDeveloper)
	admin.signIn(adminEmail, adminPassword)
	window := url.Values{"plugin": {"echo"}, "version": {"1.0.0"},
		"since": {time.Now().Add(-28 * 24 * time.Hour).UTC().Format("2006-01-02T15:04")},
		"until": {time.Now().Add(-25 * 24 * time.Hour).UTC().Format("2006-01-02T15:04")}}
	pages := []struct {
		name string
		u    *consoleUser
		path string
	}{
		{"floor=healthz", dev, "/healthz"},
		{"floor=api-invocations/as=developer", dev, "/api/v1/invocations?limit=50"},
		{"console=invocations/as=developer", dev, "/console/invocations"},
		{"floor=api-invocations-filtered/as=developer", dev, "/api/v1/invocations?limit=50&plugin=echo&status=failed"},
		{"console=invocations-filtered/as=developer", dev, "/console/invocations?plugin=echo&status=failed"},
		{"console=invocations-window/as=developer", dev, "/console/invocations?" + window.Encode()},
		{"floor=api-invocations/as=admin", admin, "/api/v1/invocations?limit=50"},
		{"console=invocations/as=admin", admin, "/console/invocations"},
		{"console=invocations-version/as=admin", admin, "/console/invocations?plugin=echo&version=1.0.0"},
		{"floor=api-plugin-versions/as=developer", dev, "/api/v1/plugins/echo/versions"},
		{"console=plugin/as=developer", dev, "/console/plugins/echo"},
		{"console=plugin-form/as=developer", dev, "/console/plugins/example-processor"},
	}
	for _, p := range pages {
		// Once first, untimed: a page that fails fails here.
		if a := p.u.do("GET", p.path, nil); a.status != http.StatusOK {
			b.Fatalf("%s: %d %.300s", p.path, a.status, a.body)
		}
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) { measurePage(b, p.u, p.path) })
	}
	b.Run("live=event-after-answer/as=developer", func(b *testing.B) { measureLive(b, s, devToken) })
}

const benchDeveloper = "bench-dev@example.com"

// benchRows is how many invocations the console benchmark's database holds.
const benchRows = 100_000

// seedInvocations inserts benchRows finished invocations in one statement:
// the last 30 days, one every 26 s, spread over 25 owners (owner the
// first), 12 plugins (echo, the first, most used: a quarter to a third of
// them), three versions of each over time, 86% succeeded and the rest
// failed, timed out, canceled, dead, rejected or expired. None is queued
// or running, so that no sweep acts on them. It returns how many it
// inserted.
func seedInvocations(b *testing.B, s *stack, owner int64) int64 {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.cfg.DatabaseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	owners := []int64{owner}
	for i := 1; i < 25; i++ {
		var id int64
		if err := conn.QueryRow(ctx, `INSERT INTO users (email, role) VALUES ($1, 'developer') RETURNING id`,
			fmt.Sprintf("bench-owner-%d@example.com", i)).Scan(&id); err != nil {
			b.Fatal(err)
		}
		owners = append(owners, id)
	}
	plugins := []string{"echo", "classifier", "example-processor", "sentiment", "resize", "ocr",
		"translate", "summarize", "embed", "detect", "transcribe", "score"}
	if _, err := conn.Exec(ctx, `SELECT setseed(0.42)`); err != nil {
		b.Fatal(err)
	}
	tag, err := conn.Exec(ctx, seedSQL, benchRows, owners, plugins, time.Now())
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE invocations`); err != nil {
		b.Fatal(err)
	}
	return tag.RowsAffected()
}

// seedSQL inserts $1 invocations before $4 for the owners $2 and plugins
// $3, as seedInvocations says.
const seedSQL = `
WITH g AS (
  SELECT i, $4::timestamptz - i * interval '26 seconds' - random() * interval '26 seconds' AS at,
    random() AS rs, random() AS rm,
    floor(random() * cardinality($2::bigint[]))::int + 1 AS o,
    floor(power(random(), 2) * cardinality($3::text[]))::int + 1 AS p
  FROM generate_series(1, $1::int) AS i
), s AS (
  SELECT g.*, CASE
      WHEN rs < 0.86 THEN 'succeeded' WHEN rs < 0.92 THEN 'failed' WHEN rs < 0.94 THEN 'timed_out'
      WHEN rs < 0.96 THEN 'canceled' WHEN rs < 0.97 THEN 'dead' WHEN rs < 0.99 THEN 'rejected'
      ELSE 'expired' END AS status
  FROM g
)
INSERT INTO invocations (id, plugin, version, status, input, output, error_code, error_message, attempts,
  owner_id, async, pool, worker, node, cold_start, queue_ms, cold_ms, run_ms,
  created_at, started_at, finished_at, published_at, dead_listed, dead_at, dead_reason)
SELECT gen_random_uuid(), ($3::text[])[p],
  CASE WHEN i > $1 * 2 / 3 THEN '1.0.0' WHEN i > $1 / 3 THEN '1.1.0' ELSE '2.0.0' END,
  status,
  json_build_object('text', 'the quick brown fox', 'n', i),
  CASE WHEN status = 'succeeded' THEN json_build_object('text', 'the quick brown fox', 'n', i) END,
  CASE WHEN status = 'succeeded' THEN NULL WHEN status = 'failed' THEN 'plugin_failed' ELSE status END,
  CASE WHEN status = 'succeeded' THEN NULL ELSE 'exit status 1: the plugin gave up' END,
  CASE WHEN status = 'rejected' THEN 0 ELSE 1 END,
  ($2::bigint[])[o], rm < 0.3, 'default', 'worker-1', 'node-1', rm < 0.1,
  rm * 20, CASE WHEN rm < 0.1 THEN 180 ELSE 0 END, rm * 300,
  at, CASE WHEN status <> 'rejected' THEN at + interval '20 ms' END, at + interval '400 ms', at,
  status = 'dead', CASE WHEN status = 'dead' THEN at + interval '400 ms' END,
  CASE WHEN status = 'dead' THEN 'delivery_limit' END
FROM s`

// measurePage gets path b.N times, one after the other, and reports the
// latency's p50 and p95 and the size of the answer.
func measurePage(b *testing.B, u *consoleUser, path string) {
	lat := make([]time.Duration, 0, b.N)
	size := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		a := u.do("GET", path, nil)
		lat = append(lat, time.Since(t0))
		if a.status != http.StatusOK {
			b.Fatalf("%s: %d", path, a.status)
		}
		size = len(a.body)
	}
	b.StopTimer()
	reportP95(b, lat, "")
	b.ReportMetric(float64(size), "bytes")
}

// measureLive posts b.N asynchronous invocations of echo, one after the
// other, with an event stream open, and reports the time from each 202
// answer to its invocation's first event (queued), negative when the event
// came first; and from the request to the event, and to the answer.
func measureLive(b *testing.B, s *stack, token string) {
	es, status := s.openEvents(b, token, "")
	if status != http.StatusOK {
		b.Fatalf("events: %d", status)
	}
	defer es.cancel()
	invoke := func() (id string, sent, answered time.Time) {
		sent = time.Now()
		r := s.do("POST", "/invoke/echo", benchInput, "Authorization", "Bearer "+token, "Prefer", "respond-async")
		answered = time.Now()
		if r.status != http.StatusAccepted {
			b.Fatalf("invoke: %d %s", r.status, r.body)
		}
		return r.header.Get("X-Orc-Invocation-Id"), sent, answered
	}
	// The gateway subscribes to events at its first stream: the first
	// invocations' events may come before the subscription is bound.
	for subscribed := false; !subscribed; {
		id, _, _ := invoke()
		subscribed = !es.wait(b, id, 2*time.Second).IsZero()
	}
	afterAnswer := make([]time.Duration, 0, b.N)
	afterRequest := make([]time.Duration, 0, b.N)
	answer := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, sent, answered := invoke()
		at := es.wait(b, id, 5*time.Second)
		if at.IsZero() {
			b.Fatalf("no event for %s in 5 s", id)
		}
		afterAnswer = append(afterAnswer, at.Sub(answered))
		afterRequest = append(afterRequest, at.Sub(sent))
		answer = append(answer, answered.Sub(sent))
	}
	b.StopTimer()
	reportP95(b, afterAnswer, "")
	reportP95(b, afterRequest, "request-to-event-")
	reportP95(b, answer, "request-to-answer-")
}

// wait returns when the first event of invocation id was received, or the
// zero time when none came within limit; other invocations' events are
// skipped.
func (es *eventStream) wait(b *testing.B, id string, limit time.Duration) time.Time {
	deadline := time.After(limit)
	for {
		select {
		case m, ok := <-es.messages:
			if !ok {
				b.Fatal("the event stream ended")
			}
			var e orc.InvocationEvent
			if m.event == "invocation" && json.Unmarshal(m.data, &e) == nil && e.ID == id {
				return m.received
			}
		case <-deadline:
			return time.Time{}
		}
	}
}

// reportP95 reports the p50 and p95 of latencies in milliseconds, their
// units prefixed by prefix.
func reportP95(b *testing.B, lat []time.Duration, prefix string) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), prefix+"p50-ms")
	b.ReportMetric(pct(0.95), prefix+"p95-ms")
	b.ReportMetric(0, "ns/op")
}
