package postgres

import "context"

// CountUnfinished returns how many of a user's invocations are queued or
// running, for the gateway's in-flight cap. A partial index keeps it cheap.
func (db *DB) CountUnfinished(ctx context.Context, ownerID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM invocations
		WHERE owner_id = $1 AND status IN ('queued', 'running')`, ownerID).Scan(&n)
	return n, dbError(err, "")
}
