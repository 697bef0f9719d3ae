package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

var (
	_ orc.WorkerRegistry = (*DB)(nil)
	_ orc.WarmVersions   = (*DB)(nil)
)

// Heartbeat records that a worker is alive, sets w.Drain when the worker
// was asked to drain, and forgets workers silent for a day.
func (db *DB) Heartbeat(ctx context.Context, w *orc.WorkerInfo) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO workers (id, node, pool, started_at, heartbeat_at, paused, warm, metrics_addr, driver)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, node = excluded.node,
			pool = excluded.pool, started_at = excluded.started_at, paused = excluded.paused, warm = excluded.warm,
			metrics_addr = excluded.metrics_addr, driver = coalesce(excluded.driver, workers.driver)
		RETURNING drain`,
		w.ID, w.Node, w.Pool, w.StartedAt, w.HeartbeatAt, w.Paused, w.Warm, w.MetricsAddr, w.Driver).Scan(&w.Drain)
	if err != nil {
		return dbError(err, "")
	}
	_, err = db.pool.Exec(ctx, `DELETE FROM workers WHERE heartbeat_at < $1`, w.HeartbeatAt.Add(-24*time.Hour))
	return dbError(err, "")
}

// ListWorkers returns the workers heard from after since.
func (db *DB) ListWorkers(ctx context.Context, since time.Time) ([]*orc.WorkerInfo, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, node, pool, started_at, heartbeat_at, drain, paused, warm, metrics_addr, driver FROM workers
		WHERE heartbeat_at > $1 AND pool <> '' ORDER BY id`, since)
	if err != nil {
		return nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.WorkerInfo, error) {
		w := &orc.WorkerInfo{}
		return w, row.Scan(&w.ID, &w.Node, &w.Pool, &w.StartedAt, &w.HeartbeatAt, &w.Drain, &w.Paused, &w.Warm, &w.MetricsAddr, &w.Driver)
	})
	return list, dbError(err, "")
}

// WarmVersions returns the latest versions of a pool's plugins that keep
// warm containers.
func (db *DB) WarmVersions(ctx context.Context, pool string) ([]*orc.Version, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+versionColumns+` FROM plugins p
		JOIN plugin_versions v ON v.plugin_id = p.id AND v.version = p.latest_version
		WHERE v.protocol = 'http' AND coalesce((v.spec->>'min_warm')::int, 0) > 0
			AND coalesce(nullif(v.spec->>'pool', ''), 'default') = $1
		ORDER BY p.name`, pool)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var list []*orc.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, dbError(rows.Err(), "")
}

// PoolExists reports whether a registered version runs in the pool.
func (db *DB) PoolExists(ctx context.Context, pool string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM plugin_versions
		WHERE coalesce(nullif(spec->>'pool', ''), 'default') = $1)`, pool).Scan(&ok)
	return ok, dbError(err, "")
}
