package schemaform

import "time"

// JSON Schema's date-time and time carry a time zone (RFC 3339); the
// browser's datetime-local and time inputs have none. The form shows and
// takes them in UTC.

const (
	localDateTime = "2006-01-02T15:04:05.999999999"
	localTime     = "15:04:05.999999999"
)

// toInput converts a value of the format to what its input shows, or
// reports that the input cannot show it (the field is then plain text).
func toInput(format, s string) (string, bool) {
	switch format {
	case "date":
		_, err := time.Parse(time.DateOnly, s)
		return s, err == nil
	case "date-time":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s, false
		}
		return t.UTC().Format(localDateTime), true
	case "time":
		t, err := time.Parse(localTime+"Z07:00", s)
		if err != nil {
			return s, false
		}
		return t.UTC().Format(localTime), true
	}
	return s, true
}

// fromInput converts what an input of the format posted to the format's
// text: a local date and time or time is taken as UTC. Other text is kept
// as it is, for the API to judge.
func fromInput(format, s string) string {
	var layouts []string
	switch format {
	case "date-time":
		layouts = []string{"2006-01-02T15:04", localDateTime}
	case "time":
		layouts = []string{"15:04", localTime}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			if format == "time" {
				return t.Format(localTime) + "Z"
			}
			return t.Format(localDateTime) + "Z"
		}
	}
	return s
}
