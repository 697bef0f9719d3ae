package gateway

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

// queryID reads an optional id parameter: 0 when absent, EINVALID when it
// is not a positive number.
func queryID(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, orc.Errorf(orc.EINVALID, "%s must be a number", name)
	}
	return n, nil
}

// queryLimit reads the optional page size: 0 (the default) when absent,
// EINVALID outside 1 to MaxPageSize.
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > orc.MaxPageSize {
		return 0, orc.Errorf(orc.EINVALID, "limit must be between 1 and %d", orc.MaxPageSize)
	}
	return n, nil
}

// queryBool reads an optional true/false parameter: false when absent,
// EINVALID when it is something else (a typo must not mean false).
func queryBool(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, orc.Errorf(orc.EINVALID, "%s must be true or false", name)
	}
	return b, nil
}

// queryWindow reads the optional since and until parameters of a list, RFC
// 3339 times that bound it (since inclusive, until exclusive): zero when
// absent, EINVALID when one is not a time or until comes before since.
func queryWindow(q url.Values) (since, until time.Time, err error) {
	if since, err = queryTime(q, "since"); err != nil {
		return since, until, err
	}
	if until, err = queryTime(q, "until"); err != nil {
		return since, until, err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return since, until, orc.Errorf(orc.EINVALID, "until must not be before since")
	}
	return since, until, nil
}

// queryTime reads an optional RFC 3339 time parameter: zero when absent.
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err == nil {
		return at, nil
	}
	if strings.Contains(v, " ") {
		// A time zone's '+' became a space: query strings are form-encoded.
		return time.Time{}, orc.Errorf(orc.EINVALID, "%s must be a time in RFC 3339 form (2006-01-02T15:04:05Z); send the '+' of an offset as %%2B", name)
	}
	return time.Time{}, orc.Errorf(orc.EINVALID, "%s must be a time in RFC 3339 form (2006-01-02T15:04:05Z)", name)
}

// queryVersion reads the optional version parameter. No version has a
// space: one there was a '+' (semantic versions' build metadata), which a
// query string must send as %2B, and is refused with that hint.
func queryVersion(q url.Values) (string, error) {
	v := q.Get("version")
	if strings.Contains(v, " ") {
		return "", orc.Errorf(orc.EINVALID, "version %q has a space; send a '+' in a query string as %%2B", v)
	}
	return v, nil
}
