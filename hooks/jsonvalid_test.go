package hooks

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, ` [ ] `, `0`, `-0.5e+10`, `"a\u00e9\n"`, `{"a":[1,{"b":null}],"c":true,"d":false}`, "\"\xff\"",
		``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`, `"\x01"`,
		`"\x"`, `"\u12g4"`, `{"a":1}}`, `[}`, `{]`, `"abc`, `1 2`, `{"a" 1}`, `{1:2}`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.40q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzValidJSON checks validJSON against encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\"y\\u00e9"],"b":{"c":null,"d":true}}`, `[]`, `"\u0000"`, `-0`, "\"\t\"", `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, want %v", b, got, want)
		}
	})
}
