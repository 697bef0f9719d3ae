package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// TestStats: GET /api/v1/stats counts each minute's invocations and their
// latency, everyone's for admins and one's own for others; the pools'
// samples are for those who may see the cluster, and the first sample of
// a minute stays.
func TestStats(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(echoManifest(t, "echo-st", true))
	dev := s.addUser("st-dev@example.com", orc.RoleDeveloper)
	inv := s.addUser("st-inv@example.com", orc.RoleInvoker)

	for _, body := range []string{`{"sleep_ms":200}`, `{"sleep_ms":300}`, `{"fail":"no"}`} {
		s.do("POST", "/invoke/echo-st", body)
	}
	if r := s.do("POST", "/invoke/echo-st", `{"x":1}`, "Authorization", "Bearer "+dev); r.status != http.StatusOK {
		t.Fatalf("the developer's call: %d %s", r.status, r.body)
	}

	type answer struct {
		Minutes []orc.MinuteStats `json:"minutes"`
		Total   orc.MinuteStats   `json:"total"`
		Pools   []orc.PoolSample  `json:"pools"`
	}
	var all answer
	s.do("GET", "/api/v1/stats", nil).json(t, &all)
	if all.Total.Invocations != 4 || all.Total.Succeeded != 3 || all.Total.Failed != 1 || len(all.Minutes) == 0 {
		t.Errorf("the admin's totals: %+v over %d minutes", all.Total, len(all.Minutes))
	}
	if all.Total.P50MS < 100 || all.Total.P95MS < all.Total.P50MS {
		t.Errorf("latency: p50 %.1f ms, p95 %.1f ms", all.Total.P50MS, all.Total.P95MS)
	}
	sum := 0
	for _, m := range all.Minutes {
		sum += m.Invocations
	}
	if sum != 4 {
		t.Errorf("the minutes hold %d invocations, want 4", sum)
	}
	var mine answer
	s.do("GET", "/api/v1/stats?minutes=5", nil, "Authorization", "Bearer "+dev).json(t, &mine)
	if mine.Total.Invocations != 1 || mine.Total.Failed != 0 {
		t.Errorf("the developer sees %+v, want their one call", mine.Total)
	}

	// The pools: sampled now (a gateway samples at start, then once a
	// minute), the live worker counted; a minute keeps the most of each
	// count over its samples.
	s.gw.Server.SamplePools(context.Background())
	now := time.Now().UTC().Truncate(time.Minute)
	sample := []*orc.PoolSample{{At: now, Pool: orc.DefaultPool, Queued: 7}}
	if err := s.db.SavePoolSamples(context.Background(), sample, now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.do("GET", "/api/v1/stats?minutes=2", nil).json(t, &all)
	var found bool
	for _, p := range all.Pools {
		if p.Pool == orc.DefaultPool && p.At.Equal(now) {
			found = true
			if p.Workers < 1 || p.Queued != 7 {
				t.Errorf("the default pool's sample: %+v", p)
			}
		}
	}
	if !found {
		t.Errorf("no sample of the default pool this minute: %+v", all.Pools)
	}
	if r := s.do("GET", "/api/v1/stats", nil, "Authorization", "Bearer "+inv); r.status != http.StatusOK || strings.Contains(string(r.body), `"pools"`) {
		t.Errorf("an invoker's stats: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"0", "1441", "x", "-5"} {
		if r := s.do("GET", "/api/v1/stats?minutes="+bad, nil); r.status != http.StatusBadRequest {
			t.Errorf("minutes=%s: %d", bad, r.status)
		}
	}
}
