package schemaform

import (
	"regexp"
	"strings"
	"testing"
)

// TestScript checks form.js against the Content-Security-Policy and
// against what HTML writes.
func TestScript(t *testing.T) {
	t.Parallel()
	js := string(Script)
	if len(js) >= 4096 {
		t.Errorf("form.js is %d bytes; keep it under 4 KB", len(js))
	}
	for _, bad := range []string{"eval(", "Function(", "innerHTML", "outerHTML", "setAttribute('on", ".style", "cssText", "setTimeout('", "document.write"} {
		if strings.Contains(js, bad) {
			t.Errorf("form.js uses %q", bad)
		}
	}
	f := mustNew(t, `{"type": "object", "properties": {"l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}}, "c": {"type": ["string", "null"]}}}`)
	h := string(f.HTML(nil, nil))
	for _, attr := range regexp.MustCompile(`data-sf-[a-z]+`).FindAllString(js, -1) {
		if !strings.Contains(h, attr+`="`) {
			t.Errorf("form.js reads %s, which HTML does not write", attr)
		}
	}
	// The row of a new item is named by replacing these prefixes.
	for _, s := range []string{`'/-'`, `'-_2d'`, `'/~'`, `'-.'`} {
		if !strings.Contains(js, s) {
			t.Errorf("form.js does not use %s", s)
		}
	}
	if childID("sf", newRow) != "sf-_2d" {
		t.Errorf("the id of a template row is %s, not what form.js expects", childID("sf", newRow))
	}
}
