// Package postgres implements Orc's services on PostgreSQL with pgx. Its
// schema migrations are embedded and applied by Migrate.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orc-gateway/orc"
)

// DB is a pool of connections to Orc's database.
type DB struct {
	pool *pgxpool.Pool
	// lazy is a smaller pool whose commits are not waited for
	// (synchronous_commit off): for writes whose loss in a crash of
	// PostgreSQL is harmless and detected, on the invoke path where a
	// commit's flush is a third of a statement's time.
	lazy  *pgxpool.Pool
	clock orc.Clock
}

// Open connects to the database at url. It does not check that the database
// is reachable; Ping does.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable database must fail requests quickly (503), not
		// hang them; connect_timeout in the URL overrides this.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	lazyCfg := cfg.Copy()
	lazyCfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	lazyCfg.MaxConns = max(cfg.MaxConns/2, 2)
	lazy, err := pgxpool.NewWithConfig(ctx, lazyCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &DB{pool: pool, lazy: lazy, clock: orc.SystemClock{}}, nil
}

// Close closes every connection.
func (db *DB) Close() {
	db.pool.Close()
	db.lazy.Close()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable wraps an error of reaching the database as EUNAVAILABLE.
func unavailable(err error) error {
	return orc.WrapError(orc.EUNAVAILABLE, err, "database unavailable")
}

// dbError classifies an error from pgx: nothing found becomes ENOTFOUND with
// the given message, a connection failure EUNAVAILABLE, anything else is
// wrapped as it is.
func dbError(err error, notFound string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return orc.Errorf(orc.ENOTFOUND, "%s", notFound)
	case isConnError(err):
		return unavailable(err)
	}
	return err
}

// isConnError reports whether err means the database could not be reached,
// rather than that it refused the statement.
func isConnError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P: operator intervention
		// (shutdown); 53: insufficient resources.
		c := pgErr.Code
		return len(c) >= 2 && (c[:2] == "08" || c[:2] == "53" || (len(c) >= 3 && c[:3] == "57P"))
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return pgconn.SafeToRetry(err)
}

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
