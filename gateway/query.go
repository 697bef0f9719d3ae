package gateway

import (
	"net/url"
	"strconv"

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
