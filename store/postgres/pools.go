package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

var _ orc.PoolStore = (*DB)(nil)

// PoolDemands returns the demand of the pools that run a plugin's latest
// version with pooled execution, or have unfinished invocations (of any
// version). The versions' specs are read whole: bounds and resources are
// merged in Go, with the defaults versions get when read; a pool the
// policy shares has the policy's size instead.
func (db *DB) PoolDemands(ctx context.Context) ([]*orc.PoolDemand, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+versionColumns+` FROM plugin_versions v
		JOIN plugins p ON p.id = v.plugin_id
		WHERE v.version = p.latest_version
			OR v.id IN (SELECT DISTINCT version_id FROM invocations WHERE status IN ('queued', 'running'))`)
	if err != nil {
		return nil, dbError(err, "")
	}
	byPool := map[string]*orc.PoolDemand{}
	var order []string
	defer rows.Close()
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, dbError(err, "")
		}
		if v.Execution != orc.ExecutionPooled {
			continue
		}
		d := byPool[v.Pool]
		if d == nil {
			d = &orc.PoolDemand{Pool: v.Pool}
			byPool[v.Pool] = d
			order = append(order, v.Pool)
		}
		mergeDemand(d, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "")
	}
	counts, err := db.pool.Query(ctx, `SELECT pool, count(*) FROM invocations
		WHERE status IN ('queued', 'running') GROUP BY pool`)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer counts.Close()
	for counts.Next() {
		var pool string
		var n int
		if err := counts.Scan(&pool, &n); err != nil {
			return nil, dbError(err, "")
		}
		// A hook may route to a pool that no latest version names; its
		// demand has the default bounds and resources.
		if d := byPool[pool]; d != nil {
			d.Unfinished = n
		} else if pool != orc.RayJobPool {
			v := &orc.Version{Pool: pool}
			v.SetDefaults()
			d = &orc.PoolDemand{Pool: pool, Unfinished: n}
			mergeDemand(d, v)
			byPool[pool] = d
			order = append(order, pool)
		}
	}
	if err := counts.Err(); err != nil {
		return nil, dbError(err, "")
	}
	// A shared pool's replicas have the policy's size, whatever its
	// versions ask: no version widens a pool others share.
	policy, err := db.Policy(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*orc.PoolDemand, 0, len(order))
	for _, name := range order {
		d := byPool[name]
		if size, ok := policy.SharedPools[name]; ok {
			d.Resources, d.MinWorkers, d.MaxWorkers = size.Resources, size.MinWorkers, size.MaxWorkers
		}
		out = append(out, d)
	}
	return out, nil
}

// mergeDemand widens a pool's demand to cover a version.
func mergeDemand(d *orc.PoolDemand, v *orc.Version) {
	r := &d.Resources
	r.CPU = max(r.CPU, v.Resources.CPU)
	r.MemoryMB = max(r.MemoryMB, v.Resources.MemoryMB)
	r.GPU = max(r.GPU, v.Resources.GPU)
	for name, amount := range v.Resources.Custom {
		if r.Custom == nil {
			r.Custom = map[string]float64{}
		}
		r.Custom[name] = max(r.Custom[name], amount)
	}
	if v.MinWorkers != nil {
		d.MinWorkers = max(d.MinWorkers, *v.MinWorkers)
	}
	if v.MaxWorkers != nil {
		d.MaxWorkers = max(d.MaxWorkers, *v.MaxWorkers)
	}
}

// SavePoolStatuses replaces the scheduler's report of every pool.
func (db *DB) SavePoolStatuses(ctx context.Context, pools []*orc.PoolStatus) error {
	return dbError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		names := make([]string, 0, len(pools))
		for _, p := range pools {
			status, err := json.Marshal(p)
			if err != nil {
				return fmt.Errorf("encode pool status: %w", err)
			}
			names = append(names, p.Pool)
			if _, err := tx.Exec(ctx, `INSERT INTO pools (name, status, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
				p.Pool, status, p.UpdatedAt); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM pools WHERE name <> ALL($1)`, names)
		return err
	}), "")
}

// PoolStatuses returns the scheduler's latest report, by pool name.
func (db *DB) PoolStatuses(ctx context.Context) ([]*orc.PoolStatus, error) {
	rows, err := db.pool.Query(ctx, `SELECT status FROM pools ORDER BY name`)
	if err != nil {
		return nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.PoolStatus, error) {
		var raw []byte
		if err := row.Scan(&raw); err != nil {
			return nil, err
		}
		p := &orc.PoolStatus{}
		return p, json.Unmarshal(raw, p)
	})
	return list, dbError(err, "")
}

// RequestDrain marks a worker to drain. A worker that has not reported yet
// gets a row, so that it drains as soon as it starts.
func (db *DB) RequestDrain(ctx context.Context, workerID string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO workers (id, node, pool, started_at, heartbeat_at, drain)
		VALUES ($1, '', '', now(), now(), true)
		ON CONFLICT (id) DO UPDATE SET drain = true`, workerID)
	return dbError(err, "")
}

// TryAdvisoryLock takes a session-level advisory lock named name on a
// connection of its own, without waiting. While ok, the lock is held until
// release is called (or the connection is lost).
func (db *DB) TryAdvisoryLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, dbError(err, "")
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&ok); err != nil || !ok {
		conn.Release()
		return nil, false, dbError(err, "")
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, name) //nolint:errcheck // the session's end releases it too
		conn.Release()
	}, true, nil
}
