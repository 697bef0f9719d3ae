package orc

import (
	"context"
	"time"
)

// WorkerInfo describes a running worker, as its heartbeats report it.
type WorkerInfo struct {
	ID          string    `json:"id"`
	Node        string    `json:"node"`
	Pool        string    `json:"pool"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	// Drain is set when the worker was asked to stop taking tasks, finish
	// what it runs and exit (the scheduler scales its pool down).
	Drain bool `json:"drain,omitempty"`
	// Paused says why the worker takes no tasks (its container engine
	// does not answer); empty while it takes them.
	Paused string `json:"paused,omitempty"`
	// Warm is how many warm containers the worker keeps.
	Warm int `json:"warm"`
	// MetricsAddr is the host:port of the worker's /metrics, empty when it
	// serves none: what Prometheus's service discovery is given.
	MetricsAddr string `json:"metrics_addr,omitempty"`
	// Driver is the worker's container driver, as it last fingerprinted
	// it; nil before the first fingerprint.
	Driver *DriverInfo `json:"driver,omitempty"`
}

// WorkerRegistry keeps workers' heartbeats.
type WorkerRegistry interface {
	// Heartbeat records that a worker is alive and sets w.Drain when the
	// worker was asked to drain.
	Heartbeat(ctx context.Context, w *WorkerInfo) error

	// ListWorkers returns the workers whose last heartbeat is after since.
	ListWorkers(ctx context.Context, since time.Time) ([]*WorkerInfo, error)
}

// WarmVersions is implemented by plugin stores that can list the versions
// of a pool that keep warm containers (protocol http, min_warm > 0).
type WarmVersions interface {
	WarmVersions(ctx context.Context, pool string) ([]*Version, error)
}
