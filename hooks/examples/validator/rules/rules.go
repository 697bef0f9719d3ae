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
	start, ok := parseDate(s.Bytes())
	if !ok {
		return "start_date is not a date (want 2006-01-02 or RFC 3339)"
	}
	end, ok := parseDate(e.Bytes())
	if !ok {
		return "end_date is not a date (want 2006-01-02 or RFC 3339)"
	}
	if start.After(end) {
		return fmt.Sprintf("start_date %s is after end_date %s", s.String(), e.String())
	}
	return ""
}

// parseDate parses a date as time.Parse does with time.DateOnly (midnight
// UTC), else with time.RFC3339. It reads dates itself: time.Parse takes
// about 2 µs a call in a Go hook, more than the rest of the rules.
func parseDate(b []byte) (time.Time, bool) {
	if y, m, d, ok := dateOnly(b); ok {
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
	}
	t, err := time.Parse(time.RFC3339, string(b))
	return t, err == nil
}

// dateOnly reads b as 2006-01-02: a four-digit year, a month 01–12 and a
// day of that month.
func dateOnly(b []byte) (year int, month time.Month, day int, ok bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	var n [8]int
	for i, j := range [8]int{0, 1, 2, 3, 5, 6, 8, 9} {
		c := b[j] - '0'
		if c > 9 {
			return 0, 0, 0, false
		}
		n[i] = int(c)
	}
	year = n[0]*1000 + n[1]*100 + n[2]*10 + n[3]
	month = time.Month(n[4]*10 + n[5])
	day = n[6]*10 + n[7]
	if month < time.January || month > time.December || day < 1 || day > daysIn(year, month) {
		return 0, 0, 0, false
	}
	return year, month, day, true
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
