package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orc-gateway/orc"
)

var _ orc.InvocationService = (*DB)(nil)

const invocationColumns = `id, plugin, version, coalesce(version_id, 0), status, input, output,
	coalesce(error_code, ''), coalesce(error_message, ''), attempts, coalesce(idempotency_key, ''),
	owner_id, async, pool, priority, worker, node, cold_start, queue_ms, cold_ms, run_ms,
	created_at, started_at, finished_at, published_at IS NOT NULL, retry_of, redrives, driver`

func scanInvocation(row scanner) (*orc.Invocation, error) {
	var (
		inv           orc.Invocation
		id            pgtype.UUID
		status        string
		input, output []byte
		code, message string
		retryOf       pgtype.UUID
	)
	err := row.Scan(&id, &inv.Plugin, &inv.Version, &inv.VersionID, &status, &input, &output,
		&code, &message, &inv.Attempts, &inv.IdempotencyKey,
		&inv.OwnerID, &inv.Async, &inv.Pool, &inv.Priority, &inv.Worker, &inv.Node, &inv.ColdStart,
		&inv.Timing.QueueMS, &inv.Timing.ColdMS, &inv.Timing.RunMS,
		&inv.CreatedAt, &inv.StartedAt, &inv.FinishedAt, &inv.Published, &retryOf, &inv.Redrives, &inv.Driver)
	if err != nil {
		return nil, err
	}
	inv.ID, inv.Status, inv.Input, inv.Output = uuid.UUID(id.Bytes).String(), orc.Status(status), input, output
	if retryOf.Valid {
		inv.RetryOf = uuid.UUID(retryOf.Bytes).String()
	}
	if code != "" || message != "" {
		inv.Error = &orc.InvocationError{Code: code, Message: message}
	}
	return &inv, nil
}

// parseID returns the uuid of an invocation id, or ENOTFOUND: an id that is
// not a uuid names no invocation. It is a pgtype.UUID, which pgx encodes
// directly (a uuid.UUID goes through its text form and a formatted error
// on every statement).
func parseID(id string) (pgtype.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return pgtype.UUID{}, orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	return pgtype.UUID{Bytes: u, Valid: true}, nil
}

// CreateInvocation records a queued invocation, or returns the existing one
// with the same owner and idempotency key.
func (db *DB) CreateInvocation(ctx context.Context, inv *orc.Invocation) (*orc.Invocation, bool, error) {
	if inv.ID == "" {
		inv.ID = uuid.NewString()
	}
	var key any
	if inv.IdempotencyKey != "" {
		key = inv.IdempotencyKey
	}
	var retryOf pgtype.UUID
	if inv.RetryOf != "" {
		u, err := parseID(inv.RetryOf)
		if err != nil {
			return nil, false, err
		}
		retryOf = u
	}
	// A synchronous call's row is committed without waiting for the flush:
	// lost in a crash, the caller was answered nothing yet (the result's
	// commit, which is waited for, flushes it first), and a worker drops
	// the task of a row it cannot find.
	pool := db.pool
	if !inv.Async && len(inv.Logs) == 0 {
		pool = db.lazy
	}
	createdAt := inv.CreatedAt
	if createdAt.IsZero() {
		createdAt = db.clock.Now()
	}
	created, err := scanInvocation(pool.QueryRow(ctx, `INSERT INTO invocations
		(id, plugin, version, version_id, status, input, idempotency_key, owner_id, async, pool, priority, created_at, retry_of)
		VALUES ($1, $2, $3, nullif($4, 0), 'queued', $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING `+invocationColumns,
		inv.ID, inv.Plugin, inv.Version, inv.VersionID, []byte(inv.Input), key, inv.OwnerID, inv.Async, inv.Pool, inv.Priority, createdAt, retryOf))
	if err == nil {
		if err := db.AppendLogs(ctx, created.ID, inv.Logs); err != nil {
			return nil, false, err
		}
		return created, true, nil
	}
	if err != pgx.ErrNoRows {
		return nil, false, dbError(err, "")
	}
	existing, err := scanInvocation(db.pool.QueryRow(ctx, `SELECT `+invocationColumns+` FROM invocations
		WHERE owner_id = $1 AND idempotency_key = $2`, inv.OwnerID, inv.IdempotencyKey))
	if err != nil {
		return nil, false, dbError(err, "invocation not found")
	}
	return existing, false, nil
}

// RecordRejected records an invocation a pre hook refused (or failed on),
// final at once: status rejected, or failed when inv.Status says so. Its
// idempotency key is not kept: a retry is judged afresh.
func (db *DB) RecordRejected(ctx context.Context, inv *orc.Invocation, logs []orc.LogLine) error {
	if inv.ID == "" {
		inv.ID = uuid.NewString()
	}
	u, err := parseID(inv.ID)
	if err != nil {
		return err
	}
	var code, message any
	if inv.Error != nil {
		code, message = inv.Error.Code, sanitize(inv.Error.Message)
	}
	input := inv.Input
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	status := orc.StatusRejected
	if inv.Status == orc.StatusFailed {
		status = orc.StatusFailed
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		now := db.clock.Now()
		err := tx.QueryRow(ctx, `INSERT INTO invocations
			(id, plugin, version, version_id, status, input, error_code, error_message, owner_id, async, pool,
			 created_at, finished_at, published_at)
			VALUES ($1, $2, $3, nullif($4, 0), $12, $5, $6, $7, $8, $9, $10, $11, $11, $11)
			RETURNING created_at`,
			u, inv.Plugin, inv.Version, inv.VersionID, []byte(input), code, message, inv.OwnerID, inv.Async, inv.Pool, now,
			string(status)).Scan(&inv.CreatedAt)
		if err != nil {
			return err
		}
		inv.Status, inv.FinishedAt = status, &now
		return appendLogs(ctx, tx, u, logs)
	})
	return dbError(err, "")
}

// DeleteInvocation removes an invocation whose task was refused, unless it
// was published or started meanwhile (its publish may have reached the
// broker after all, or a retry queued it).
func (db *DB) DeleteInvocation(ctx context.Context, id string) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM invocations
		WHERE id = $1 AND status = 'queued' AND attempts = 0 AND published_at IS NULL`, u)
	if err != nil {
		return dbError(err, "")
	}
	if tag.RowsAffected() == 0 {
		if _, err := db.FindInvocation(ctx, id); err != nil {
			return err
		}
		return orc.Errorf(orc.ECONFLICT, "invocation was queued or started")
	}
	return nil
}

// MarkPublished records that the tasks of invocations were confirmed, in
// one statement. Only queued invocations are marked: one that started or
// ended was evidently queued, and leaving its row alone keeps the mark from
// contending with its worker's writes.
func (db *DB) MarkPublished(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	us, err := parseIDs(ids)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `UPDATE invocations SET published_at = $2
		WHERE id = ANY($1) AND published_at IS NULL AND status = 'queued'`, us, db.clock.Now())
	return dbError(err, "")
}

// UnpublishedInvocations returns queued invocations created before the given
// time whose task was never confirmed.
func (db *DB) UnpublishedInvocations(ctx context.Context, before time.Time, limit int) ([]*orc.Invocation, error) {
	// Two branches, each on an index (the partial index of unpublished
	// rows; the primary key), and the few rows both find once.
	rows, err := db.pool.Query(ctx, `(SELECT `+invocationColumns+` FROM invocations
			WHERE published_at IS NULL AND status = 'queued' AND created_at < $1
				AND (redriven_at IS NULL OR redriven_at < $1)
			ORDER BY created_at LIMIT $2)
		UNION ALL
		(SELECT `+invocationColumns+` FROM invocations
			WHERE id IN (SELECT invocation_id FROM dropped_tasks ORDER BY dropped_at LIMIT $2)
				AND status = 'queued' AND attempts = 0)
		ORDER BY created_at`, before, limit)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var list []*orc.Invocation
	seen := map[string]bool{}
	for rows.Next() {
		inv, err := scanInvocation(rows)
		if err != nil {
			return nil, err
		}
		if !seen[inv.ID] && len(list) < limit {
			seen[inv.ID] = true
			list = append(list, inv)
		}
	}
	return list, dbError(rows.Err(), "")
}

// parseIDs parses invocation ids. Returns EINVALID for a malformed one.
func parseIDs(ids []string) ([]pgtype.UUID, error) {
	us := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		u, err := parseID(id)
		if err != nil {
			return nil, err
		}
		us[i] = u
	}
	return us, nil
}

// DropTask records that a worker dropped the task of an invocation it did
// not find.
func (db *DB) DropTask(ctx context.Context, id string, at time.Time) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO dropped_tasks (invocation_id, dropped_at) VALUES ($1, $2)
		ON CONFLICT (invocation_id) DO NOTHING`, u, at)
	return dbError(err, "")
}

// ForgetDroppedTasks removes the drop records of ids, and those dropped
// before the given time whose invocation is not queued.
func (db *DB) ForgetDroppedTasks(ctx context.Context, before time.Time, ids ...string) error {
	us, err := parseIDs(ids)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `DELETE FROM dropped_tasks d WHERE invocation_id = ANY($1)
		OR (dropped_at < $2 AND NOT EXISTS (SELECT 1 FROM invocations i WHERE i.id = d.invocation_id AND i.status = 'queued'))`, us, before)
	return dbError(err, "")
}

// FindInvocation returns one invocation.
func (db *DB) FindInvocation(ctx context.Context, id string) (*orc.Invocation, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	inv, err := scanInvocation(db.pool.QueryRow(ctx, `SELECT `+invocationColumns+` FROM invocations WHERE id = $1`, u))
	return inv, dbError(err, "invocation not found")
}

// ListInvocations returns a page of invocations, newest first.
func (db *DB) ListInvocations(ctx context.Context, f orc.InvocationFilter) ([]*orc.Invocation, string, error) {
	var w filter
	q := pageQuery{columns: invocationColumns, orderBy: "created_at", cursor: f.Cursor, limit: f.Limit}
	if f.Plugin != "" {
		w.where("plugin = " + w.arg(f.Plugin))
	}
	switch {
	case f.Version != "" && f.OwnerID == 0:
		// Everyone's invocations of a version are read through
		// invocations_plugin_version_created, the only index that yields
		// them in order. With "version = $n" PostgreSQL may walk
		// invocations_created instead, supposing a version's rows spread
		// evenly over time, when an older version's all lie behind the
		// newer ones': it read 66,754 rows for a page, 16 to 43 ms at
		// 100,000. As a range, with the order led by version (one version:
		// the same order), no other index yields the order.
		v := w.arg(f.Version)
		w.where("version >= " + v + " AND version <= " + v)
		q.lead = "version"
	case f.Version != "":
		// One owner's: invocations_owner_plugin_created, filtered, reads
		// no more than the owner's invocations of the plugin.
		w.where("version = " + w.arg(f.Version))
	}
	w.window("created_at", f.Since, f.Until)
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		w.where("status = ANY(" + w.arg(statuses) + ")")
	}
	if f.OwnerID != 0 {
		w.where("owner_id = " + w.arg(f.OwnerID))
	}
	return listPage(ctx, db, &w, q, scanInvocation, func(inv *orc.Invocation) (time.Time, string) { return inv.CreatedAt, inv.ID })
}

// pageQuery is a list of invocations, newest first by a time column, and
// the page asked for.
type pageQuery struct {
	columns string
	orderBy string // a time column of invocations; id breaks ties
	// lead, when set, is a column the filter holds to one value, put first
	// in the order to tell PostgreSQL which index yields it.
	lead   string
	cursor string
	limit  int
}

// listPage returns a page of the rows of invocations that w selects,
// ordered by q.orderBy and id, both descending, and the cursor of the next
// page. Every paged list of invocations goes through it, so that they page
// alike. key returns what a row is ordered by.
func listPage[T any](ctx context.Context, db *DB, w *filter, q pageQuery,
	scan func(scanner) (T, error), key func(T) (time.Time, string)) ([]T, string, error) {
	if q.cursor != "" {
		at, id, err := decodeCursor(q.cursor)
		if err != nil {
			return nil, "", err
		}
		w.where(fmt.Sprintf("(%s, id) < (%s, %s)", q.orderBy, w.arg(at), w.arg(id)))
	}
	limit := pageSize(q.limit)
	order := q.orderBy + ` DESC, id DESC`
	if q.lead != "" {
		order = q.lead + ", " + order
	}
	sql := `SELECT ` + q.columns + ` FROM invocations` + w.sql() + ` ORDER BY ` + order + ` LIMIT ` + w.arg(limit+1)
	rows, err := db.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, "", dbError(err, "")
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		list = append(list, item)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbError(err, "")
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(key(list[limit-1]))
	}
	return list, next, nil
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

// The times a cursor may name: years 1 to 9999, within PostgreSQL's range.
var (
	minCursorTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCursorTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

func decodeCursor(c string) (time.Time, pgtype.UUID, error) {
	bad := orc.Errorf(orc.EINVALID, "invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, pgtype.UUID{}, bad
	}
	ts, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return time.Time{}, pgtype.UUID{}, bad
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, pgtype.UUID{}, bad
	}
	// A crafted cursor may name any time; PostgreSQL's timestamps end in
	// 294276 AD and would refuse a later one as a server error.
	if at := time.UnixMicro(us); at.Before(minCursorTime) || at.After(maxCursorTime) {
		return time.Time{}, pgtype.UUID{}, orc.Errorf(orc.EINVALID, "invalid cursor: its time is out of range")
	}
	u, err := parseID(id)
	if err != nil {
		return time.Time{}, pgtype.UUID{}, bad
	}
	return time.UnixMicro(us), u, nil
}

// StartAttempt marks an invocation running and counts the attempt. The
// queue wait is measured from creation to the first attempt.
//
// Its commit is not waited for. A start lost in a crash of PostgreSQL
// leaves the row at the earlier attempt count; the attempt's result is then
// refused by FinishInvocation's fence, and the worker has the task
// delivered again (runtime.Worker.finish).
func (db *DB) StartAttempt(ctx context.Context, id, worker, node string, at time.Time) (*orc.Invocation, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	return db.updateUnfinishedOn(ctx, db.lazy, id, startAttempt, u, worker, node, at)
}

// startAttempt is StartAttempt's statement: the row's update and the
// attempt's record in one round trip.
const startAttempt = `WITH started AS (UPDATE invocations SET
			status = 'running', attempts = attempts + 1, worker = $2, node = $3, started_at = $4,
			queue_ms = CASE WHEN attempts = 0 THEN greatest(extract(epoch FROM ($4 - created_at)) * 1000, 0) ELSE queue_ms END
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING ` + invocationColumns + `),
	attempt AS (` + recordAttempt + ` SELECT id, attempts, $2, $3, $4 FROM started ` + recordAttemptConflict + `)
	SELECT * FROM started`

// recordAttempt and recordAttemptConflict enclose the SELECT of an
// attempt's record (invocation, attempt, worker, node, start). A record
// that exists already is kept: the attempt fence makes the numbers
// unique, so only a replayed statement could find one.
const (
	recordAttempt         = `INSERT INTO invocation_attempts (invocation_id, attempt, worker, node, started_at)`
	recordAttemptConflict = `ON CONFLICT (invocation_id, attempt) DO NOTHING`
)

// updateUnfinished runs an UPDATE … WHERE id = $1 AND status IN ('queued',
// 'running') RETURNING invocationColumns. When it changes nothing, the
// invocation is returned with ECONFLICT (it is final) or ENOTFOUND.
func (db *DB) updateUnfinished(ctx context.Context, id string, sql string, args ...any) (*orc.Invocation, error) {
	return db.updateUnfinishedOn(ctx, db.pool, id, sql, args...)
}

func (db *DB) updateUnfinishedOn(ctx context.Context, pool *pgxpool.Pool, id string, sql string, args ...any) (*orc.Invocation, error) {
	for try := 0; ; try++ {
		inv, err := scanInvocation(pool.QueryRow(ctx, sql, args...))
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
		if inv.Status.Terminal() {
			return inv, orc.Errorf(orc.ECONFLICT, "invocation is already %s", inv.Status)
		}
		// Unfinished after all: the row was committed between the two
		// statements (a gateway records a synchronous call while it queues
		// it). Once more.
		if try == 2 {
			return nil, orc.Errorf(orc.EUNAVAILABLE, "invocation %s changed while it was updated", id)
		}
	}
}

// finishSet is what committing a result writes, $2 to $12.
const finishSet = `status = $2, output = $3, error_code = $4, error_message = $5, worker = $6, node = $7,
		cold_start = $8, cold_ms = $9, run_ms = $10, finished_at = $11, driver = $12`

// finishStarted is FinishInvocation's UPDATE: the latest attempt ($13)
// wins while the invocation is unfinished. Attempt 0, a result recorded by
// no attempt, is fenced by the status alone (dead letters, which were,
// go through MarkDead now).
const finishStarted = `UPDATE invocations SET ` + finishSet + `
	WHERE id = $1 AND status IN ('queued', 'running') AND ($13 = 0 OR attempts = $13)`

// finishUnstarted is FinishUnstarted's UPDATE: it counts the attempt that
// started at $13 and wins only while no attempt has started, the
// invocation still queued with version $14 and input $15: what ran is
// what was recorded, whatever the message said. The inputs compare as
// values (jsonb): the message's copy went through encoding/json, which
// drops the white space a client sent.
const finishUnstarted = `UPDATE invocations SET ` + finishSet + `,
		attempts = attempts + 1, started_at = $13,
		queue_ms = CASE WHEN attempts = 0
			THEN greatest(extract(epoch FROM ($13 - created_at)) * 1000, 0) ELSE queue_ms END
	WHERE id = $1 AND status = 'queued' AND version_id = $14 AND input::jsonb = $15::jsonb`

// withLogs wraps a finishing UPDATE whose last parameter is $last so that
// the result's log lines are stored in the same statement, only if the
// result won; attempt is the attempt each line is stored with, and also
// (when not empty) a statement of the CTE "won" that runs with them.
func withLogs(update string, last int, attempt, also string) string {
	if also != "" {
		also = "also AS (" + also + "),"
	}
	return fmt.Sprintf(`WITH won AS (%s
		RETURNING id, attempts), %s
	logs AS (
		INSERT INTO invocation_logs (invocation_id, seq, attempt, stream, at, line)
		SELECT won.id, b.base + t.ord, %s, t.stream, t.at, t.line
		FROM won, unnest($%d::int[], $%d::text[], $%d::timestamptz[], $%d::text[]) WITH ORDINALITY AS t(attempt, stream, at, line, ord),
			(SELECT coalesce(max(seq), 0) AS base FROM invocation_logs WHERE invocation_id = $1) b
		RETURNING 1)
	SELECT count(*) FROM won`, update, also, attempt, last+1, last+2, last+3, last+4)
}

// unstartedAttempt records the attempt a short warm call counted, in the
// statement that commits its result: worker ($6), node ($7), start ($13).
const unstartedAttempt = recordAttempt + ` SELECT id, attempts, $6, $7, $13 FROM won ` + recordAttemptConflict

var (
	finishStartedWithLogs = withLogs(finishStarted, 13, "t.attempt", "")
	// finishUnstartedRecorded selects a row per winner, so that its
	// command tag counts them as an UPDATE's would.
	finishUnstartedRecorded = `WITH won AS (` + finishUnstarted + ` RETURNING id, attempts),
	also AS (` + unstartedAttempt + `)
	SELECT 1 FROM won`
	finishUnstartedWithLogs = withLogs(finishUnstarted, 15, "won.attempts", unstartedAttempt)
)

// FinishInvocation commits a started attempt's result and its logs in one
// statement (one round trip, atomic), unless the invocation is terminal or
// a later attempt has started: only a winning attempt's logs are stored.
func (db *DB) FinishInvocation(ctx context.Context, id string, r *orc.Result) (bool, error) {
	return db.finish(ctx, id, r, finishStarted, finishStartedWithLogs, r.Attempt)
}

// FinishUnstarted commits the result of a run that was never marked
// started, counting its attempt, unless an attempt has started or the
// invocation is final or of another version than r.VersionID or another
// input than r.Input. Its log
// lines are stored with the attempt it counted.
func (db *DB) FinishUnstarted(ctx context.Context, id string, r *orc.Result) (bool, error) {
	return db.finish(ctx, id, r, finishUnstartedRecorded, finishUnstartedWithLogs, r.StartedAt, r.VersionID, string(r.Input))
}

// finish runs one of the finishing statements: update without log lines,
// withLogs with them; fence are its parameters after $12.
func (db *DB) finish(ctx context.Context, id string, r *orc.Result, update, withLogs string, fence ...any) (bool, error) {
	u, err := parseID(id)
	if err != nil {
		return false, err
	}
	if !r.Status.Terminal() {
		return false, fmt.Errorf("finish invocation: status %q is not terminal", r.Status)
	}
	var code, message any
	if r.Error != nil {
		code, message = r.Error.Code, sanitize(r.Error.Message)
	}
	args := append([]any{u, string(r.Status), nullJSON(r.Output), code, message, r.Worker, r.Node,
		r.ColdStart, r.Timing.ColdMS, r.Timing.RunMS, r.FinishedAt, r.Driver}, fence...)
	if len(r.Logs) == 0 {
		// The common case of a warm call, without the logs' CTE: a
		// simpler statement that costs a quarter less.
		tag, err := db.pool.Exec(ctx, update, args...)
		if err != nil {
			return false, dbError(err, "")
		}
		return tag.RowsAffected() == 1, nil
	}
	attempts, streams, times, texts := logColumns(r.Logs)
	var won int
	err = db.pool.QueryRow(ctx, withLogs, append(args, attempts, streams, times, texts)...).Scan(&won)
	if err != nil {
		return false, dbError(err, "")
	}
	return won == 1, nil
}

// logColumns splits log lines into the arrays the log inserts unnest.
func logColumns(lines []orc.LogLine) ([]int32, []string, []time.Time, []string) {
	attempts := make([]int32, len(lines))
	streams := make([]string, len(lines))
	times := make([]time.Time, len(lines))
	texts := make([]string, len(lines))
	for i, l := range lines {
		attempts[i], streams[i], times[i], texts[i] = int32(l.Attempt), l.Stream, l.Time, sanitize(l.Line)
	}
	return attempts, streams, times, texts
}

// CancelInvocation marks a queued or running invocation canceled.
func (db *DB) CancelInvocation(ctx context.Context, id string, at time.Time) (*orc.Invocation, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	return db.updateUnfinished(ctx, id, `UPDATE invocations SET
			status = 'canceled', error_code = $2, error_message = 'canceled', finished_at = $3
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING `+invocationColumns, u, orc.ECANCELED, at)
}

// AppendLogs stores log lines after the invocation's last one.
func (db *DB) AppendLogs(ctx context.Context, id string, lines []orc.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	u, err := parseID(id)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return appendLogs(ctx, tx, u, lines) })
	return dbError(err, "")
}

// appendLogs stores log lines in a transaction. A transaction-scoped
// advisory lock serializes the writers of one invocation's logs, so that two
// never pick the same sequence numbers.
func appendLogs(ctx context.Context, tx pgx.Tx, id pgtype.UUID, lines []orc.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	attempts, streams, times, texts := logColumns(lines)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))`, id); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO invocation_logs (invocation_id, seq, attempt, stream, at, line)
		SELECT $1, b.base + t.ord, t.attempt, t.stream, t.at, t.line
		FROM unnest($2::int[], $3::text[], $4::timestamptz[], $5::text[]) WITH ORDINALITY AS t(attempt, stream, at, line, ord),
			(SELECT coalesce(max(seq), 0) AS base FROM invocation_logs WHERE invocation_id = $1) b`,
		id, attempts, streams, times, texts)
	return err
}

// InvocationLogs returns log lines after seq, in order.
func (db *DB) InvocationLogs(ctx context.Context, id string, afterSeq int) ([]orc.LogLine, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT seq, attempt, stream, at, line FROM invocation_logs
		WHERE invocation_id = $1 AND seq > $2 ORDER BY seq`, u, afterSeq)
	if err != nil {
		return nil, dbError(err, "")
	}
	lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orc.LogLine, error) {
		var l orc.LogLine
		err := row.Scan(&l.Seq, &l.Attempt, &l.Stream, &l.Time, &l.Line)
		return l, err
	})
	return lines, dbError(err, "")
}

// sanitize makes text storable in PostgreSQL, which refuses NUL bytes and
// invalid UTF-8.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
