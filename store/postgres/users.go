package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

var _ orc.UserService = (*DB)(nil)

const userColumns = `u.id, u.email, u.name, u.role, coalesce(u.password_hash, ''), u.disabled,
	coalesce(u.oidc_issuer, ''), coalesce(u.oidc_subject, ''), u.role_pinned, u.last_login_at, u.created_at, u.updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (*orc.User, error) {
	u := &orc.User{}
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
		&u.OIDCIssuer, &u.OIDCSubject, &u.RolePinned, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// CreateUser stores a new user and sets its ID and times.
func (db *DB) CreateUser(ctx context.Context, u *orc.User) error {
	if !u.Role.Valid() {
		return orc.Errorf(orc.EINVALID, "unknown role %q", u.Role)
	}
	email := strings.TrimSpace(u.Email)
	if email == "" {
		return orc.Errorf(orc.EINVALID, "e-mail is required")
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash, disabled, oidc_issuer, oidc_subject, role_pinned, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, created_at, updated_at`,
		email, u.Name, u.Role, nullString(u.PasswordHash), u.Disabled, nullString(u.OIDCIssuer), nullString(u.OIDCSubject),
		u.RolePinned, u.LastLoginAt).Scan(&u.ID, &u.CreatedAt, &u.UpdatedAt)
	if isUniqueViolation(err) {
		return orc.Errorf(orc.ECONFLICT, "a user with e-mail %q exists", email)
	}
	if err != nil {
		return dbError(err, "")
	}
	u.Email = email
	return nil
}

// FindUserByEmail returns a user by e-mail, ignoring case.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*orc.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE lower(email) = lower($1)`, strings.TrimSpace(email)))
	return u, dbError(err, "user not found")
}

// FindUserByID returns a user by id.
func (db *DB) FindUserByID(ctx context.Context, id int64) (*orc.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE id = $1`, id))
	return u, dbError(err, "user not found")
}

// UpdatePassword replaces a user's password hash.
func (db *DB) UpdatePassword(ctx context.Context, id int64, hash string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`, id, hash)
	if err != nil {
		return dbError(err, "")
	}
	if tag.RowsAffected() == 0 {
		return orc.Errorf(orc.ENOTFOUND, "user not found")
	}
	return nil
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FindUserByOIDC returns the user linked to an OpenID provider's subject.
func (db *DB) FindUserByOIDC(ctx context.Context, issuer, subject string) (*orc.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u
		WHERE oidc_issuer = $1 AND oidc_subject = $2`, issuer, subject))
	return u, dbError(err, "user not found")
}

// ListUsers returns a page of users ordered by id.
func (db *DB) ListUsers(ctx context.Context, f orc.UserFilter) ([]*orc.User, error) {
	limit := f.Limit
	if limit <= 0 || limit > orc.MaxPageSize {
		limit = orc.MaxPageSize
	}
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE id > $1 ORDER BY id LIMIT $2`, f.AfterID, limit)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var list []*orc.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, u)
	}
	return list, dbError(rows.Err(), "")
}

// UpdateUser changes the fields of up that are set.
func (db *DB) UpdateUser(ctx context.Context, id int64, up orc.UserUpdate) (*orc.User, error) {
	if up.Role != nil && !up.Role.Valid() {
		return nil, orc.Errorf(orc.EINVALID, "unknown role %q", *up.Role)
	}
	var role *string
	if up.Role != nil {
		r := string(*up.Role)
		role = &r
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `UPDATE users u SET
			name = coalesce($2, name), role = coalesce($3, role), disabled = coalesce($4, disabled),
			role_pinned = coalesce($5, role_pinned), updated_at = now()
		WHERE id = $1 RETURNING `+userColumns, id, up.Name, role, up.Disabled, up.RolePinned))
	return u, dbError(err, "user not found")
}

// RecordSignIn records a sign-in.
func (db *DB) RecordSignIn(ctx context.Context, id int64, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE users SET last_login_at = $2 WHERE id = $1`, id, at)
	return dbError(err, "")
}

// LinkOIDC links a user to a provider's subject and records the sign-in.
func (db *DB) LinkOIDC(ctx context.Context, id int64, issuer, subject string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET oidc_issuer = $2, oidc_subject = $3, last_login_at = $4, updated_at = now()
		WHERE id = $1`, id, issuer, subject, at)
	if isUniqueViolation(err) {
		return orc.Errorf(orc.ECONFLICT, "the identity is linked to another account")
	}
	if err != nil {
		return dbError(err, "")
	}
	if tag.RowsAffected() == 0 {
		return orc.Errorf(orc.ENOTFOUND, "user not found")
	}
	return nil
}

// StoreToken stores the hash of a sign-in token or session. Expired tokens
// of every user are swept at the same time, so the table does not grow
// without end.
func (db *DB) StoreToken(ctx context.Context, t *orc.Token) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO auth_tokens (token_hash, user_id, expires_at, method, session)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.UserID, t.ExpiresAt, t.Method, t.Session); err != nil {
		return dbError(err, "")
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM auth_tokens WHERE expires_at < $1`, db.clock.Now())
	return dbError(err, "")
}

// LookupToken returns an unexpired token and its user.
func (db *DB) LookupToken(ctx context.Context, hash []byte, now time.Time) (*orc.Token, *orc.User, error) {
	t := &orc.Token{Hash: hash}
	u := &orc.User{}
	err := db.pool.QueryRow(ctx, `SELECT t.user_id, t.method, t.session, t.expires_at, `+userColumns+`
		FROM auth_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.expires_at > $2`, hash, now).Scan(&t.UserID, &t.Method, &t.Session, &t.ExpiresAt,
		&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
		&u.OIDCIssuer, &u.OIDCSubject, &u.RolePinned, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, nil, dbError(err, "token not found")
	}
	return t, u, nil
}

// DeleteToken removes a token or session.
func (db *DB) DeleteToken(ctx context.Context, hash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM auth_tokens WHERE token_hash = $1`, hash)
	return dbError(err, "")
}
