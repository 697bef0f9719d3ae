package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/jsondepth"
)

// DecodeReply decodes a hook's reply JSON (ABI v1) strictly: it must be a
// JSON object; "allow" a boolean, "status" an integer that is 0 or 400–599,
// "message" a string, "route" an object whose "priority" is 0–9. Keys match
// exactly; unknown keys are ignored; a key given twice counts once, the last
// time; null is the same as absent, also for "input" and "output". The
// reply does not keep b.
func DecodeReply(b []byte) (*orc.HookReply, error) {
	return decodeReply(b)
}

func decodeReply(b []byte) (*orc.HookReply, error) {
	// gjson reads the few fields without building maps; FuzzDecodeReply
	// checks the result against encoding/json.
	if !validJSON(b) {
		return nil, errors.New("not JSON")
	}
	if jsondepth.Of(b, orc.MaxDocumentDepth) > orc.MaxDocumentDepth {
		return nil, fmt.Errorf("nests deeper than %d levels", orc.MaxDocumentDepth)
	}
	// b may be a view of guest memory: every string kept below is copied.
	root := gjson.Parse(unsafe.String(unsafe.SliceData(b), len(b)))
	if !root.IsObject() {
		return nil, fmt.Errorf("not a JSON object but %s", kind(root))
	}
	r := &orc.HookReply{}
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "allow":
			r.Allow, err = boolField("allow", v)
		case "status":
			r.Status, err = intField("status", v)
			if err == nil && r.Status != 0 && (r.Status < 400 || r.Status > 599) {
				err = fmt.Errorf(`"status" %d is not 0 or 400–599`, r.Status)
			}
		case "message":
			r.Message, err = stringField("message", v)
		case "input":
			r.Input = rawField(v)
		case "output":
			r.Output = rawField(v)
		case "route":
			r.Route, err = routeField(v)
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func routeField(v gjson.Result) (*orc.HookRoute, error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, fmt.Errorf(`"route" is %s, want an object`, kind(v))
	}
	route := &orc.HookRoute{}
	var err error
	v.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "version":
			route.Version, err = stringField("route.version", v)
		case "pool":
			route.Pool, err = stringField("route.pool", v)
		case "priority":
			route.Priority, err = intField("route.priority", v)
			if err == nil && (route.Priority < 0 || route.Priority > 9) {
				err = fmt.Errorf(`"route.priority" %d is not 0–9`, route.Priority)
			}
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return route, nil
}

func boolField(name string, v gjson.Result) (bool, error) {
	switch v.Type {
	case gjson.True:
		return true, nil
	case gjson.False, gjson.Null:
		return false, nil
	}
	return false, fmt.Errorf("%q is %s, want a boolean", name, kind(v))
}

func intField(name string, v gjson.Result) (int, error) {
	switch v.Type {
	case gjson.Null:
		return 0, nil
	case gjson.Number:
		n, err := strconv.Atoi(v.Raw)
		if err != nil {
			return 0, fmt.Errorf("%q is %.20s, want an integer", name, v.Raw)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%q is %s, want an integer", name, kind(v))
}

func stringField(name string, v gjson.Result) (string, error) {
	switch v.Type {
	case gjson.Null:
		return "", nil
	case gjson.String:
		return validUTF8(v.Str), nil
	}
	return "", fmt.Errorf("%q is %s, want a string", name, kind(v))
}

// validUTF8 returns a copy of s with each byte that is not UTF-8 replaced
// by U+FFFD, as encoding/json decodes it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return strings.Clone(s)
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // an invalid byte ranges as utf8.RuneError
	}
	return b.String()
}

func rawField(v gjson.Result) json.RawMessage {
	if v.Type == gjson.Null {
		return nil
	}
	return json.RawMessage(v.Raw) // a copy
}

// kind names a JSON value's type for an error message.
func kind(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return "null"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.Number:
		return "a number"
	case gjson.String:
		return "a string"
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}
