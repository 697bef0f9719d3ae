package invoke

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orc-gateway/orc"
)

// unknownPlugin labels the metrics of requests whose plugin was not found
// or not visible, so that requests for arbitrary names cannot grow the
// label set.
const unknownPlugin = "_unknown"

// Metrics are the invoke path's Prometheus metrics.
type Metrics struct {
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	duration *prometheus.HistogramVec
	swept    *prometheus.CounterVec
	redriven *prometheus.CounterVec
	retried  *prometheus.CounterVec
	publish  *prometheus.HistogramVec
}

// NewMetrics returns the invoke path's metrics, registered on reg when it
// is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orc_invocations_accepted_total",
			Help: "Invocations accepted and queued, by plugin and mode (sync or async).",
		}, []string{"plugin", "mode"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orc_invocations_rejected_total",
			Help: "Invocations refused before queueing, by plugin and error code.",
		}, []string{"plugin", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orc_invoke_duration_seconds",
			Help:    "Latency of synchronous invocations at the gateway, by plugin and final status.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"plugin", "mode", "status"}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orc_invocations_swept_total",
			Help: "Invocations the sweeps ended or queued again, by action (expired, requeued_lost, requeued_stranded).",
		}, []string{"action"}),
		redriven: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orc_invocations_redriven_total",
			Help: "Dead letters queued again by a redrive, by plugin.",
		}, []string{"plugin"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orc_invocations_retried_total",
			Help: "Invocations retried as new invocations (also counted as accepted), by plugin.",
		}, []string{"plugin"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orc_publish_seconds",
			Help:    "Round trip of a task to the broker (publish until confirmed), by result (ok, error).",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 12),
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.rejected, m.duration, m.swept, m.redriven, m.retried, m.publish)
	}
	return m
}

func mode(async bool) string {
	if async {
		return "async"
	}
	return "sync"
}

// reject counts a refused invocation; v is nil unless the principal may
// see its plugin.
func (m *Metrics) reject(v *orc.Version, err error) {
	plugin := unknownPlugin
	if v != nil {
		plugin = v.Plugin
	}
	m.rejected.WithLabelValues(plugin, orc.ErrorCode(err)).Inc()
}

// observe records the latency of a synchronous call.
func (m *Metrics) observe(plugin, status string, start time.Time) {
	m.duration.WithLabelValues(plugin, "sync", status).Observe(time.Since(start).Seconds())
}

// TimedBroker returns b with the round trip of each publish measured on m.
func (m *Metrics) TimedBroker(b Broker) Broker {
	return &timedBroker{Broker: b, seconds: m.publish}
}

// timedBroker measures a Broker's publishes.
type timedBroker struct {
	Broker
	seconds *prometheus.HistogramVec
}

func (b *timedBroker) Publish(ctx context.Context, t *orc.Task) error {
	began := time.Now()
	err := b.Broker.Publish(ctx, t)
	result := "ok"
	if err != nil {
		result = "error"
	}
	b.seconds.WithLabelValues(result).Observe(time.Since(began).Seconds())
	return err
}
