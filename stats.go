package orc

import (
	"context"
	"time"
)

// MinuteStats are the invocations created in one minute: how many, how
// they ended, and the latency (accepted to final) of those that ended.
type MinuteStats struct {
	At          time.Time `json:"at"`
	Invocations int       `json:"invocations"`
	Succeeded   int       `json:"succeeded"`
	// Failed counts those that failed, timed out, died or expired.
	Failed int     `json:"failed"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
}

// PoolSample is one minute's state of a pool: the most tasks in its queue,
// live workers and warm containers seen in that minute.
type PoolSample struct {
	At      time.Time `json:"at"`
	Pool    string    `json:"pool"`
	Queued  int       `json:"queued"`
	Workers int       `json:"workers"`
	Warm    int       `json:"warm"`
}

// StatsService keeps what the console's charts show.
type StatsService interface {
	// InvocationStats returns the minutes since since that have
	// invocations, oldest first, and the whole window (its At zero): of
	// one owner, or everyone's for 0.
	InvocationStats(ctx context.Context, since time.Time, ownerID int64) ([]*MinuteStats, *MinuteStats, error)

	// SavePoolSamples stores samples; a pool's minute keeps the most of
	// each count over its samples (several gateways sample). Samples
	// before forgetBefore are deleted.
	SavePoolSamples(ctx context.Context, samples []*PoolSample, forgetBefore time.Time) error

	// PoolSamples returns the samples since since, oldest first.
	PoolSamples(ctx context.Context, since time.Time) ([]*PoolSample, error)

	// PoolNames returns the pools the registered versions name.
	PoolNames(ctx context.Context) ([]string, error)
}
