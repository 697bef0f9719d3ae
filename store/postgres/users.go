package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

var _ orc.UserService = (*DB)(nil)

const userColumns = `u.id, u.email, u.name, u.role, coalesce(u.password_hash, ''), u.disabled, u.created_at, u.updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (*orc.User, error) {
	u := &orc.User{}
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt)
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
	var hash any
	if u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash, disabled)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at, updated_at`,
		email, u.Name, u.Role, hash, u.Disabled).Scan(&u.ID, &u.CreatedAt, &u.UpdatedAt)
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

// CreateToken stores the hash of a sign-in token. Expired tokens of every
// user are swept at the same time, so the table does not grow without end.
func (db *DB) CreateToken(ctx context.Context, userID int64, hash []byte, expires time.Time) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO auth_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		hash, userID, expires); err != nil {
		return dbError(err, "")
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM auth_tokens WHERE expires_at < $1`, db.clock.Now())
	return dbError(err, "")
}

// FindToken returns the user of an unexpired token.
func (db *DB) FindToken(ctx context.Context, hash []byte, now time.Time) (*orc.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+`
		FROM auth_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.expires_at > $2`, hash, now))
	return u, dbError(err, "token not found")
}
