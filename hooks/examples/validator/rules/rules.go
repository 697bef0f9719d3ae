// Package rules holds the validator hook's rules, apart from its main
// package so that tests and benchmarks can call them natively:
//
//   - start_date must not be after end_date (dates as 2006-01-02 or RFC 3339);
//   - the order total must not exceed max_total, where the total is the sum
//     of quantity × unit_price over items, or the top-level quantity ×
//     unit_price when there are no items.
//
// An input that breaks a rule is denied with 422 and a message naming the
// rule; any other is allowed (fields the rules do not know are not their
// business).
package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/orc-gateway/orc/sdk/hook"
)

// Unprocessable is the status of an input that breaks a rule.
const Unprocessable = 422

// Check is the validator's handler.
func Check(req hook.Request) hook.Reply {
	in := req.Get("input")
	if in.Kind() != hook.Object {
		return hook.Allow()
	}
	if msg := checkDates(in); msg != "" {
		return hook.Deny(Unprocessable, msg)
	}
	if msg := checkTotal(in); msg != "" {
		return hook.Deny(Unprocessable, msg)
	}
	return hook.Allow()
}

// checkDates returns why start_date and end_date break the rule, or "".
func checkDates(in hook.Value) string {
	s, e := in.Key("start_date"), in.Key("end_date")
	if !s.Exists() || !e.Exists() {
		return ""
	}
	// Bytes, not String: the dates are read where they are, not copied.
	start, end := s.Bytes(), e.Bytes()
	var after bool
	if isDate(start) && isDate(end) {
		// The common case, without time.Parse (2 µs a call in wasm): two
		// dates of this form compare as text.
		after = string(start) > string(end)
	} else {
		st, ok := parseTime(start)
		if !ok {
			return "start_date is not a date (want 2006-01-02 or RFC 3339)"
		}
		et, ok := parseTime(end)
		if !ok {
			return "end_date is not a date (want 2006-01-02 or RFC 3339)"
		}
		after = st.After(et)
	}
	if after {
		return fmt.Sprintf("start_date %s is after end_date %s", s.String(), e.String())
	}
	return ""
}

// parseTime parses a date (midnight UTC) or an RFC 3339 time.
func parseTime(b []byte) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, string(b))
	if err != nil {
		t, err = time.Parse(time.RFC3339, string(b))
	}
	return t, err == nil
}

// isDate reports whether b is a date that time.Parse reads as
// time.DateOnly: a four-digit year, a month 01–12 and a day of that month.
func isDate(b []byte) bool {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9} {
		if b[i]-'0' > 9 {
			return false
		}
	}
	num := func(i, n int) (v int) {
		for _, c := range b[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	month, day := time.Month(num(5, 2)), num(8, 2)
	return month >= time.January && month <= time.December && day >= 1 && day <= daysIn(num(0, 4), month)
}

func daysIn(year int, m time.Month) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// checkTotal returns why the order total breaks max_total, or "".
func checkTotal(in hook.Value) string {
	limit := in.Key("max_total")
	if limit.Kind() != hook.Number {
		return ""
	}
	var total float64
	if items := in.Key("items"); items.Kind() == hook.Array {
		for item := range items.Items() {
			total += item.Key("quantity").Float() * item.Key("unit_price").Float()
		}
	} else {
		total = in.Key("quantity").Float() * in.Key("unit_price").Float()
	}
	if total > limit.Float() {
		return fmt.Sprintf("order total %s exceeds max_total %s", num(total), num(limit.Float()))
	}
	return ""
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
