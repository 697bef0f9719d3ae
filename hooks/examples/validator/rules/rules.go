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
	start, err := parseDate(s.String())
	if err != nil {
		return "start_date is not a date (want 2006-01-02 or RFC 3339)"
	}
	end, err := parseDate(e.String())
	if err != nil {
		return "end_date is not a date (want 2006-01-02 or RFC 3339)"
	}
	if start.After(end) {
		return fmt.Sprintf("start_date %s is after end_date %s", s.String(), e.String())
	}
	return ""
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
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
