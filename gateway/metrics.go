package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves the metrics of reg, to which it adds the
// process's and the state of the invocations and queues.
func (s *Server) metricsHandler(reg *prometheus.Registry) http.Handler {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{s: s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// stateCollector reports, at scrape time, the invocations by plugin and
// status and the depth of each pool's queue.
type stateCollector struct {
	s *Server

	mu     sync.Mutex
	at     time.Time
	cached []prometheus.Metric
}

var (
	invocationsDesc = prometheus.NewDesc("orc_invocations",
		"Invocations by plugin and status (terminal ones over the last hour).", []string{"plugin", "status"}, nil)
	queueDepthDesc = prometheus.NewDesc("orc_queue_depth",
		"Ready messages in each pool's queue.", []string{"pool"}, nil)
)

// InvocationCounter is implemented by stores that can count invocations
// for metrics.
type InvocationCounter interface {
	CountInvocations(ctx context.Context, since time.Time) (map[[2]string]int, []string, error)
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- invocationsDesc
	ch <- queueDepthDesc
}

// Collect reads the counts at most once a second, however often scraped.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > time.Second {
		c.cached = c.collect()
		c.at = time.Now()
	}
	for _, m := range c.cached {
		ch <- m
	}
}

func (c *stateCollector) collect() []prometheus.Metric {
	s := c.s
	counter, ok := s.Invocations.(InvocationCounter)
	if !ok || s.Broker == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, pools, err := counter.CountInvocations(ctx, s.Clock.Now().Add(-time.Hour))
	if err != nil {
		s.Logger.Warn("metrics: count invocations", "err", err)
		return nil
	}
	var out []prometheus.Metric
	for k, n := range counts {
		out = append(out, prometheus.MustNewConstMetric(invocationsDesc, prometheus.GaugeValue, float64(n), k[0], k[1]))
	}
	for _, pool := range pools {
		depth, err := s.Broker.QueueDepth(ctx, pool)
		if err != nil {
			continue
		}
		out = append(out, prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(depth), pool))
	}
	return out
}
