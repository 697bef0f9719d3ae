package postgres

import (
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

// filter builds the WHERE clause of a list query and its arguments.
type filter struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder ($n).
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

// where adds a condition.
func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

// window bounds a time column: since inclusive, until exclusive, a zero
// time unbounded.
func (f *filter) window(column string, since, until time.Time) {
	if !since.IsZero() {
		f.where(column + " >= " + f.arg(since))
	}
	if !until.IsZero() {
		f.where(column + " < " + f.arg(until))
	}
}

// sql returns " WHERE …", or "" without conditions.
func (f *filter) sql() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// pageSize is a list's page size: the default when none was asked for,
// at most MaxPageSize.
func pageSize(limit int) int {
	if limit <= 0 {
		return orc.DefaultPageSize
	}
	return min(limit, orc.MaxPageSize)
}
