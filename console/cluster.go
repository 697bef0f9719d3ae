package console

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/orc-gateway/orc"
)

// clusterData is GET /api/v1/cluster as the page shows it.
type clusterData struct {
	Scheduler struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"scheduler"`
	Nodes []*orc.ClusterNode `json:"nodes"`
	Pools []struct {
		orc.PoolStatus
		QueueDepth int `json:"queue_depth"`
	} `json:"pools"`
	Workers []*orc.WorkerInfo `json:"workers"`
	// RayDashboard is the Ray dashboard's address, for admins.
	RayDashboard string `json:"-"`
}

// resourceRow is one resource of a node: used of total.
type resourceRow struct {
	Name        string
	Used, Total float64
	Percent     int
	// Shown is "used / total" for people: bytes in GB, the rest as counts.
	Shown string
}

// amount shows a resource amount: memory in GB, counts without noise.
func amount(name string, v float64) string {
	if name == "memory" || name == "object store" {
		return strconv.FormatFloat(v/1e9, 'f', 1, 64) + " GB"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Resources lists a node's resources, the usual ones first.
func resources(n *orc.ClusterNode) []resourceRow {
	var rows []resourceRow
	for name, total := range n.Total {
		if total == 0 || (len(name) > 5 && name[:5] == "node:") {
			continue
		}
		used := n.Used[name]
		shown := name
		if name == "object_store_memory" {
			shown = "object store"
		}
		rows = append(rows, resourceRow{Name: shown, Used: used, Total: total, Percent: int(100 * used / total),
			Shown: amount(shown, used) + " / " + amount(shown, total)})
	}
	order := map[string]int{"CPU": 0, "GPU": 1, "memory": 2}
	slices.SortFunc(rows, func(a, b resourceRow) int {
		oa, ok := order[a.Name]
		if !ok {
			oa = 9
		}
		ob, ok := order[b.Name]
		if !ok {
			ob = 9
		}
		if oa != ob {
			return oa - ob
		}
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return rows
}

// handleCluster shows the Ray nodes with their resources, the pools with
// their state and replicas, and the workers.
func (c *Console) handleCluster(w http.ResponseWriter, r *http.Request) {
	d := &clusterData{}
	if _, err := c.call(r, http.MethodGet, "/api/v1/cluster", nil, d); err != nil {
		c.fail(w, r, err)
		return
	}
	if u := userOf(r); u.Admin() {
		d.RayDashboard = c.cfg.RayDashboard
	}
	c.render(w, r, http.StatusOK, "cluster", &page{Title: "Cluster", Nav: "cluster", Data: d})
}
