package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PutRayTask stores the task of a ray-job invocation's attempt (again, on
// a redelivery).
func (db *DB) PutRayTask(ctx context.Context, id string, attempt int, spec []byte) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO ray_tasks (invocation_id, attempt, spec) VALUES ($1, $2, $3)
		ON CONFLICT (invocation_id, attempt) DO UPDATE SET spec = excluded.spec`, u, attempt, spec)
	return dbError(err, "")
}

// RayTask returns the task of an attempt. Returns ENOTFOUND.
func (db *DB) RayTask(ctx context.Context, id string, attempt int) ([]byte, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var spec []byte
	err = db.pool.QueryRow(ctx, `SELECT spec FROM ray_tasks WHERE invocation_id = $1 AND attempt = $2`, u, attempt).Scan(&spec)
	return spec, dbError(err, "ray task not found")
}

// SetRayTaskResult stores the result of an attempt. Returns ENOTFOUND when
// its task is gone.
func (db *DB) SetRayTaskResult(ctx context.Context, id string, attempt int, result []byte) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE ray_tasks SET result = $3 WHERE invocation_id = $1 AND attempt = $2`, u, attempt, result)
	if err == nil && tag.RowsAffected() == 0 {
		return dbError(pgx.ErrNoRows, "ray task not found")
	}
	return dbError(err, "")
}

// RayTaskResult returns the result of an attempt, nil while it has none.
// Returns ENOTFOUND when its task is gone.
func (db *DB) RayTaskResult(ctx context.Context, id string, attempt int) ([]byte, error) {
	u, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var result []byte
	err = db.pool.QueryRow(ctx, `SELECT result FROM ray_tasks WHERE invocation_id = $1 AND attempt = $2`, u, attempt).Scan(&result)
	return result, dbError(err, "ray task not found")
}

// DeleteRayTasks removes an invocation's tasks, and every task older than
// before (their scheduler died before it could).
func (db *DB) DeleteRayTasks(ctx context.Context, id string, before time.Time) error {
	u, err := parseID(id)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `DELETE FROM ray_tasks WHERE invocation_id = $1 OR created_at < $2`, u, before)
	return dbError(err, "")
}
