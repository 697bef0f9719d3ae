package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

// InvocationStats returns, for each minute since since that has
// invocations and for the whole window, how many were created, how they
// ended and the latency of those that ended (milliseconds from accepted to
// final). ownerID 0 is everyone's.
func (db *DB) InvocationStats(ctx context.Context, since time.Time, ownerID int64) ([]*orc.MinuteStats, *orc.MinuteStats, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT date_trunc('minute', created_at) AS m, count(*),
			count(*) FILTER (WHERE status = 'succeeded'),
			count(*) FILTER (WHERE status IN ('failed', 'timed_out', 'dead', 'expired')),
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at) * 1000)
				FILTER (WHERE finished_at IS NOT NULL), 0),
			coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at) * 1000)
				FILTER (WHERE finished_at IS NOT NULL), 0)
		FROM invocations
		WHERE created_at >= $1 AND ($2 = 0 OR owner_id = $2)
		GROUP BY GROUPING SETS ((1), ()) ORDER BY 1 NULLS LAST`, since, ownerID)
	if err != nil {
		return nil, nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.MinuteStats, error) {
		m := &orc.MinuteStats{}
		var at *time.Time
		err := row.Scan(&at, &m.Invocations, &m.Succeeded, &m.Failed, &m.P50MS, &m.P95MS)
		if at != nil {
			m.At = *at
		}
		return m, err
	})
	if err != nil || len(list) == 0 {
		return nil, nil, dbError(err, "")
	}
	// The last row is the window's (its minute is null).
	return list[:len(list)-1], list[len(list)-1], nil
}

// SavePoolSamples stores samples, keeping the most of each pool and
// minute, and forgets those before forgetBefore.
func (db *DB) SavePoolSamples(ctx context.Context, samples []*orc.PoolSample, forgetBefore time.Time) error {
	batch := &pgx.Batch{}
	for _, s := range samples {
		batch.Queue(`INSERT INTO pool_samples (at, pool, queued, workers, warm) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (at, pool) DO UPDATE SET queued = greatest(pool_samples.queued, excluded.queued),
				workers = greatest(pool_samples.workers, excluded.workers), warm = greatest(pool_samples.warm, excluded.warm)`, s.At, s.Pool, s.Queued, s.Workers, s.Warm)
	}
	batch.Queue(`DELETE FROM pool_samples WHERE at < $1`, forgetBefore)
	return dbError(db.pool.SendBatch(ctx, batch).Close(), "")
}

// PoolSamples returns the samples since since, oldest first.
func (db *DB) PoolSamples(ctx context.Context, since time.Time) ([]*orc.PoolSample, error) {
	rows, err := db.pool.Query(ctx, `SELECT at, pool, queued, workers, warm FROM pool_samples
		WHERE at >= $1 ORDER BY at, pool`, since)
	if err != nil {
		return nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.PoolSample, error) {
		s := &orc.PoolSample{}
		return s, row.Scan(&s.At, &s.Pool, &s.Queued, &s.Workers, &s.Warm)
	})
	return list, dbError(err, "")
}
