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
	if len(req.Input) > 0 && !validJSON(req.Input) {
		return nil, errors.New("input is not valid JSON")
	}
	if len(req.Output) > 0 && !validJSON(req.Output) {
		return nil, errors.New("output is not valid JSON")
	}
	buf := requestBufs.Get().(*requestBuf)
	b := buf.b[:0]
	b = append(b, `{"phase":`...)
	b = gjson.AppendJSONString(b, string(req.Phase))
	b = append(b, `,"invocation_id":`...)
	b = gjson.AppendJSONString(b, req.InvocationID)
	b = append(b, `,"plugin":{"name":`...)
	b = gjson.AppendJSONString(b, req.Plugin.Name)
	b = append(b, `,"version":`...)
	b = gjson.AppendJSONString(b, req.Plugin.Version)
	b = append(b, `},"principal":{"subject":`...)
	b = gjson.AppendJSONString(b, req.Principal.Subject)
	b = append(b, `,"roles":[`...)
	for i, r := range req.Principal.Roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = gjson.AppendJSONString(b, r)
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
		b = gjson.AppendJSONString(b, strings.ToLower(k))
		b = append(b, ':')
		b = gjson.AppendJSONString(b, v)
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
