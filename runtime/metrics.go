package runtime

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orc-gateway/orc"
)

// Metrics are a worker's Prometheus metrics.
type Metrics struct {
	finished *prometheus.CounterVec
	phase    *prometheus.HistogramVec
	paused   prometheus.Gauge
}

// NewMetrics returns a worker's metrics, registered on reg when it is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orc_invocations_total",
			Help: "Invocations this worker brought to a final status, by plugin and status.",
		}, []string{"plugin", "status"}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orc_invocation_phase_seconds",
			Help:    "Time of each phase of an invocation (queue, cold, run), by plugin.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"plugin", "phase"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orc_worker_paused",
			Help: "1 while the worker takes no tasks because its container engine does not answer.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.finished, m.phase, m.paused)
	}
	return m
}

func (m *Metrics) observe(inv *orc.Invocation, r *orc.Result) {
	m.finished.WithLabelValues(inv.Plugin, string(r.Status)).Inc()
	if r.Status == orc.StatusDead {
		return
	}
	m.phase.WithLabelValues(inv.Plugin, "queue").Observe(inv.Timing.QueueMS / 1000)
	m.phase.WithLabelValues(inv.Plugin, "cold").Observe(r.Timing.ColdMS / 1000)
	m.phase.WithLabelValues(inv.Plugin, "run").Observe(r.Timing.RunMS / 1000)
}
