package registry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orc-gateway/orc"
)

// HookMetrics are the Prometheus metrics of hook calls. Hook names are
// registered objects, so the label's values stay few.
type HookMetrics struct {
	seconds *prometheus.HistogramVec
}

// NewHookMetrics returns hook metrics, registered on reg when it is not nil.
func NewHookMetrics(reg prometheus.Registerer) *HookMetrics {
	m := &HookMetrics{seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "orc_hook_seconds",
		Help:    "Time of each hook call, by hook, phase (pre, post) and result (allow, deny, error).",
		Buckets: prometheus.ExponentialBuckets(0.00002, 3, 12),
	}, []string{"hook", "phase", "result"})}
	if reg != nil {
		reg.MustRegister(m.seconds)
	}
	return m
}

func (m *HookMetrics) observe(name string, phase orc.HookPhase, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.seconds.WithLabelValues(name, string(phase), result).Observe(d.Seconds())
}
