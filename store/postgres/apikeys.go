package postgres

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

var _ orc.APIKeyService = (*DB)(nil)

const apiKeyColumns = `k.id, k.user_id, k.name, k.prefix, k.key_hash, coalesce(k.role, ''), k.expires_at, k.created_at, k.last_used_at, k.revoked_at`

func scanAPIKey(row scanner) (*orc.APIKey, error) {
	k := &orc.APIKey{}
	err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Hash, &k.Role, &k.ExpiresAt, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	return k, err
}

// CreateAPIKey stores a new key's prefix and hash.
func (db *DB) CreateAPIKey(ctx context.Context, k *orc.APIKey) error {
	if k.Role != "" && !k.Role.Valid() {
		return orc.Errorf(orc.EINVALID, "unknown role %q", k.Role)
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO api_keys (user_id, name, prefix, key_hash, role, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
		k.UserID, k.Name, k.Prefix, k.Hash, nullString(string(k.Role)), k.ExpiresAt).Scan(&k.ID, &k.CreatedAt)
	if isUniqueViolation(err) {
		return orc.Errorf(orc.ECONFLICT, "an API key with this prefix exists")
	}
	return dbError(err, "")
}

// FindAPIKeyByPrefix returns a key and its owner.
func (db *DB) FindAPIKeyByPrefix(ctx context.Context, prefix string) (*orc.APIKey, *orc.User, error) {
	k, u := &orc.APIKey{}, &orc.User{}
	err := db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+`, `+userColumns+`
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1`, prefix).Scan(
		&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Hash, &k.Role, &k.ExpiresAt, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt,
		&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
		&u.OIDCIssuer, &u.OIDCSubject, &u.RolePinned, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, nil, dbError(err, "API key not found")
	}
	return k, u, nil
}

// FindAPIKey returns a key by id.
func (db *DB) FindAPIKey(ctx context.Context, id int64) (*orc.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE id = $1`, id))
	return k, dbError(err, "API key not found")
}

// ListAPIKeys returns the keys of a user, or everyone's for 0, newest first.
func (db *DB) ListAPIKeys(ctx context.Context, userID int64) ([]*orc.APIKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k
		WHERE $1::bigint = 0 OR user_id = $1 ORDER BY id DESC`, userID) // "$1 = 0" alone made $1 a 32-bit integer
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var list []*orc.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, k)
	}
	return list, dbError(rows.Err(), "")
}

// RevokeAPIKey marks a key revoked.
func (db *DB) RevokeAPIKey(ctx context.Context, id int64, at time.Time) (*orc.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `UPDATE api_keys k SET revoked_at = $2
		WHERE id = $1 AND revoked_at IS NULL RETURNING `+apiKeyColumns, id, at))
	if orc.ErrorCode(dbError(err, "")) == orc.ENOTFOUND {
		if _, ferr := db.FindAPIKey(ctx, id); ferr != nil {
			return nil, ferr
		}
		return nil, orc.Errorf(orc.ECONFLICT, "the API key is already revoked")
	}
	return k, dbError(err, "")
}

// TouchAPIKey records a key's use. It writes at most once a minute per key:
// last_used_at tells which keys are in use, not every request.
func (db *DB) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`, id, at)
	return dbError(err, "")
}
