package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

var _ orc.DeadLetterService = (*DB)(nil)

const deadLetterColumns = invocationColumns + `, coalesce(dead_reason, 'unknown'), coalesce(dead_deliveries, 0), dead_at`

func scanDeadLetter(row scanner) (*orc.DeadLetter, error) {
	var d orc.DeadLetter
	sc := &tailScanner{row: row, tail: []any{&d.Reason, &d.Deliveries, &d.DeadAt}}
	inv, err := scanInvocation(sc)
	if err != nil {
		return nil, err
	}
	d.Invocation = inv
	return &d, nil
}

// tailScanner scans the invocation columns of a row into what
// scanInvocation asks for, and the columns after them into tail.
type tailScanner struct {
	row  scanner
	tail []any
}

func (t *tailScanner) Scan(dest ...any) error {
	return t.row.Scan(append(dest, t.tail...)...)
}

// MarkDead makes a queued or running invocation dead and lists it, unless a
// redrive since queued it again (its redrive count is past d.Redrives).
// The worker and node of its last attempt are kept: the dead-letter
// handler's are of no interest.
func (db *DB) MarkDead(ctx context.Context, id string, d orc.Death, e *orc.InvocationError, at time.Time) (bool, error) {
	u, err := parseID(id)
	if err != nil {
		return false, err
	}
	var code, message any
	if e != nil {
		code, message = e.Code, sanitize(e.Message)
	}
	var deliveries any
	if d.Deliveries > 0 {
		deliveries = d.Deliveries
	}
	tag, err := db.pool.Exec(ctx, `UPDATE invocations SET
			status = 'dead', error_code = $2, error_message = $3, finished_at = $4,
			dead_listed = true, dead_at = $4, dead_reason = $5, dead_deliveries = $6
		WHERE id = $1 AND status IN ('queued', 'running') AND redrives = $7`,
		u, code, message, at, sanitize(d.Reason), deliveries, d.Redrives)
	if err != nil {
		return false, dbError(err, "")
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	if _, err := db.FindInvocation(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// ListDeadLetters returns a page of dead letters, the most recently dead
// first, through the partial index of the list.
func (db *DB) ListDeadLetters(ctx context.Context, f orc.DeadLetterFilter) ([]*orc.DeadLetter, string, error) {
	var w filter
	w.where("dead_listed")
	if f.Plugin != "" {
		w.where("plugin = " + w.arg(f.Plugin))
	}
	if f.Version != "" {
		w.where("version = " + w.arg(f.Version))
	}
	if f.Reason != "" {
		w.where("dead_reason = " + w.arg(f.Reason))
	}
	w.window("dead_at", f.Since, f.Until)
	if f.OwnerID != 0 {
		w.where("owner_id = " + w.arg(f.OwnerID))
	}
	return listPage(ctx, db, &w, pageQuery{columns: deadLetterColumns, orderBy: "dead_at", cursor: f.Cursor, limit: f.Limit},
		scanDeadLetter, func(d *orc.DeadLetter) (time.Time, string) { return d.DeadAt, d.ID })
}

// FindDeadLetter returns a listed dead letter with its attempts.
func (db *DB) FindDeadLetter(ctx context.Context, id string) (*orc.DeadLetter, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	d, err := scanDeadLetter(db.pool.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM invocations
		WHERE id = $1 AND dead_listed`, u))
	if err != nil {
		return nil, dbError(err, "dead letter not found")
	}
	if d.History, err = db.attempts(ctx, d.Invocation); err != nil {
		return nil, err
	}
	return d, nil
}

// InvocationAttempts returns the attempts at an invocation, oldest first.
func (db *DB) InvocationAttempts(ctx context.Context, id string) ([]orc.Attempt, error) {
	inv, err := db.FindInvocation(ctx, id)
	if err != nil {
		return nil, err
	}
	return db.attempts(ctx, inv)
}

// attempts returns the attempts at an invocation, oldest first. The end
// of the latest one is the invocation's, when it committed it: any result
// but dead (which the broker decided, not the attempt).
func (db *DB) attempts(ctx context.Context, inv *orc.Invocation) ([]orc.Attempt, error) {
	u, err := parseID(inv.ID)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT attempt, worker, node, started_at, finished_at,
			coalesce(error_code, ''), coalesce(error_message, '')
		FROM invocation_attempts WHERE invocation_id = $1 ORDER BY attempt`, u)
	if err != nil {
		return nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orc.Attempt, error) {
		var (
			a             orc.Attempt
			code, message string
		)
		err := row.Scan(&a.Attempt, &a.Worker, &a.Node, &a.StartedAt, &a.FinishedAt, &code, &message)
		if code != "" || message != "" {
			a.Error = &orc.InvocationError{Code: code, Message: message}
		}
		return a, err
	})
	if err != nil {
		return nil, dbError(err, "")
	}
	for i := range list {
		a := &list[i]
		if a.Attempt == inv.Attempts && a.FinishedAt == nil && inv.Status.Terminal() && inv.Status != orc.StatusDead {
			a.FinishedAt, a.Status, a.Error = inv.FinishedAt, inv.Status, inv.Error
		}
	}
	return list, nil
}

// EndAttempt records why an attempt ended without a result, when its
// worker lived to say: the task goes back to the queue (and may be
// dead-lettered), so the invocation's row cannot hold it.
func (db *DB) EndAttempt(ctx context.Context, id string, attempt int, e *orc.InvocationError, at time.Time) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `UPDATE invocation_attempts SET finished_at = $3, error_code = $4, error_message = $5
		WHERE invocation_id = $1 AND attempt = $2 AND finished_at IS NULL`,
		u, attempt, at, e.Code, sanitize(e.Message))
	return dbError(err, "")
}

// RedriveDeadLetter queues a listed dead letter again, unpublished, in one
// conditional UPDATE: of concurrent redrives exactly one changes the row.
// Attempts count on, so that a late result of an attempt from before the
// redrive stays fenced out.
func (db *DB) RedriveDeadLetter(ctx context.Context, id string) (*orc.Invocation, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	inv, err := scanInvocation(db.pool.QueryRow(ctx, `UPDATE invocations SET
			status = 'queued', dead_listed = false, redrives = redrives + 1, redriven_at = $2,
			output = NULL, error_code = NULL, error_message = NULL, finished_at = NULL, published_at = NULL
		WHERE id = $1 AND dead_listed AND status = 'dead' AND version_id IS NOT NULL
		RETURNING `+invocationColumns, u, db.clock.Now()))
	if err == nil {
		return inv, nil
	}
	if err != pgx.ErrNoRows {
		return nil, dbError(err, "")
	}
	inv, err = db.FindInvocation(ctx, id)
	if err != nil {
		return nil, err
	}
	if inv.Status == orc.StatusDead && inv.VersionID == 0 {
		return inv, orc.Errorf(orc.ECONFLICT, "the invocation's plugin version was deleted; retry it on another version instead")
	}
	return inv, orc.Errorf(orc.ECONFLICT, "the invocation is not a dead letter (it is %s)", inv.Status)
}

// DiscardDeadLetter takes a dead letter off the list.
func (db *DB) DiscardDeadLetter(ctx context.Context, id string) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE invocations SET dead_listed = false WHERE id = $1 AND dead_listed`, u)
	if err != nil {
		return dbError(err, "")
	}
	if tag.RowsAffected() == 0 {
		return orc.Errorf(orc.ENOTFOUND, "dead letter not found")
	}
	return nil
}
