// Command redactor is a post hook that masks e-mail addresses in every
// string of the plugin's output, keeping the first letter of the local part
// and the domain (alice@example.com becomes a***@example.com) and leaving
// the structure, keys and other values as they are. An output without
// addresses passes unchanged.
package main

import (
	"bytes"
	"strings"

	"github.com/orc-gateway/orc/sdk/hook"
)

func init() { hook.Handle(redact) }

func main() {}

func redact(req hook.Request) hook.Reply {
	out := req.Get("output")
	if !bytes.Contains(out.Raw(), []byte("@")) {
		return hook.Allow()
	}
	b, changed := appendRedacted(nil, out)
	if !changed {
		return hook.Allow()
	}
	return hook.Allow().WithOutput(b)
}

// appendRedacted appends v with the addresses in its strings masked, and
// reports whether any was.
func appendRedacted(dst []byte, v hook.Value) ([]byte, bool) {
	changed := false
	switch v.Kind() {
	case hook.Object:
		dst = append(dst, '{')
		first := true
		for k, e := range v.Fields() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = hook.AppendString(dst, k)
			dst = append(dst, ':')
			var c bool
			dst, c = appendRedacted(dst, e)
			changed = changed || c
		}
		return append(dst, '}'), changed
	case hook.Array:
		dst = append(dst, '[')
		first := true
		for e := range v.Items() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var c bool
			dst, c = appendRedacted(dst, e)
			changed = changed || c
		}
		return append(dst, ']'), changed
	case hook.String:
		if masked, ok := maskEmails(v.String()); ok {
			return hook.AppendString(dst, masked), true
		}
	}
	return append(dst, v.Raw()...), false
}

// maskEmails returns s with every e-mail address masked, and whether it had
// any.
func maskEmails(s string) (string, bool) {
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		start := i
		for start > done && isLocal(s[start-1]) {
			start--
		}
		end := i + 1
		for end < len(s) && isDomain(s[end]) {
			end++
		}
		for end > i+1 && (s[end-1] == '.' || s[end-1] == '-') {
			end--
		}
		if start == i || !isDomainName(s[i+1:end]) {
			continue
		}
		b.WriteString(s[done:start])
		b.WriteByte(s[start])
		b.WriteString("***")
		b.WriteString(s[i:end])
		done, i = end, end-1
	}
	if done == 0 {
		return s, false
	}
	b.WriteString(s[done:])
	return b.String(), true
}

func isLocal(c byte) bool {
	return isAlnum(c) || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func isDomain(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isDomainName reports whether d looks like a domain: labels separated by
// dots, the last of two letters or more.
func isDomainName(d string) bool {
	dot := strings.LastIndexByte(d, '.')
	if dot <= 0 || len(d)-dot-1 < 2 || strings.Contains(d, "..") {
		return false
	}
	for _, c := range []byte(d[dot+1:]) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
