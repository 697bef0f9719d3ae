package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestMonitoringProfile: Prometheus and Grafana start only with the
// monitoring profile, with the scrape configuration and the dashboard
// that are in deploy/, and the token the Orc processes ask for.
func TestMonitoringProfile(t *testing.T) {
	p := loadCompose(t, "ORC_METRICS_TOKEN=t0ken")
	for _, name := range []string{"prometheus", "grafana"} {
		if _, ok := p.Services[name]; ok {
			t.Errorf("%s starts without the monitoring profile", name)
		}
	}
	if tok := *p.Services["gateway"].Environment["ORC_METRICS_TOKEN"]; tok != "t0ken" {
		t.Errorf("the gateway's metrics token ignores ORC_METRICS_TOKEN: %q", tok)
	}
	if c := p.Configs["metrics-token"]; c.Content != "t0ken" {
		t.Errorf("Prometheus's metrics token ignores ORC_METRICS_TOKEN: %q", c.Content)
	}

	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			Authorization struct {
				CredentialsFile string `json:"credentials_file"`
			} `json:"authorization"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
			HTTPSDConfigs []struct {
				URL           string `json:"url"`
				Authorization struct {
					CredentialsFile string `json:"credentials_file"`
				} `json:"authorization"`
			} `json:"http_sd_configs"`
		} `json:"scrape_configs"`
	}
	b, err := os.ReadFile(filepath.Join("prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
		if sc.Authorization.CredentialsFile != "/etc/prometheus/metrics-token" {
			t.Errorf("job %s scrapes without the metrics token", sc.JobName)
		}
		for _, sd := range sc.HTTPSDConfigs {
			if !strings.HasSuffix(sd.URL, "/api/v1/metrics/targets") || sd.Authorization.CredentialsFile == "" {
				t.Errorf("job %s discovers %s (token file %q), want the gateway's /api/v1/metrics/targets with the token",
					sc.JobName, sd.URL, sd.Authorization.CredentialsFile)
			}
		}
	}
	if !jobs["orc-gateway"] || !jobs["orc-worker"] || !jobs["orc-scheduler"] {
		t.Errorf("prometheus.yml scrapes %v, want orc-gateway, orc-scheduler and orc-worker", jobs)
	}
	if !slices.Contains(p.Services["scheduler"].Command, "--metrics-addr") {
		t.Errorf("the scheduler serves no /metrics for Prometheus's orc-scheduler job")
	}
}

// TestDashboard: deploy/grafana/orc.json is a Grafana dashboard whose
// panels ask the data source variable, and every metric it names is one
// Orc exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("grafana", "orc.json"))
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct{ Type, UID string }
	var d struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct{ Name, Type, Query any }
		} `json:"templating"`
		Panels []struct {
			ID         int         `json:"id"`
			Type       string      `json:"type"`
			Title      string      `json:"title"`
			Datasource *datasource `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("orc.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
		t.Errorf("orc.json: uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct{ Name, Type, Query any }) bool {
		return v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	}) {
		t.Errorf("orc.json has no Prometheus data source variable")
	}
	exported := orcMetrics(t)
	name := regexp.MustCompile(`\borc_[a-z_]+`)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d taken", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %+v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, q := range p.Targets {
			for _, m := range name.FindAllString(q.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				if !exported[base] {
					t.Errorf("panel %q asks for %s, which Orc does not export", p.Title, m)
				}
			}
		}
	}
}

// orcMetrics returns the names of the metrics Orc's Go code declares.
func orcMetrics(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`"(orc_[a-z_]+)"`)
	out := map[string]bool{}
	for _, dir := range []string{"../gateway", "../invoke", "../runtime", "../registry"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range decl.FindAllSubmatch(b, -1) {
				out[string(m[1])] = true
			}
		}
	}
	if !out["orc_invocation_phase_seconds"] {
		t.Fatalf("found no metric declarations (%d names): has the code moved?", len(out))
	}
	return out
}
