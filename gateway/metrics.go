package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orc-gateway/orc"
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
	workersDesc = prometheus.NewDesc("orc_workers",
		"Live workers (heard from within a minute) by pool and state (running, paused, draining).", []string{"pool", "state"}, nil)
	warmDesc = prometheus.NewDesc("orc_warm_containers",
		"Warm containers the live workers of each pool keep.", []string{"pool"}, nil)
)

// InvocationCounter is implemented by stores that can count invocations
// for metrics.
type InvocationCounter interface {
	CountInvocations(ctx context.Context, since time.Time) (map[[2]string]int, []string, error)
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- invocationsDesc
	ch <- queueDepthDesc
	ch <- workersDesc
	ch <- warmDesc
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out := workerMetrics(s.liveWorkers(ctx))
	counter, ok := s.Invocations.(InvocationCounter)
	if !ok || s.Broker == nil {
		return out
	}
	counts, pools, err := counter.CountInvocations(ctx, s.Clock.Now().Add(-time.Hour))
	if err != nil {
		s.Logger.Warn("metrics: count invocations", "err", err)
		return out
	}
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

// workerMetrics counts the live workers of each pool by state, and their
// warm containers, from their heartbeats: a worker's own /metrics cannot
// say how many of its pool are alive.
func workerMetrics(list []*orc.WorkerInfo) []prometheus.Metric {
	type key struct{ pool, state string }
	workers, warm := map[key]int{}, map[string]int{}
	for _, w := range list {
		state := "running"
		switch {
		case w.Drain:
			state = "draining"
		case w.Paused != "":
			state = "paused"
		}
		workers[key{w.Pool, state}]++
		warm[w.Pool] += w.Warm
	}
	var out []prometheus.Metric
	for k, n := range workers {
		out = append(out, prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(n), k.pool, k.state))
	}
	for pool, n := range warm {
		out = append(out, prometheus.MustNewConstMetric(warmDesc, prometheus.GaugeValue, float64(n), pool))
	}
	return out
}
