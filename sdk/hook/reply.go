package hook

import (
	"strconv"
	"unicode/utf8"
)

// Reply is a hook's answer (ABI v1). Build it with Allow or Deny and the
// With and RouteTo methods, each of which returns a changed copy.
type Reply struct {
	deny    bool
	status  int
	message string
	input   []byte
	output  []byte
	route   *route
}

type route struct {
	version, pool string
	priority      int
}

// Allow lets the invocation go on.
func Allow() Reply { return Reply{} }

// Deny stops the invocation. In the pre phase the client gets status
// (400–599; 0 for the default 403) and message; in the post phase the
// invocation fails with message (status 0 for the default 502).
func Deny(status int, message string) Reply {
	return Reply{deny: true, status: status, message: message}
}

// WithMessage returns r with a message, e.g. a note to an allowed call.
func (r Reply) WithMessage(message string) Reply {
	r.message = message
	return r
}

// WithInput returns r with the input replaced by raw, which must be valid
// JSON (pre phase). The replacement is validated against the input schema of
// the version that will run.
func (r Reply) WithInput(raw []byte) Reply {
	r.input = raw
	return r
}

// WithOutput returns r with the output replaced by raw, which must be valid
// JSON (post phase).
func (r Reply) WithOutput(raw []byte) Reply {
	r.output = raw
	return r
}

// RouteTo returns r sending the invocation to another version of the plugin
// and/or another pool, with a priority of 0–9 (pre phase). An empty version
// or pool keeps the one chosen.
func (r Reply) RouteTo(version, pool string, priority int) Reply {
	r.route = &route{version: version, pool: pool, priority: priority}
	return r
}

// AppendJSON appends the reply JSON to dst.
func (r Reply) AppendJSON(dst []byte) []byte {
	if r.deny {
		dst = append(dst, `{"allow":false`...)
	} else {
		dst = append(dst, `{"allow":true`...)
	}
	if r.status != 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(r.status), 10)
	}
	if r.message != "" {
		dst = append(dst, `,"message":`...)
		dst = AppendString(dst, r.message)
	}
	if len(r.input) > 0 {
		dst = append(dst, `,"input":`...)
		dst = append(dst, r.input...)
	}
	if len(r.output) > 0 {
		dst = append(dst, `,"output":`...)
		dst = append(dst, r.output...)
	}
	if rt := r.route; rt != nil {
		dst = append(dst, `,"route":{"version":`...)
		dst = AppendString(dst, rt.version)
		dst = append(dst, `,"pool":`...)
		dst = AppendString(dst, rt.pool)
		dst = append(dst, `,"priority":`...)
		dst = strconv.AppendInt(dst, int64(rt.priority), 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// MarshalJSON returns the reply JSON.
func (r Reply) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// AppendString appends s to dst as a JSON string. It escapes what JSON
// requires, and U+2028 and U+2029 for JavaScript; bytes that are not UTF-8
// become U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is yet to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"
