package postgres

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/orc-gateway/orc"
)

var _ orc.AuditService = (*DB)(nil)

// RecordAudit appends an event to the audit log.
func (db *DB) RecordAudit(ctx context.Context, e *orc.AuditEvent) error {
	var actor any
	if e.ActorID != 0 {
		actor = e.ActorID
	}
	var details any
	if len(e.Details) > 0 {
		details = e.Details
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO audit_log (actor_id, actor_email, method, action, target_type, target, details, remote_addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, at`,
		actor, e.ActorEmail, e.Method, e.Action, e.TargetType, e.Target, details, e.RemoteAddr).Scan(&e.ID, &e.At)
	return dbError(err, "")
}

// ListAudit returns a page of the audit log, newest first. The cursor is
// the id the next page starts below.
func (db *DB) ListAudit(ctx context.Context, f orc.AuditFilter) ([]*orc.AuditEvent, string, error) {
	var w filter
	if f.ActorID != 0 {
		w.where("actor_id = " + w.arg(f.ActorID))
	}
	if f.Action != "" {
		w.where("action = " + w.arg(f.Action))
	}
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		id, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil {
			return nil, "", orc.Errorf(orc.EINVALID, "invalid cursor")
		}
		w.where("id < " + w.arg(id))
	}
	limit := pageSize(f.Limit)
	q := `SELECT id, at, coalesce(actor_id, 0), actor_email, method, action, target_type, target, details, remote_addr FROM audit_log` +
		w.sql() + ` ORDER BY id DESC LIMIT ` + w.arg(limit+1)
	rows, err := db.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, "", dbError(err, "")
	}
	defer rows.Close()
	var list []*orc.AuditEvent
	for rows.Next() {
		e := &orc.AuditEvent{}
		var details []byte
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.ActorEmail, &e.Method, &e.Action, &e.TargetType, &e.Target, &details, &e.RemoteAddr); err != nil {
			return nil, "", err
		}
		e.Details = details
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbError(err, "")
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(list[limit-1].ID, 10)))
	}
	return list, next, nil
}
