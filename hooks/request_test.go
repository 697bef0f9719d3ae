package hooks

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/orc-gateway/orc"
)

func TestEncodeRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  orc.HookRequest
		want string
	}{
		{"pre", orc.HookRequest{
			Phase: orc.HookPre, InvocationID: "id\"1",
			Plugin:    orc.HookPlugin{Name: "p", Version: "1.0.0"},
			Principal: orc.HookPrincipal{Subject: "alice\n", Roles: []string{"a", "b"}},
			Headers:   map[string]string{"X-Key": "<v>", "Authorization": "secret", "COOKIE": "c", "proxy-authorization": "p"},
			Input:     json.RawMessage(` {"x": [1, 2]} `),
		}, `{"phase":"pre","invocation_id":"id\"1","plugin":{"name":"p","version":"1.0.0"},"principal":{"subject":"alice\n","roles":["a","b"]},"headers":{"x-key":"<v>"},"input":{"x":[1,2]}}`},
		{"post", orc.HookRequest{Phase: orc.HookPost, Output: json.RawMessage(`"o"`)},
			`{"phase":"post","invocation_id":"","plugin":{"name":"","version":""},"principal":{"subject":"","roles":[]},"headers":{},"input":null,"output":"o"}`},
		{"post without output", orc.HookRequest{Phase: orc.HookPost},
			`{"phase":"post","invocation_id":"","plugin":{"name":"","version":""},"principal":{"subject":"","roles":[]},"headers":{},"input":null,"output":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf, err := encodeRequest(&tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer buf.free()
			var got, want any
			if err := json.Unmarshal(buf.b, &got); err != nil {
				t.Fatalf("%s: %v", buf.b, err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", buf.b, tc.want)
			}
		})
	}
}

func TestEncodeRequestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  orc.HookRequest
		err  string
	}{
		{"phase", orc.HookRequest{Phase: "during"}, `phase "during" is not pre or post`},
		{"input", orc.HookRequest{Phase: orc.HookPre, Input: json.RawMessage(`1, "phase": "post"`)}, "input is not valid JSON"},
		{"output", orc.HookRequest{Phase: orc.HookPost, Output: json.RawMessage(`{`)}, "output is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := encodeRequest(&tc.req); err == nil || err.Error() != tc.err {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "0190c3e1-8a4b-7c2d-9e5f-1a2b3c4d5e6f", "a\"b", "a\\b", "<&>", "\n\t\x01", "é", "\xff", "\u2028"} {
		if got, want := string(appendString([]byte("x"), s)), string(gjson.AppendJSONString([]byte("x"), s)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}
