package hook

import (
	"slices"
	"testing"
)

const testRequest = `{
  "phase": "pre",
  "invocation_id": "5b0e7c1a",
  "plugin": {"name": "classifier", "version": "1.2.0"},
  "principal": {"subject": "alice@example.com", "roles": ["developer", "admin"]},
  "headers": {"x-canary": "yes", "x.dotted": "d", "content-type": "application/json"},
  "input": {"amount": 12.5, "items": [{"sku": "a"}, {"sku": "b"}]}
}`

func TestRequest(t *testing.T) {
	r := NewRequest([]byte(testRequest))
	for _, tc := range []struct {
		name, got, want string
	}{
		{"phase", r.Phase(), "pre"},
		{"invocation id", r.InvocationID(), "5b0e7c1a"},
		{"plugin", r.Plugin(), "classifier"},
		{"version", r.Version(), "1.2.0"},
		{"subject", r.Subject(), "alice@example.com"},
		{"header", r.Header("x-canary"), "yes"},
		{"header any case", r.Header("X-Canary"), "yes"},
		{"header with a dot", r.Header("x.dotted"), "d"},
		{"missing header", r.Header("x-missing"), ""},
		{"input", string(r.Input()), `{"amount": 12.5, "items": [{"sku": "a"}, {"sku": "b"}]}`},
		{"no output", string(r.Output()), ""},
		{"path", r.Get("input.items.1.sku").String(), "b"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if got := r.Get("input.amount").Float(); got != 12.5 {
		t.Errorf("input.amount = %v, want 12.5", got)
	}
	if got, want := r.Roles(), []string{"developer", "admin"}; !slices.Equal(got, want) {
		t.Errorf("Roles() = %q, want %q", got, want)
	}
	if !r.HasRole("admin") || r.HasRole("root") {
		t.Errorf("HasRole(admin), HasRole(root) = %v, %v; want true, false", r.HasRole("admin"), r.HasRole("root"))
	}
}

func TestRequestOutput(t *testing.T) {
	for _, tc := range []struct {
		name, req, want string
	}{
		{"object", `{"phase":"post","output":{"class":"setosa"}}`, `{"class":"setosa"}`},
		{"null", `{"phase":"post","output":null}`, ""},
		{"absent", `{"phase":"post"}`, ""},
		{"string", `{"phase":"post","output":"x"}`, `"x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(NewRequest([]byte(tc.req)).Output()); got != tc.want {
				t.Errorf("Output() = %q, want %q", got, tc.want)
			}
		})
	}
}

// A Request's values outlive the buffer it was read from: the ABI reuses the
// buffer for the next call.
func TestRequestCopies(t *testing.T) {
	buf := []byte(`{"invocation_id":"abc","input":{"a":1}}`)
	r := NewRequest(buf)
	id, in := r.InvocationID(), r.Input()
	for i := range buf {
		buf[i] = ' '
	}
	if id != "abc" || string(in) != `{"a":1}` {
		t.Errorf("after reuse: id %q, input %q", id, in)
	}
}

// The zero Request is empty.
func TestRequestZero(t *testing.T) {
	var r Request
	if r.Raw() != nil || r.Phase() != "" || r.Get("input").Exists() || r.HasRole("x") || r.Input() != nil {
		t.Error("the zero Request has something")
	}
}
