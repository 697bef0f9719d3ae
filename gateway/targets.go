package gateway

import (
	"net/http"
	"sort"
)

// targetGroup is one group of Prometheus's HTTP service discovery
// (http_sd_configs): addresses to scrape and the labels they get.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// handleMetricsTargets serves GET /api/v1/metrics/targets: the /metrics
// of every worker heard from within workersSeen that serves one, in
// Prometheus's http_sd format, so that worker replicas Ray places on any
// node, on ports they pick, are scraped where they run.
func (s *Server) handleMetricsTargets(w http.ResponseWriter, r *http.Request) {
	groups := []targetGroup{}
	for _, wk := range s.liveWorkers(r.Context()) {
		if wk.MetricsAddr == "" {
			continue
		}
		groups = append(groups, targetGroup{
			Targets: []string{wk.MetricsAddr},
			Labels:  map[string]string{"pool": wk.Pool, "worker": wk.ID, "node": wk.Node},
		})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Labels["worker"] < groups[j].Labels["worker"] })
	writeJSON(w, http.StatusOK, groups)
}
