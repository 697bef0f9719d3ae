package hook

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/orc-gateway/orc"
)

func TestReplyJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply Reply
		want  string
	}{
		{"allow", Allow(), `{"allow":true}`},
		{"deny", Deny(422, "end_date is before start_date"), `{"allow":false,"status":422,"message":"end_date is before start_date"}`},
		{"deny default status", Deny(0, "no"), `{"allow":false,"message":"no"}`},
		{"escaping", Deny(400, "a \"quoted\"\\ line\nand\ttab\x01"), `{"allow":false,"status":400,"message":"a \"quoted\"\\ line\nand\ttab\u0001"}`},
		{"input", Allow().WithInput([]byte(`{"a":[1,2]}`)), `{"allow":true,"input":{"a":[1,2]}}`},
		{"output", Allow().WithOutput([]byte(`"x"`)), `{"allow":true,"output":"x"}`},
		{"route", Allow().RouteTo("2.0.0", "gpu", 7), `{"allow":true,"route":{"version":"2.0.0","pool":"gpu","priority":7}}`},
		{"message on allow", Allow().WithMessage("ok"), `{"allow":true,"message":"ok"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(tc.reply.AppendJSON(nil))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

// The reply decodes into the host's type with the values it was built with.
func TestReplyDecodes(t *testing.T) {
	r := Deny(451, "nope <&> \u2028 ✓").WithInput([]byte(`{"x":1}`)).RouteTo("v", "p", 3)
	var got orc.HookReply
	if err := json.Unmarshal(r.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	want := orc.HookReply{
		Status: 451, Message: "nope <&> \u2028 ✓", Input: json.RawMessage(`{"x":1}`),
		Route: &orc.HookRoute{Version: "v", Pool: "p", Priority: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestServe(t *testing.T) {
	t.Cleanup(func() { handler = nil })
	handler = nil
	if got, want := string(serve(nil, []byte(`{}`))), `{"allow":false,"status":500,"message":"hook has no handler: call hook.Handle from init"}`; got != want {
		t.Errorf("without a handler: %s, want %s", got, want)
	}
	Handle(func(r Request) Reply { return Deny(403, r.Subject()) })
	if got, want := string(serve([]byte("old"), []byte(`{"principal":{"subject":"bob"}}`))), `old{"allow":false,"status":403,"message":"bob"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\n\r\t\b\f\x00\x1f", "<&>", "\u2028\u2029", "é✓😀", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}
