package rules

import (
	"testing"
	"time"

	"github.com/orc-gateway/orc/sdk/hook"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"no rules apply", `{"text":"hi"}`, `{"allow":true}`},
		{"not an object", `[1,2]`, `{"allow":true}`},
		{"dates in order", `{"start_date":"2024-05-01","end_date":"2024-05-03"}`, `{"allow":true}`},
		{"same day", `{"start_date":"2024-05-01","end_date":"2024-05-01"}`, `{"allow":true}`},
		{"dates reversed", `{"start_date":"2024-05-03","end_date":"2024-05-01"}`,
			`{"allow":false,"status":422,"message":"start_date 2024-05-03 is after end_date 2024-05-01"}`},
		{"rfc 3339", `{"start_date":"2024-05-01T10:00:00Z","end_date":"2024-05-01T09:00:00Z"}`,
			`{"allow":false,"status":422,"message":"start_date 2024-05-01T10:00:00Z is after end_date 2024-05-01T09:00:00Z"}`},
		{"date and time", `{"start_date":"2024-05-02","end_date":"2024-05-01T23:00:00Z"}`,
			`{"allow":false,"status":422,"message":"start_date 2024-05-02 is after end_date 2024-05-01T23:00:00Z"}`},
		{"time and date", `{"start_date":"2024-05-01T23:00:00-02:00","end_date":"2024-05-02"}`,
			`{"allow":false,"status":422,"message":"start_date 2024-05-01T23:00:00-02:00 is after end_date 2024-05-02"}`},
		{"not a date", `{"start_date":"tomorrow","end_date":"2024-05-01"}`,
			`{"allow":false,"status":422,"message":"start_date is not a date (want 2006-01-02 or RFC 3339)"}`},
		{"no such day", `{"start_date":"2024-05-01","end_date":"2024-02-30"}`,
			`{"allow":false,"status":422,"message":"end_date is not a date (want 2006-01-02 or RFC 3339)"}`},
		{"total within", `{"quantity":4,"unit_price":25,"max_total":100}`, `{"allow":true}`},
		{"total over", `{"quantity":4,"unit_price":25.125,"max_total":100}`,
			`{"allow":false,"status":422,"message":"order total 100.5 exceeds max_total 100"}`},
		{"items over", `{"max_total":10,"items":[{"quantity":2,"unit_price":3},{"quantity":1,"unit_price":4.5}]}`,
			`{"allow":false,"status":422,"message":"order total 10.5 exceeds max_total 10"}`},
		{"items within", `{"max_total":10,"items":[{"quantity":2,"unit_price":3},{"quantity":1,"unit_price":4}]}`, `{"allow":true}`},
		{"no max_total", `{"quantity":1000,"unit_price":1000}`, `{"allow":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := hook.NewRequest([]byte(`{"phase":"pre","input":` + tc.input + `}`))
			if got := string(Check(req).AppendJSON(nil)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// isDate accepts what time.Parse reads as time.DateOnly.
func TestIsDate(t *testing.T) {
	for _, s := range []string{"2024-05-01", "2024-02-29", "2023-02-29", "2000-02-29", "1900-02-29", "2024-04-31",
		"2024-12-31", "2024-13-01", "2024-00-10", "2024-01-00", "0000-01-01", "9999-12-31", "2024-5-01", "2024/05/01",
		"2024-05-1a", "2024-05-01T10:00:00Z", "", "tomorrow", "+024-05-01", "2024-05-01 ", "2024-05-0\xff"} {
		_, err := time.Parse(time.DateOnly, s)
		if got := isDate([]byte(s)); got != (err == nil) {
			t.Errorf("isDate(%q) = %v, time.Parse says %v", s, got, err)
		}
	}
}
