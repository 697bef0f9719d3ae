package hooks

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/orc-gateway/orc"
)

// requestBuf is a reusable buffer for one encoded request.
type requestBuf struct{ b []byte }

var requestBufs = sync.Pool{New: func() any { return &requestBuf{b: make([]byte, 0, 4<<10)} }}

func (r *requestBuf) free() {
	if cap(r.b) <= 1<<20 { // let big one-offs go
		requestBufs.Put(r)
	}
}

// encodeRequest writes req as the ABI's request JSON. It is hand-written
// because it is on the path of every call, several times faster than
// encoding/json, and it leaves out the credentials headers even if the
// caller passed them.
func encodeRequest(req *orc.HookRequest) (*requestBuf, error) {
	if req.Phase != orc.HookPre && req.Phase != orc.HookPost {
		return nil, fmt.Errorf("phase %q is not pre or post", req.Phase)
	}
	if len(req.Input) > 0 && !inputMemo.valid(req.Input) {
		return nil, errors.New("input is not valid JSON")
	}
	if len(req.Output) > 0 && !validJSON(req.Output) {
		return nil, errors.New("output is not valid JSON")
	}
	buf := requestBufs.Get().(*requestBuf)
	b := buf.b[:0]
	b = append(b, `{"phase":`...)
	b = appendString(b, string(req.Phase))
	b = append(b, `,"invocation_id":`...)
	b = appendString(b, req.InvocationID)
	b = append(b, `,"plugin":{"name":`...)
	b = appendString(b, req.Plugin.Name)
	b = append(b, `,"version":`...)
	b = appendString(b, req.Plugin.Version)
	b = append(b, `},"principal":{"subject":`...)
	b = appendString(b, req.Principal.Subject)
	b = append(b, `,"roles":[`...)
	for i, r := range req.Principal.Roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, r)
	}
	b = append(b, `]},"headers":{`...)
	first := true
	for k, v := range req.Headers {
		if secretHeader(k) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, strings.ToLower(k))
		b = append(b, ':')
		b = appendString(b, v)
	}
	b = append(b, `},"input":`...)
	b = appendRaw(b, req.Input)
	if req.Phase == orc.HookPost || len(req.Output) > 0 {
		b = append(b, `,"output":`...)
		b = appendRaw(b, req.Output)
	}
	b = append(b, '}')
	buf.b = b
	return buf, nil
}

// appendString appends s as a JSON string, as gjson.AppendJSONString does;
// most strings of a request need no escaping and are copied at once.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if needsEscape[s[i]] {
			return gjson.AppendJSONString(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// needsEscape are the bytes that gjson.AppendJSONString does not copy as
// they are: control characters, quotes, backslashes, <, > and &, and bytes
// beyond ASCII (checked as UTF-8).
var needsEscape = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c >= 0x80 || strings.IndexByte(`"\<>&`, byte(c)) >= 0
	}
	return t
}()

func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// secretHeader reports the headers a hook never sees (docs/hooks.md).
func secretHeader(name string) bool {
	return strings.EqualFold(name, "authorization") ||
		strings.EqualFold(name, "cookie") ||
		strings.EqualFold(name, "proxy-authorization")
}
