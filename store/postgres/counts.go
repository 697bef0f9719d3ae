package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// CountInvocations counts invocations by plugin and status: every queued or
// running one, and the others created since the given time. It also returns
// the pools that registered versions use. The gateway's metrics read it.
func (db *DB) CountInvocations(ctx context.Context, since time.Time) (map[[2]string]int, []string, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT plugin, status, count(*) FROM invocations WHERE status IN ('queued', 'running') GROUP BY 1, 2
		UNION ALL
		SELECT plugin, status, count(*) FROM invocations
			WHERE created_at >= $1 AND status NOT IN ('queued', 'running') GROUP BY 1, 2`, since)
	if err != nil {
		return nil, nil, dbError(err, "")
	}
	defer rows.Close()
	counts := map[[2]string]int{}
	for rows.Next() {
		var plugin, status string
		var n int
		if err := rows.Scan(&plugin, &status, &n); err != nil {
			return nil, nil, err
		}
		counts[[2]string{plugin, status}] = n
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError(err, "")
	}
	pools, err := db.PoolNames(ctx)
	return counts, pools, err
}

// PoolNames returns the pools the registered versions name.
func (db *DB) PoolNames(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT spec->>'pool' FROM plugin_versions WHERE spec->>'pool' IS NOT NULL ORDER BY 1`)
	if err != nil {
		return nil, dbError(err, "")
	}
	pools, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return pools, dbError(err, "")
}
