package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// samples are the values of a scrape, by name and labels as Prometheus
// writes them (histograms by their _count).
type samples map[string]float64

// scrape reads the /metrics at url with token.
func scrape(t *testing.T, url, token string) samples {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	out := samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name+key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// waitMoved scrapes url until every sample of want moved from before by
// its value (or, for gauges given as absolute, reached it).
func waitMoved(t *testing.T, url, token string, before samples, moved, gauges map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := scrape(t, url, token)
		var wrong []string
		for k, d := range moved {
			if got := after[k] - before[k]; got != d {
				wrong = append(wrong, k+" moved by "+ftoa(got))
			}
		}
		for k, v := range gauges {
			if after[k] != v {
				wrong = append(wrong, k+" = "+ftoa(after[k]))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", url, strings.Join(wrong, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

// scrapeToken is the metrics token of newScrapedStack.
const scrapeToken = "scrape-secret"

// newScrapedStack starts a stack whose processes ask for scrapeToken and
// whose worker serves /metrics on a free port.
func newScrapedStack(t *testing.T) *stack {
	t.Helper()
	return newStack(t, func(c *Config) {
		c.MetricsToken = scrapeToken
		c.Worker.MetricsAddr = "127.0.0.1:0"
	}, false)
}

// One invocation with a pre and a post hook moves the gateway's metrics
// (accepted, latency, publish, pre hook, workers) and the worker's (runs,
// phases, post hook), each scraped with the metrics token.
func TestMetricsOfOneInvocation(t *testing.T) {
	s := newScrapedStack(t)
	s.mustUploadHook("validator", "")
	s.mustUploadHook("redactor", "")
	s.register(echoWithHooks(t, "contacts", "1.0.0", []string{"validator"}, []string{"redactor"}))
	gwURL, wURL := s.gw.URL()+"/metrics", "http://"+s.worker.Config.Worker.MetricsAddr+"/metrics"
	gwBefore, wBefore := scrape(t, gwURL, scrapeToken), scrape(t, wURL, scrapeToken)

	if resp := s.do("POST", "/invoke/contacts", `{"owner": "alice@example.com"}`); resp.status != http.StatusOK {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}

	waitMoved(t, gwURL, scrapeToken, gwBefore, map[string]float64{
		"orc_invocations_accepted_total{mode=sync,plugin=contacts}":                     1,
		"orc_invoke_duration_seconds_count{mode=sync,plugin=contacts,status=succeeded}": 1,
		"orc_publish_seconds_count{result=ok}":                                          1,
		"orc_hook_seconds_count{hook=validator,phase=pre,result=allow}":                 1,
	}, map[string]float64{
		"orc_workers{pool=default,state=running}": 1,
		"orc_queue_depth{pool=default}":           0,
	})
	waitMoved(t, wURL, scrapeToken, wBefore, map[string]float64{
		"orc_invocations_total{plugin=contacts,status=succeeded}":         1,
		"orc_invocation_phase_seconds_count{phase=queue,plugin=contacts}": 1,
		"orc_invocation_phase_seconds_count{phase=cold,plugin=contacts}":  1,
		"orc_invocation_phase_seconds_count{phase=run,plugin=contacts}":   1,
		"orc_hook_seconds_count{hook=redactor,phase=post,result=allow}":   1,
	}, nil)
}

// The gateway lists the live workers' /metrics in Prometheus's http_sd
// format for the metrics token (or an admin), and to no one else; the
// worker's own /metrics asks for the token too.
func TestMetricsTargets(t *testing.T) {
	s := newScrapedStack(t)
	if resp := s.do("GET", "/api/v1/metrics/targets", nil, "Authorization", ""); resp.status != http.StatusUnauthorized {
		t.Fatalf("targets for an anonymous caller: %d %s", resp.status, resp.body)
	}
	dev := s.addUser("targets-dev@example.com", orc.RoleDeveloper)
	if resp := s.do("GET", "/api/v1/metrics/targets", nil, "Authorization", "Bearer "+dev); resp.status != http.StatusForbidden &&
		resp.status != http.StatusUnauthorized || strings.HasPrefix(string(resp.body), "[") {
		t.Fatalf("targets for a developer: %d %s", resp.status, resp.body)
	}
	w := s.worker.Config.Worker
	var groups []targetGroupJSON
	deadline := time.Now().Add(10 * time.Second)
	for {
		groups = nil
		resp := s.do("GET", "/api/v1/metrics/targets", nil, "Authorization", "Bearer "+scrapeToken)
		if resp.status != http.StatusOK {
			t.Fatalf("targets: %d %s", resp.status, resp.body)
		}
		resp.json(t, &groups)
		if len(groups) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(groups) != 1 || len(groups[0].Targets) != 1 || groups[0].Targets[0] != w.MetricsAddr ||
		groups[0].Labels["worker"] != w.ID || groups[0].Labels["pool"] != "default" {
		t.Fatalf("targets = %+v, want the worker %s at %s", groups, w.ID, w.MetricsAddr)
	}
	resp, err := http.Get("http://" + groups[0].Targets[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("worker metrics without the token: %d", resp.StatusCode)
	}
	scrape(t, "http://"+groups[0].Targets[0]+"/metrics", scrapeToken)
	// Its probes stay open.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + groups[0].Targets[0] + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the worker's %s without the token: %d", path, resp.StatusCode)
		}
	}
}

type targetGroupJSON struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

func TestAdvertisedMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		name, listen, host, peer string
		check                    func(string) bool
	}{
		{"given host", "0.0.0.0:9101", "worker-1.example", "", func(a string) bool { return a == "worker-1.example:9101" }},
		{"listen host", "127.0.0.1:9101", "", "", func(a string) bool { return a == "127.0.0.1:9101" }},
		{"the route to the database", "0.0.0.0:9101", "", "127.0.0.1:5432", func(a string) bool { return a == "127.0.0.1:9101" }},
		{"all addresses", "0.0.0.0:9101", "", "", func(a string) bool {
			h, p, err := net.SplitHostPort(a)
			return err == nil && p == "9101" && h != "0.0.0.0" && net.ParseIP(h) != nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, err := net.ResolveTCPAddr("tcp", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			got, err := advertised(addr, tc.host, tc.peer)
			if err != nil || !tc.check(got) {
				t.Fatalf("advertised(%s, %q, %q) = %q, %v", tc.listen, tc.host, tc.peer, got, err)
			}
		})
	}
}

func TestDatabasePeer(t *testing.T) {
	for url, want := range map[string]string{
		"postgres://orc:pw@postgres:5432/orc?sslmode=disable": "postgres:5432",
		"postgres://orc@db.example/orc":                       "db.example:5432",
		"postgres:///orc?host=/run/postgresql":                "",
	} {
		if got := databasePeer(url); got != want {
			t.Errorf("databasePeer(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name, token, auth string
		want              int
	}{
		{"no token asked", "", "", http.StatusOK},
		{"right token", "s3", "Bearer s3", http.StatusOK},
		{"wrong token", "s3", "Bearer s4", http.StatusUnauthorized},
		{"none given", "s3", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/metrics", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			requireToken(tc.token, ok).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}
