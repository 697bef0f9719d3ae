package runtime

import (
	"github.com/prometheus/client_golang/prometheus"
)

var warmDesc = prometheus.NewDesc("orc_worker_warm_containers",
	"Warm containers this worker keeps, by plugin and version.", []string{"plugin", "version"}, nil)

// Collector returns a collector of the worker's warm containers by
// version, read at scrape time.
func (w *Warm) Collector() prometheus.Collector { return warmCollector{w} }

type warmCollector struct{ w *Warm }

func (c warmCollector) Describe(ch chan<- *prometheus.Desc) { ch <- warmDesc }

func (c warmCollector) Collect(ch chan<- prometheus.Metric) {
	c.w.mu.Lock()
	pools := make([]*pool, 0, len(c.w.pools))
	for _, p := range c.w.pools {
		pools = append(pools, p)
	}
	c.w.mu.Unlock()
	// Two pools of one version (re-registered under the same name) add up.
	n := map[[2]string]int{}
	for _, p := range pools {
		p.mu.Lock()
		n[[2]string{p.v.Plugin, p.v.Version}] += len(p.servers)
		p.mu.Unlock()
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(warmDesc, prometheus.GaugeValue, float64(v), k[0], k[1])
	}
}
