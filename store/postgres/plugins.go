package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/semver"

	"github.com/orc-gateway/orc"
)

var _ orc.PluginService = (*DB)(nil)

const pluginColumns = `p.id, p.name, p.description, coalesce(p.owner_id, 0), p.public, p.latest_version, p.created_at, p.updated_at`

const versionColumns = `v.id, p.name, v.version, v.description, v.image, v.protocol, v.input_schema, v.output_schema, v.spec, v.created_at`

func scanPlugin(row scanner) (*orc.Plugin, error) {
	p := &orc.Plugin{}
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.OwnerID, &p.Public, &p.LatestVersion, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// versionRow receives the versionColumns of a row, which are all NULL when a
// LEFT JOIN found no version.
type versionRow struct {
	id                             *int64
	name, version, desc, image, pr *string
	in, out, spec                  []byte
	created                        *time.Time
}

func (r *versionRow) dest() []any {
	return []any{&r.id, &r.name, &r.version, &r.desc, &r.image, &r.pr, &r.in, &r.out, &r.spec, &r.created}
}

// toVersion returns the version, or nil when the row had none.
func (r *versionRow) toVersion() (*orc.Version, error) {
	if r.id == nil {
		return nil, nil
	}
	v := &orc.Version{}
	if err := json.Unmarshal(r.spec, v); err != nil {
		return nil, fmt.Errorf("decode version spec: %w", err)
	}
	v.ID, v.Plugin, v.Version, v.Description, v.Image = *r.id, *r.name, *r.version, *r.desc, *r.image
	v.Protocol, v.InputSchema, v.OutputSchema, v.CreatedAt = orc.Protocol(*r.pr), r.in, r.out, *r.created
	v.SetDefaults()
	return v, nil
}

func scanVersion(row scanner) (*orc.Version, error) {
	var r versionRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.toVersion()
}

// CreateVersion stores a validated version, creating its plugin when it is
// the first. The plugin's latest version moves to the new one when newer
// says so.
func (db *DB) CreateVersion(ctx context.Context, owner *orc.Principal, v *orc.Version) (*orc.Version, error) {
	spec := *v
	spec.InputSchema, spec.OutputSchema = nil, nil
	specJSON, err := json.Marshal(&spec)
	if err != nil {
		return nil, fmt.Errorf("encode version spec: %w", err)
	}
	var created *orc.Version
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Create the plugin if it is new; a concurrent first registration
		// of the same name makes this a no-op, and the select below waits
		// for it and finds its row.
		public := v.Public != nil && *v.Public
		if _, err := tx.Exec(ctx, `INSERT INTO plugins (name, description, owner_id, public)
			VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`, v.Plugin, v.Description, owner.UserID, public); err != nil {
			return err
		}
		p, err := scanPlugin(tx.QueryRow(ctx, `SELECT `+pluginColumns+` FROM plugins p WHERE p.name = $1 FOR UPDATE`, v.Plugin))
		switch {
		case err != nil:
			return err
		case p.OwnerID != owner.UserID && !owner.IsAdmin():
			return orc.Errorf(orc.EFORBIDDEN, "plugin %q belongs to another user", v.Plugin)
		}
		if err := lockHooks(ctx, tx, v); err != nil {
			return err
		}
		row := tx.QueryRow(ctx, `WITH v AS (
				INSERT INTO plugin_versions (plugin_id, version, description, image, protocol, input_schema, output_schema, spec)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *)
			SELECT `+versionColumns+` FROM v JOIN plugins p ON p.id = v.plugin_id`,
			p.ID, v.Version, v.Description, v.Image, string(v.Protocol), nullJSON(v.InputSchema), nullJSON(v.OutputSchema), specJSON)
		created, err = scanVersion(row)
		if isUniqueViolation(err) {
			return orc.Errorf(orc.ECONFLICT, "version %s of plugin %q exists", v.Version, v.Plugin)
		}
		if err != nil {
			return err
		}
		latest := p.LatestVersion
		if latest == "" || newer(v.Version, latest) {
			latest = v.Version
		}
		public = p.Public
		if v.Public != nil {
			public = *v.Public
		}
		_, err = tx.Exec(ctx, `UPDATE plugins SET latest_version = $2, description = $3, public = $4, updated_at = now() WHERE id = $1`,
			p.ID, latest, v.Description, public)
		return err
	})
	if err != nil {
		return nil, dbError(err, "")
	}
	return created, nil
}

// lockHooks holds a share lock on every hook v names until the transaction
// ends, so that DeleteHook cannot remove one between the registry's check
// and the commit; a hook deleted meanwhile is EINVALID, as if it had never
// existed.
func lockHooks(ctx context.Context, tx pgx.Tx, v *orc.Version) error {
	names := append(slices.Clone(v.Hooks.Pre), v.Hooks.Post...)
	if len(names) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT name FROM hooks WHERE name = ANY($1) FOR SHARE`, names)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, phase := range []struct {
		name  string
		hooks []string
	}{{"pre", v.Hooks.Pre}, {"post", v.Hooks.Post}} {
		for i, name := range phase.hooks {
			if !slices.Contains(found, name) {
				msg := fmt.Sprintf("no hook named %q", name)
				return &orc.Error{Code: orc.EINVALID, Message: msg,
					Details: []orc.Problem{{Pointer: fmt.Sprintf("/hooks/%s/%d", phase.name, i), Message: msg}}}
			}
		}
	}
	return nil
}

// newer reports whether version a, registered after b, should replace b
// as the latest: a semantic version beats every other version and the
// higher of two wins; among versions that are not semantic versions
// ("beta", "2024-05"), the newest registered wins, while no semantic
// version is registered.
func newer(a, b string) bool {
	sa, sb := semver.IsValid("v"+a), semver.IsValid("v"+b)
	switch {
	case sa && sb:
		return semver.Compare("v"+a, "v"+b) > 0
	case sa != sb:
		return sa
	}
	return true
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// FindPlugin returns a plugin by name, or by id when name is a number.
func (db *DB) FindPlugin(ctx context.Context, name string) (*orc.Plugin, error) {
	where := `p.name = $1`
	var arg any = name
	if id, err := strconv.ParseInt(name, 10, 64); err == nil {
		where, arg = `p.id = $1`, id
	}
	p, err := scanPlugin(db.pool.QueryRow(ctx, `SELECT `+pluginColumns+` FROM plugins p WHERE `+where, arg))
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("plugin %q not found", name))
	}
	if p.Latest, err = db.FindVersion(ctx, p.Name, ""); err != nil && orc.ErrorCode(err) != orc.ENOTFOUND {
		return nil, err
	}
	return p, nil
}

// ListPlugins returns the plugins the filter's viewer may see.
func (db *DB) ListPlugins(ctx context.Context, f orc.PluginFilter) ([]*orc.Plugin, error) {
	q := `SELECT ` + pluginColumns + `, ` + versionColumns + `
		FROM plugins p LEFT JOIN plugin_versions v ON v.plugin_id = p.id AND v.version = p.latest_version`
	var args []any
	if f.Viewer != nil && !f.Viewer.IsAdmin() {
		q += ` WHERE p.public OR p.owner_id = $1`
		args = append(args, f.Viewer.UserID)
	}
	rows, err := db.pool.Query(ctx, q+` ORDER BY p.name`, args...)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var plugins []*orc.Plugin
	for rows.Next() {
		var r versionRow
		p := &orc.Plugin{}
		dest := append([]any{&p.ID, &p.Name, &p.Description, &p.OwnerID, &p.Public, &p.LatestVersion, &p.CreatedAt, &p.UpdatedAt}, r.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if p.Latest, err = r.toVersion(); err != nil {
			return nil, err
		}
		plugins = append(plugins, p)
	}
	return plugins, dbError(rows.Err(), "")
}

// DeletePlugin removes a plugin and its versions.
func (db *DB) DeletePlugin(ctx context.Context, name string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM plugins WHERE name = $1`, name)
	if err != nil {
		return dbError(err, "")
	}
	if tag.RowsAffected() == 0 {
		return orc.Errorf(orc.ENOTFOUND, "plugin %q not found", name)
	}
	return nil
}

// FindVersion returns a version of a plugin, the latest when version is "".
func (db *DB) FindVersion(ctx context.Context, plugin, version string) (*orc.Version, error) {
	var row pgx.Row
	if version == "" {
		row = db.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM plugins p
			JOIN plugin_versions v ON v.plugin_id = p.id AND v.version = p.latest_version WHERE p.name = $1`, plugin)
	} else {
		row = db.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM plugins p
			JOIN plugin_versions v ON v.plugin_id = p.id WHERE p.name = $1 AND v.version = $2`, plugin, version)
	}
	v, err := scanVersion(row)
	if err != nil {
		if version == "" {
			return nil, dbError(err, fmt.Sprintf("plugin %q not found", plugin))
		}
		return nil, dbError(err, fmt.Sprintf("version %s of plugin %q not found", version, plugin))
	}
	return v, nil
}

// FindVersionByID returns a version by id.
func (db *DB) FindVersionByID(ctx context.Context, id int64) (*orc.Version, error) {
	v, err := scanVersion(db.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM plugin_versions v
		JOIN plugins p ON p.id = v.plugin_id WHERE v.id = $1`, id))
	if err != nil {
		return nil, dbError(err, "plugin version not found")
	}
	return v, nil
}

// ListVersions returns a plugin's versions, newest first.
func (db *DB) ListVersions(ctx context.Context, plugin string) ([]*orc.Version, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+versionColumns+` FROM plugin_versions v
		JOIN plugins p ON p.id = v.plugin_id WHERE p.name = $1 ORDER BY v.created_at DESC, v.id DESC`, plugin)
	if err != nil {
		return nil, dbError(err, "")
	}
	defer rows.Close()
	var versions []*orc.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "")
	}
	if len(versions) == 0 {
		// Every plugin has a version; none means no such plugin.
		return nil, orc.Errorf(orc.ENOTFOUND, "plugin %q not found", plugin)
	}
	return versions, nil
}
