package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

// QueuedBefore returns queued invocations whose task the broker confirmed
// before the given time, oldest first. Their task is lost if their pool's
// queue holds nothing.
func (db *DB) QueuedBefore(ctx context.Context, before time.Time, limit int) ([]*orc.Invocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+invocationColumns+` FROM invocations
		WHERE status = 'queued' AND published_at < $1 ORDER BY published_at LIMIT $2`, before, limit)
	return collectInvocations(rows, err)
}

// StrandedBefore returns running invocations started before the given
// time whose worker has not reported since then. Ray-job invocations are
// left out: their runs are the scheduler's Ray jobs, which outlive it and
// which the next scheduler attaches to.
func (db *DB) StrandedBefore(ctx context.Context, before time.Time, limit int) ([]*orc.Invocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+invocationColumns+` FROM invocations i
		WHERE status = 'running' AND started_at < $1 AND pool <> $3
			AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = i.worker AND w.heartbeat_at >= $1)
		ORDER BY started_at LIMIT $2`, before, limit, orc.RayJobPool)
	return collectInvocations(rows, err)
}

// ClaimRequeue records that a sweep queues inv's task again, and reports
// whether this call won: only while the invocation is as read (status,
// attempts, worker) and its task was last queued before the given time.
// Sweeps in several processes thus queue it once.
func (db *DB) ClaimRequeue(ctx context.Context, inv *orc.Invocation, before time.Time) (bool, error) {
	u, err := parseID(inv.ID)
	if err != nil {
		return false, err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE invocations SET published_at = $6
		WHERE id = $1 AND status = $2 AND attempts = $3 AND worker = $4
			AND coalesce(published_at, created_at) < $5`,
		u, string(inv.Status), inv.Attempts, inv.Worker, before, db.clock.Now())
	if err != nil {
		return false, dbError(err, "")
	}
	return tag.RowsAffected() == 1, nil
}

// ExpireQueued ends as expired the queued invocations that waited longer
// than their version's queue_timeout_s (the default for a version deleted
// meanwhile, or stored before the field existed), at most limit of them,
// and returns them. The message says why their pool did not take them when
// the scheduler knows.
func (db *DB) ExpireQueued(ctx context.Context, now time.Time, limit int) ([]*orc.Invocation, error) {
	// A redriven invocation waits from its redrive, not from its creation.
	rows, err := db.pool.Query(ctx, `SELECT i.id::text, coalesce(i.redriven_at, i.created_at), x.queue_timeout_s,
			coalesce(p.status->>'state', ''), coalesce(p.status->>'reason', '')
		FROM invocations i
		LEFT JOIN plugin_versions v ON v.id = i.version_id
		LEFT JOIN pools p ON p.name = i.pool
		CROSS JOIN LATERAL (SELECT coalesce((v.spec->>'queue_timeout_s')::int, $2) AS queue_timeout_s) x
		WHERE i.status = 'queued'
			AND coalesce(i.redriven_at, i.created_at) < $1::timestamptz - make_interval(secs => x.queue_timeout_s)
		ORDER BY i.created_at LIMIT $3`, now, orc.DefaultQueueTimeoutS, limit)
	if err != nil {
		return nil, dbError(err, "")
	}
	type candidate struct {
		id             string
		created        time.Time
		timeout        int
		state, because string
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (candidate, error) {
		var c candidate
		err := row.Scan(&c.id, &c.created, &c.timeout, &c.state, &c.because)
		return c, err
	})
	if err != nil {
		return nil, dbError(err, "")
	}
	var expired []*orc.Invocation
	for _, c := range found {
		msg := fmt.Sprintf("no worker started it within the version's queue_timeout_s (%d s)", c.timeout)
		if c.state == orc.PoolUnschedulable || c.state == orc.PoolWaiting {
			msg += fmt.Sprintf("; its pool is %s: %s", c.state, c.because)
		}
		inv, err := scanInvocation(db.pool.QueryRow(ctx, `UPDATE invocations
			SET status = 'expired', finished_at = $2, error_code = $3, error_message = $4
			WHERE id = $1 AND status = 'queued' RETURNING `+invocationColumns, c.id, now, orc.EEXPIRED, msg))
		if errors.Is(err, pgx.ErrNoRows) {
			continue // started or canceled meanwhile
		}
		if err != nil {
			return expired, dbError(err, "")
		}
		expired = append(expired, inv)
	}
	return expired, nil
}

// collectInvocations reads the invocations of a query.
func collectInvocations(rows pgx.Rows, err error) ([]*orc.Invocation, error) {
	if err != nil {
		return nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.Invocation, error) { return scanInvocation(row) })
	return list, dbError(err, "")
}
