package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

var _ orc.PolicyService = (*DB)(nil)

// Policy returns the policy in force: the one set, or the default.
func (db *DB) Policy(ctx context.Context) (*orc.Policy, error) {
	var doc []byte
	p := &orc.Policy{}
	var by *int64
	err := db.pool.QueryRow(ctx, `SELECT doc, updated_at, updated_by FROM policy WHERE id = 1`).Scan(&doc, &p.UpdatedAt, &by)
	if errors.Is(err, pgx.ErrNoRows) {
		return orc.DefaultPolicy(), nil
	}
	if err != nil {
		return nil, dbError(err, "")
	}
	if err := json.Unmarshal(doc, p); err != nil {
		return nil, fmt.Errorf("decode policy: %w", err)
	}
	if by != nil {
		p.UpdatedBy = *by
	}
	return p, nil
}

// SetPolicy replaces the policy, recording when and by whom (p.UpdatedBy).
func (db *DB) SetPolicy(ctx context.Context, p *orc.Policy) error {
	cp := *p
	cp.UpdatedAt, cp.UpdatedBy = db.clock.Now(), p.UpdatedBy
	doc, err := json.Marshal(&cp)
	if err != nil {
		return fmt.Errorf("encode policy: %w", err)
	}
	var by *int64
	if p.UpdatedBy != 0 {
		by = &p.UpdatedBy
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO policy (id, doc, updated_at, updated_by) VALUES (1, $1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		doc, cp.UpdatedAt, by)
	if err == nil {
		p.UpdatedAt = cp.UpdatedAt
	}
	return dbError(err, "")
}

// ClaimPool makes ownerID the owner of a pool that has none and returns
// the pool's owner.
func (db *DB) ClaimPool(ctx context.Context, pool string, ownerID int64) (int64, error) {
	var owner int64
	err := db.pool.QueryRow(ctx, `WITH claimed AS (
			INSERT INTO pool_owners (pool, owner_id) VALUES ($1, $2) ON CONFLICT (pool) DO NOTHING RETURNING owner_id)
		SELECT owner_id FROM claimed UNION ALL SELECT owner_id FROM pool_owners WHERE pool = $1 LIMIT 1`, pool, ownerID).Scan(&owner)
	return owner, dbError(err, "")
}

// Usage counts what a user keeps: plugins, versions, hooks and usable API
// keys.
func (db *DB) Usage(ctx context.Context, userID int64) (*orc.Usage, error) {
	u := &orc.Usage{}
	err := db.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM plugins WHERE owner_id = $1),
			(SELECT count(*) FROM plugin_versions v JOIN plugins p ON p.id = v.plugin_id WHERE p.owner_id = $1),
			(SELECT count(*) FROM hooks WHERE owner_id = $1),
			(SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2))`,
		userID, db.clock.Now()).Scan(&u.Plugins, &u.Versions, &u.Hooks, &u.APIKeys)
	return u, dbError(err, "")
}

// ImageUsers returns the users whose plugins' versions run image.
func (db *DB) ImageUsers(ctx context.Context, image string) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT p.owner_id FROM plugin_versions v JOIN plugins p ON p.id = v.plugin_id
		WHERE v.image = $1 AND p.owner_id IS NOT NULL`, image)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err, "")
		}
		out = append(out, id)
	}
	return out, dbError(rows.Err(), "")
}
