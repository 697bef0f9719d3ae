package hooks

import (
	"bytes"
	"testing"
)

// The memo answers for bytes it checked, and checks all others: an invalid
// document is refused however many valid ones came before, also one that
// differs from a remembered one in its last byte.
func TestValidMemo(t *testing.T) {
	m := &validMemo{seed: inputMemo.seed}
	valid := []byte(`{"items":[` + string(bytes.Repeat([]byte(`"0123456789",`), 40)) + `"end"]}`)
	broken := append(append([]byte(nil), valid[:len(valid)-1]...), ',')
	short := []byte(`{"a":`)
	for i, tc := range []struct {
		doc  []byte
		want bool
	}{
		{valid, true}, {valid, true}, {broken, false}, {broken, false}, {short, false}, {valid, true},
	} {
		if got := m.valid(tc.doc); got != tc.want {
			t.Errorf("call %d: valid(%.20q…) = %v, want %v", i, tc.doc, got, tc.want)
		}
	}
	// Many valid documents later, the memo has forgotten the first one
	// and checks it again, still valid.
	for i := range 100 {
		doc := append([]byte(`{"n":`+string(rune('0'+i%10))+`,"pad":"`), bytes.Repeat([]byte("x"), memoMin)...)
		if !m.valid(append(doc, '"', '}')) {
			t.Fatalf("document %d refused", i)
		}
	}
	if !m.valid(valid) || m.valid(broken) {
		t.Error("after the memo turned over, the first documents are judged wrongly")
	}
}
