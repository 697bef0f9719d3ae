package jsondepth

import (
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		limit int
		want  int
	}{
		{`1`, 10, 0},
		{`"[[[["`, 10, 0},
		{`{"a":[1,{"b":"]]]"}]}`, 10, 3},
		{`["\"[", [[]]]`, 10, 3},
		{`[[],[[]],[]]`, 10, 3},
		{strings.Repeat("[", 9000) + strings.Repeat("]", 9000), 64, 65},
		{`{"a\\":[[1]]}`, 10, 3},
	} {
		if got := Of([]byte(tc.doc), tc.limit); got != tc.want {
			t.Errorf("Of(%.40q, %d) = %d, want %d", tc.doc, tc.limit, got, tc.want)
		}
	}
}
