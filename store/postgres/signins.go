package postgres

import (
	"context"
	"time"

	"github.com/orc-gateway/orc"
)

var _ orc.SignInService = (*DB)(nil)

// CreateSignIn stores a single sign-on under way. Expired ones are swept at
// the same time.
func (db *DB) CreateSignIn(ctx context.Context, s *orc.SignIn) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO sso_states (state, binding_hash, nonce, verifier, return_to,
			cli_redirect, cli_challenge, cli_state, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.State, s.BindingHash, s.Nonce, s.Verifier, s.ReturnTo,
		s.CLIRedirect, s.CLIChallenge, s.CLIState, s.ExpiresAt); err != nil {
		return dbError(err, "")
	}
	now := db.clock.Now()
	if _, err := db.pool.Exec(ctx, `DELETE FROM sso_states WHERE expires_at < $1`, now); err != nil {
		return dbError(err, "")
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM sso_codes WHERE expires_at < $1`, now)
	return dbError(err, "")
}

// TakeSignIn removes and returns an unexpired sign-in: each state is good
// for one callback.
func (db *DB) TakeSignIn(ctx context.Context, state string, now time.Time) (*orc.SignIn, error) {
	s := &orc.SignIn{}
	err := db.pool.QueryRow(ctx, `DELETE FROM sso_states WHERE state = $1 AND expires_at > $2
		RETURNING state, binding_hash, nonce, verifier, return_to, cli_redirect, cli_challenge, cli_state, expires_at`,
		state, now).Scan(&s.State, &s.BindingHash, &s.Nonce, &s.Verifier, &s.ReturnTo,
		&s.CLIRedirect, &s.CLIChallenge, &s.CLIState, &s.ExpiresAt)
	return s, dbError(err, "sign-in not found or expired")
}

// CreateSignInCode stores a one-time code for a command line sign-in.
func (db *DB) CreateSignInCode(ctx context.Context, c *orc.SignInCode) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sso_codes (code_hash, user_id, redirect_uri, challenge, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, c.Hash, c.UserID, c.RedirectURI, c.Challenge, c.ExpiresAt)
	return dbError(err, "")
}

// TakeSignInCode removes and returns an unexpired code: it is good once.
func (db *DB) TakeSignInCode(ctx context.Context, hash []byte, now time.Time) (*orc.SignInCode, error) {
	c := &orc.SignInCode{}
	err := db.pool.QueryRow(ctx, `DELETE FROM sso_codes WHERE code_hash = $1 AND expires_at > $2
		RETURNING code_hash, user_id, redirect_uri, challenge, expires_at`, hash, now).Scan(
		&c.Hash, &c.UserID, &c.RedirectURI, &c.Challenge, &c.ExpiresAt)
	return c, dbError(err, "code not found or expired")
}
