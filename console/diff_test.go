package console

import (
	"reflect"
	"strings"
	"testing"
)

func TestDiffJSON(t *testing.T) {
	a := `{"label": "setosa", "score": 0.9, "n": 1, "tags": ["a", "b"], "gone": true, "a/b": 1}`
	b := `{"label": "versicolor", "score": 0.9, "n": 1.0, "tags": ["a"], "new": null, "a/b": 2}`
	got, more := diffJSON([]byte(a), []byte(b))
	want := []change{
		{Pointer: "/a~1b", Kind: "changed", A: "1", B: "2"},
		{Pointer: "/gone", Kind: "removed", A: "true"},
		{Pointer: "/label", Kind: "changed", A: `"setosa"`, B: `"versicolor"`},
		{Pointer: "/new", Kind: "added", B: "null"},
		{Pointer: "/tags/1", Kind: "removed", A: `"b"`},
	}
	if more || !reflect.DeepEqual(got, want) {
		t.Errorf("diff =\n%+v\nwant\n%+v", got, want)
	}
	if got, _ := diffJSON([]byte(`{"x": [1, {"y": 2}]}`), []byte(`{"x":[1,{"y":2}]}`)); len(got) != 0 {
		t.Errorf("equal documents differ: %+v", got)
	}
	if got, _ := diffJSON([]byte(`[1]`), []byte(`{"0": 1}`)); len(got) != 1 || got[0].Pointer != "" {
		t.Errorf("an array and an object: %+v", got)
	}
	// Not JSON: compared as text.
	if got, _ := diffJSON([]byte("oops"), []byte(`1`)); len(got) != 1 || got[0].A != "oops" {
		t.Errorf("not JSON: %+v", got)
	}
	// Many changes are cut, and say so.
	var x, y strings.Builder
	x.WriteString("[")
	y.WriteString("[")
	for i := range 500 {
		if i > 0 {
			x.WriteString(",")
			y.WriteString(",")
		}
		x.WriteString("1")
		y.WriteString("2")
	}
	x.WriteString("]")
	y.WriteString("]")
	if got, more := diffJSON([]byte(x.String()), []byte(y.String())); len(got) != maxChanges || !more {
		t.Errorf("500 changes: %d listed, more %v", len(got), more)
	}
	if s := clip(strings.Repeat("é", 300)); len(s) > maxShown+len("…") || !strings.HasSuffix(s, "…") || strings.ContainsRune(s, '\uFFFD') {
		t.Errorf("clip cut a character or kept too much: %d bytes", len(s))
	}
}

func TestSideBySide(t *testing.T) {
	la, lb, marked := sideBySide("{\n  \"a\": 1\n  \"b\": 2\n}", "{\n  \"a\": 1,\n  \"b\": 3,\n  \"c\": 4\n}")
	var ma, mb []string
	for _, l := range la {
		if l.Marked {
			ma = append(ma, l.Text)
		}
	}
	for _, l := range lb {
		if l.Marked {
			mb = append(mb, l.Text)
		}
	}
	if !marked || !reflect.DeepEqual(ma, []string{`  "b": 2`}) || !reflect.DeepEqual(mb, []string{`  "b": 3,`, `  "c": 4`}) || la[1].Marked {
		t.Errorf("marked %v: A %q, B %q", marked, ma, mb)
	}
	long := strings.Repeat("x\n", 1100)
	if _, _, marked := sideBySide(long, long+"y"); marked {
		t.Error("documents past the bound were marked")
	}
}
