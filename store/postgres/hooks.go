package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orc-gateway/orc"
)

var _ orc.HookService = (*DB)(nil)

const hookColumns = `name, description, sha256, length(module), global, coalesce(owner_id, 0), created_at`

func scanHook(row scanner, module bool) (*orc.Hook, error) {
	h := &orc.Hook{}
	dest := []any{&h.Name, &h.Description, &h.SHA256, &h.Size, &h.Global, &h.OwnerID, &h.CreatedAt}
	if module {
		dest = append(dest, &h.Module)
	}
	return h, row.Scan(dest...)
}

// CreateHook stores a validated hook.
func (db *DB) CreateHook(ctx context.Context, h *orc.Hook) error {
	var owner any
	if h.OwnerID != 0 {
		owner = h.OwnerID
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO hooks (name, description, sha256, module, global, owner_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		h.Name, h.Description, h.SHA256, h.Module, h.Global, owner).Scan(&h.CreatedAt)
	if isUniqueViolation(err) {
		return orc.Errorf(orc.ECONFLICT, "hook %q exists", h.Name)
	}
	h.Size = len(h.Module)
	return dbError(err, "")
}

// FindHook returns a hook with its module.
func (db *DB) FindHook(ctx context.Context, name string) (*orc.Hook, error) {
	h, err := scanHook(db.pool.QueryRow(ctx, `SELECT `+hookColumns+`, module FROM hooks WHERE name = $1`, name), true)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("hook %q not found", name))
	}
	return h, nil
}

// ListHooks returns every hook without its module.
func (db *DB) ListHooks(ctx context.Context) ([]*orc.Hook, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+hookColumns+` FROM hooks ORDER BY name`)
	if err != nil {
		return nil, dbError(err, "")
	}
	hooks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.Hook, error) { return scanHook(row, false) })
	return hooks, dbError(err, "")
}

// DeleteHook removes a hook that no plugin version names. It locks the
// hook's row before it looks for versions naming it, and CreateVersion
// holds a share lock on the hooks it names until it commits: either the
// version is stored first and the delete sees it, or the hook is gone first
// and the registration fails.
func (db *DB) DeleteHook(ctx context.Context, name string) error {
	return dbError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var found string
		err := tx.QueryRow(ctx, `SELECT name FROM hooks WHERE name = $1 FOR UPDATE`, name).Scan(&found)
		if errors.Is(err, pgx.ErrNoRows) {
			return orc.Errorf(orc.ENOTFOUND, "hook %q not found", name)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT p.name || ' ' || v.version FROM plugin_versions v JOIN plugins p ON p.id = v.plugin_id
			WHERE v.spec->'hooks'->'pre' ? $1 OR v.spec->'hooks'->'post' ? $1 ORDER BY 1 LIMIT 10`, name)
		if err != nil {
			return err
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return orc.Errorf(orc.ECONFLICT, "hook %q is used by %s", name, strings.Join(users, ", "))
		}
		tag, err := tx.Exec(ctx, `DELETE FROM hooks WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return orc.Errorf(orc.ENOTFOUND, "hook %q not found", name)
		}
		return nil
	}), "")
}

// HookUses returns the versions that name a hook, by plugin and version.
func (db *DB) HookUses(ctx context.Context, name string) ([]*orc.HookUse, error) {
	rows, err := db.pool.Query(ctx, `SELECT p.name, v.version, ph.phase, coalesce(p.owner_id, 0), p.public
		FROM plugin_versions v JOIN plugins p ON p.id = v.plugin_id
		CROSS JOIN LATERAL (VALUES ('pre'), ('post')) AS ph(phase)
		WHERE v.spec->'hooks'->ph.phase ? $1
		ORDER BY p.name, v.created_at, ph.phase DESC`, name)
	if err != nil {
		return nil, dbError(err, "")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*orc.HookUse, error) {
		u := &orc.HookUse{}
		return u, row.Scan(&u.Plugin, &u.Version, &u.Phase, &u.OwnerID, &u.Public)
	})
	return list, dbError(err, "")
}
