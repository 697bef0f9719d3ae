package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/orc-gateway/orc"
)

func TestDecodeReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply string
		want  *orc.HookReply
		err   string
	}{
		{"allow", `{"allow":true}`, &orc.HookReply{Allow: true}, ""},
		{"empty object", ` {} `, &orc.HookReply{}, ""},
		{"deny", `{"allow":false,"status":422,"message":"end_date is before start_date"}`,
			&orc.HookReply{Status: 422, Message: "end_date is before start_date"}, ""},
		{"everything", `{"allow":true,"status":599,"message":"m\u00e9","input":{"a": [1]},"output":"o","route":{"version":"2.0.0","pool":"gpu","priority":9,"x":1},"extra":[]}`,
			&orc.HookReply{Allow: true, Status: 599, Message: "mé", Input: json.RawMessage(`{"a": [1]}`), Output: json.RawMessage(`"o"`),
				Route: &orc.HookRoute{Version: "2.0.0", Pool: "gpu", Priority: 9}}, ""},
		{"nulls are absent", `{"allow":null,"status":null,"message":null,"input":null,"output":null,"route":null}`, &orc.HookReply{}, ""},
		{"last key wins", `{"allow":false,"allow":true}`, &orc.HookReply{Allow: true}, ""},
		{"keys are exact", `{"Allow":true,"STATUS":"x"}`, &orc.HookReply{}, ""},
		{"escaped key", `{"\u0061llow":true}`, &orc.HookReply{Allow: true}, ""},
		{"invalid utf-8", "{\"message\":\"a\xffb\"}", &orc.HookReply{Message: "a\uFFFDb"}, ""},
		{"empty", ``, nil, "not JSON"},
		{"truncated", `{"allow":tru`, nil, "not JSON"},
		{"trailing", `{"allow":true} {}`, nil, "not JSON"},
		{"array", `[{"allow":true}]`, nil, "not a JSON object but an array"},
		{"null", `null`, nil, "not a JSON object but null"},
		{"string", `"allow"`, nil, "not a JSON object but a string"},
		{"too deep", `{"allow":true,"output":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, nil, "nests deeper than 512 levels"},
		{"allow string", `{"allow":"true"}`, nil, `"allow" is a string, want a boolean`},
		{"allow number", `{"allow":1}`, nil, `"allow" is a number, want a boolean`},
		{"status string", `{"status":"422"}`, nil, `"status" is a string, want an integer`},
		{"status float", `{"status":422.5}`, nil, `"status" is 422.5, want an integer`},
		{"status exponent", `{"status":4.22e2}`, nil, `"status" is 4.22e2, want an integer`},
		{"status 200", `{"status":200}`, nil, `"status" 200 is not 0 or 400–599`},
		{"status 600", `{"status":600}`, nil, `"status" 600 is not 0 or 400–599`},
		{"status huge", `{"status":99999999999999999999999}`, nil, `"status" is 99999999999999999999, want an integer`},
		{"message object", `{"message":{}}`, nil, `"message" is an object, want a string`},
		{"route array", `{"route":[]}`, nil, `"route" is an array, want an object`},
		{"route version", `{"route":{"version":2}}`, nil, `"route.version" is a number, want a string`},
		{"route pool", `{"route":{"pool":true}}`, nil, `"route.pool" is a boolean, want a string`},
		{"priority 10", `{"route":{"priority":10}}`, nil, `"route.priority" 10 is not 0–9`},
		{"priority -1", `{"route":{"priority":-1}}`, nil, `"route.priority" -1 is not 0–9`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeReply([]byte(tc.reply))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// The reply does not keep the bytes it was decoded from: they are guest
// memory that the next call overwrites.
func TestDecodeReplyCopies(t *testing.T) {
	b := []byte(`{"message":"hello","input":{"a":1},"route":{"version":"v","pool":"p"}}`)
	r, err := DecodeReply(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'x'
	}
	if r.Message != "hello" || string(r.Input) != `{"a":1}` || r.Route.Version != "v" || r.Route.Pool != "p" {
		t.Errorf("after the bytes changed: %+v %+v", r, r.Route)
	}
}

// FuzzDecodeReply checks DecodeReply against a plain encoding/json decoder
// of the same rules: they accept the same replies and agree on them.
func FuzzDecodeReply(f *testing.F) {
	for _, s := range []string{
		`{"allow":true}`,
		`{"allow":false,"status":422,"message":"no \"way\"\n"}`,
		`{"allow":true,"input":{"a":[1,2,{"b":null}]},"output":"x"}`,
		`{"allow":true,"route":{"version":"2.0.0","pool":"gpu","priority":7}}`,
		`{"route":{"priority":1.0}}`,
		`{"status":-0,"message":"\ud800\u0041"}`,
		`{"allow":null,"allow":true,"route":null}`,
		`[]`, `null`, `"x"`, `{"allow":tru`, " {\t}\n", "{\"message\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeReply(b)
		want, werr := referenceDecode(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: DecodeReply error %v, reference error %v", b, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nDecodeReply %+v %+v\nreference   %+v %+v", b, got, got.Route, want, want.Route)
		}
	})
}

// referenceDecode decodes a reply by the rules of DecodeReply with
// encoding/json alone.
func referenceDecode(b []byte) (*orc.HookReply, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("null")
	}
	r := &orc.HookReply{}
	var err error
	for k, v := range fields {
		switch k {
		case "allow":
			err = refValue(v, &r.Allow)
		case "status":
			if r.Status, err = refInt(v); err == nil && r.Status != 0 && (r.Status < 400 || r.Status > 599) {
				err = errors.New("status")
			}
		case "message":
			err = refValue(v, &r.Message)
		case "input":
			r.Input = refRaw(v)
		case "output":
			r.Output = refRaw(v)
		case "route":
			r.Route, err = refRoute(v)
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func refRoute(v json.RawMessage) (*orc.HookRoute, error) {
	if string(v) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		return nil, err
	}
	route := &orc.HookRoute{}
	var err error
	for k, v := range fields {
		switch k {
		case "version":
			err = refValue(v, &route.Version)
		case "pool":
			err = refValue(v, &route.Pool)
		case "priority":
			if route.Priority, err = refInt(v); err == nil && (route.Priority < 0 || route.Priority > 9) {
				err = errors.New("priority")
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return route, nil
}

// refValue decodes v into p, strictly by type; null leaves p alone.
func refValue(v json.RawMessage, p any) error {
	if string(v) == "null" {
		return nil
	}
	return json.Unmarshal(v, p)
}

func refInt(v json.RawMessage) (int, error) {
	if string(v) == "null" {
		return 0, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, err
	}
	i, err := strconv.Atoi(n.String())
	if err != nil {
		return 0, fmt.Errorf("not an integer: %w", err)
	}
	return i, nil
}

func refRaw(v json.RawMessage) json.RawMessage {
	if string(v) == "null" {
		return nil
	}
	return bytes.Clone(v)
}
