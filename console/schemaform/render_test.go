package schemaform

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHTMLEscapesSchemaText renders a schema whose every text is hostile:
// none of it may become markup, and all of it must read back as written.
func TestHTMLEscapesSchemaText(t *testing.T) {
	t.Parallel()
	const (
		title = `<script>alert(1)</script>`
		desc  = `"><img src=x onerror=alert(1)>`
		name  = `"'><script>alert(2)</script>`
		enum1 = `</option><script>alert(3)</script>`
		enum2 = `" selected onfocus="alert(4)`
		def   = `</textarea><script>alert(5)</script>`
	)
	schema, _ := json.Marshal(map[string]any{
		"type": "object", "title": title,
		"properties": map[string]any{
			name:   map[string]any{"type": "string", "title": title, "description": desc, "pattern": `"'<>&`, "default": `"><b>`},
			"e":    map[string]any{"enum": []any{enum1, enum2, map[string]any{"<k>": "</v>"}}, "title": title},
			"long": map[string]any{"type": "string", "format": "textarea", "default": def},
			"c":    map[string]any{"const": title},
			"o":    map[string]any{"oneOf": []any{map[string]any{"type": "string", "title": title}, map[string]any{"type": "integer", "title": desc}}},
			"l":    map[string]any{"type": "array", "items": map[string]any{"type": "string", "title": title}},
			"p":    map[string]any{"type": "object", "patternProperties": map[string]any{"x": map[string]any{}}, "default": map[string]any{"</textarea>": def}},
		},
	})
	f := mustNew(t, string(schema))
	h := string(f.HTML(nil, map[string]string{"/e": title, desc: enum2}))
	for _, bad := range []string{"<script", "<img", "<b>", `" selected onfocus`, `"'>`} {
		if strings.Contains(strings.ToLower(h), strings.ToLower(bad)) {
			t.Errorf("the form holds %q unescaped:\n%s", bad, h)
		}
	}
	page := parsePage(t, f.HTML(nil, nil))
	for _, want := range []struct{ id, text string }{
		{childID(rootID, name) + ".label", title},
		{childID(rootID, name) + ".help", desc},
		{childID(rootID, "e") + ".label", title},
		{childID(rootID, "c") + ".label", "c"},
	} {
		if got := page.byID(t, want.id).allText(); !strings.HasPrefix(got, want.text) {
			t.Errorf("#%s reads %q, want %q", want.id, got, want.text)
		}
	}
	in := page.byID(t, childID(rootID, name))
	if in.attrs["name"] != child("", name) || in.attrs["value"] != `"><b>` || !strings.Contains(in.attrs["pattern"], `"'<>&`) {
		t.Errorf("the input of %q has %v", name, in.attrs)
	}
	var options []string
	for _, o := range page.byID(t, "sf-e").kids {
		options = append(options, o.allText())
	}
	if want := []string{"(none)", enum1, enum2, `{"<k>":"</v>"}`}; strings.Join(options, "|") != strings.Join(want, "|") {
		t.Errorf("options %q, want %q", options, want)
	}
	if got := page.byID(t, "sf-long").text; got != "\n"+def {
		t.Errorf("textarea holds %q", got)
	}
	if got := page.byID(t, "sf-p").text; !strings.Contains(got, "</textarea>") {
		t.Errorf("JSON textarea holds %q", got)
	}
}

// TestHTMLErrorsPlacement shows each error on the field at its pointer,
// or on the nearest enclosing field that is shown.
func TestHTMLErrorsPlacement(t *testing.T) {
	t.Parallel()
	f := mustNew(t, `{"type": "object", "required": ["name"], "properties": {
		"name": {"type": "string"},
		"size": {"type": "object", "properties": {"w": {"type": "integer"}}},
		"tags": {"type": "array", "items": {"type": "string"}},
		"shape": {"oneOf": [{"type": "integer"}, {"type": "object", "properties": {"r": {"type": "number"}}}]},
		"meta": {"type": "object", "patternProperties": {"x": {}}},
		"ok": {"type": "boolean"}}}`)
	value := json.RawMessage(`{"name": "n", "size": {"w": 1}, "tags": ["a", "b"], "shape": {"r": 1}, "meta": {"x": 1}, "ok": true}`)
	for _, tc := range []struct {
		name, ptr, at string // at: the data-sf-ptr of the element that shows it
		control       string // the id of the control marked invalid, if any
	}{
		{"a field", "/name", "/name", "sf-name"},
		{"a nested field", "/size/w", "/size/w", "sf-size-w"},
		{"an object", "/size", "/size", ""},
		{"a member not shown", "/size/h", "/size", ""},
		{"an item", "/tags/1", "/tags/1", "sf-tags-1"},
		{"an item that is not there", "/tags/5", "/tags", ""},
		{"inside a string", "/name/x", "/name", "sf-name"},
		{"the chosen alternative", "/shape/r", "/shape/r", "sf-shape.1-r"},
		{"a choice", "/shape", "/shape", ""},
		{"inside JSON", "/meta/x/y", "/meta", "sf-meta"},
		{"a checkbox", "/ok", "/ok", "sf-ok"},
		{"the document", "", "", ""},
		{"not a pointer", "name", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const msg = "something is wrong"
			page := parsePage(t, f.HTML(value, map[string]string{tc.ptr: msg}))
			at := page.byPtr(t, tc.at)
			if !strings.Contains(at.allText(), msg) {
				t.Errorf("the element of %q does not show the error", tc.at)
			}
			for _, sub := range at.kids {
				if p, ok := sub.attr("data-sf-ptr"); ok && p != tc.at && strings.Contains(sub.allText(), msg) {
					t.Errorf("the error is shown deeper, in %q", p)
				}
			}
			shown := page.all(true, func(n *node) bool { return strings.Contains(n.text, msg) })
			if len(shown) != 1 {
				t.Fatalf("the error is shown %d times", len(shown))
			}
			errID := shown[0].up.attrs["id"]
			if tc.control == "" {
				return
			}
			c := page.byID(t, tc.control)
			if c.attrs["aria-invalid"] != "true" || !strings.Contains(" "+c.attrs["aria-describedby"]+" ", " "+errID+" ") {
				t.Errorf("control %s: %v, want aria-invalid and aria-describedby naming %s", tc.control, c.attrs, errID)
			}
		})
	}
}

// TestHTMLAccessible checks a form of every kind: ids are unique, every
// control has a label, and every id an attribute names exists.
func TestHTMLAccessible(t *testing.T) {
	t.Parallel()
	f := mustNew(t, `{"type": "object", "required": ["a", "e"], "properties": {
		"a": {"type": "string", "description": "help"},
		"a b": {"type": "string"}, "a_20b": {"type": "string"}, "a-b": {"type": "string"}, "a.b": {"type": "string"},
		"e": {"enum": [1, 2]}, "n": {"type": "number", "exclusiveMinimum": 0}, "b": {"type": "boolean", "default": true},
		"c": {"const": 1}, "j": {}, "t": {"type": "string", "maxLength": 1000},
		"o": {"type": "object", "properties": {"x": {"type": "integer"}}},
		"l": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
			"m": {"type": "array", "items": {"type": ["string", "integer"]}}}}},
		"ch": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"x": {"type": "string"}}}]}}}`)
	h := f.HTML(json.RawMessage(`{"l": [{"m": ["x", 1]}, {}]}`), map[string]string{"/a": "bad", "/l/0/m/1": "bad", "/ch": "bad"})
	page := parsePage(t, h)
	check := func(t *testing.T, root *node) {
		t.Helper()
		ids := map[string]int{}
		for _, n := range root.all(false, func(n *node) bool { return n.attrs["id"] != "" }) {
			ids[n.attrs["id"]]++
		}
		for id, n := range ids {
			if n > 1 {
				t.Errorf("id %q is used %d times", id, n)
			}
		}
		labels := map[string]bool{}
		for _, n := range root.all(false, func(n *node) bool { return n.tag == "label" }) {
			if ids[n.attrs["for"]] != 1 {
				t.Errorf("label for %q: no such control", n.attrs["for"])
			}
			labels[n.attrs["for"]] = true
		}
		for _, n := range root.all(false, func(n *node) bool { return n.attrs["aria-describedby"] != "" }) {
			for _, id := range strings.Fields(n.attrs["aria-describedby"]) {
				if ids[id] != 1 {
					t.Errorf("%s %v: describedby %q: no such element", n.tag, n.attrs, id)
				}
			}
		}
		for _, n := range root.all(false, func(n *node) bool {
			return (n.tag == "input" || n.tag == "select" || n.tag == "textarea") && n.attrs["type"] != "hidden"
		}) {
			if !labels[n.attrs["id"]] {
				t.Errorf("%s %v has no label", n.tag, n.attrs)
			}
		}
	}
	check(t, page)
	// Each template row, filled in as form.js does, fits into the page.
	for _, tpl := range page.all(false, func(n *node) bool { return n.tag == "template" }) {
		arr := tpl.up
		row := rename(tpl.kids[0], arr.attrs["data-sf-ptr"]+"/-", arr.attrs["data-sf-ptr"]+"/9", arr.attrs["id"]+"-_2d", arr.attrs["id"]+"-9")
		arr.kids = append(arr.kids, row)
		row.up = arr
	}
	check(t, page)
}

// rename does what form.js does to a template row.
func rename(n *node, p0, p1, i0, i1 string) *node {
	swap := func(v, from, to, next string) string {
		rest, ok := strings.CutPrefix(v, from)
		if ok && (rest == "" || strings.ContainsRune(next, rune(rest[0]))) {
			return to + rest
		}
		return v
	}
	out := &node{tag: n.tag, attrs: map[string]string{}, text: n.text}
	for k, v := range n.attrs {
		switch k {
		case "id", "for":
			v = swap(v, i0, i1, "-.")
		case "aria-describedby":
			f := strings.Fields(v)
			for i := range f {
				f[i] = swap(f[i], i0, i1, "-.")
			}
			v = strings.Join(f, " ")
		case "name", "data-sf-ptr":
			v = swap(v, p0, p1, "/~")
		}
		out.attrs[k] = v
	}
	for _, k := range n.kids {
		c := rename(k, p0, p1, i0, i1)
		c.up = out
		out.kids = append(out.kids, c)
	}
	return out
}

// TestHTMLControls checks the attributes each kind of schema maps to.
func TestHTMLControls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, schema string
		want         map[string]string // attributes of the control #sf-x
	}{
		{"text", `{"type": "string", "minLength": 2, "maxLength": 9, "pattern": "^a"}`,
			map[string]string{"type": "text", "minlength": "2", "maxlength": "9", "pattern": `[\s\S]*(?:^a)[\s\S]*`}},
		{"email", `{"type": "string", "format": "email"}`, map[string]string{"type": "email"}},
		{"uri", `{"type": "string", "format": "uri"}`, map[string]string{"type": "url"}},
		{"date", `{"type": "string", "format": "date"}`, map[string]string{"type": "date"}},
		{"date-time", `{"type": "string", "format": "date-time", "default": "2024-05-01T14:30:00+02:00"}`,
			map[string]string{"type": "datetime-local", "step": "1", "value": "2024-05-01T12:30:00"}},
		{"time", `{"type": "string", "format": "time"}`, map[string]string{"type": "time", "step": "1"}},
		{"other formats", `{"type": "string", "format": "hostname"}`, map[string]string{"type": "text"}},
		{"number", `{"type": "number", "minimum": -1.5, "maximum": 1e2}`, map[string]string{"type": "number", "step": "any", "min": "-1.5", "max": "100"}},
		{"number, exclusive", `{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}`, map[string]string{"step": "any", "min": "0", "max": "1"}},
		{"number, multipleOf", `{"type": "number", "multipleOf": 0.25, "minimum": 0.1, "exclusiveMaximum": 1}`, map[string]string{"step": "0.25", "min": "0.25", "max": "0.75"}},
		{"integer", `{"type": "integer", "exclusiveMinimum": 0, "maximum": 10.5}`, map[string]string{"step": "1", "min": "1", "max": "10"}},
		{"integer, multipleOf", `{"type": "integer", "multipleOf": 5, "minimum": 3}`, map[string]string{"step": "5", "min": "5"}},
		{"integer, draft 4 exclusive", `{"type": "integer", "minimum": 0, "exclusiveMinimum": true}`, map[string]string{"min": "1"}},
		{"required", `{"type": "integer"}`, map[string]string{"aria-required": "true"}},
		{"select", `{"enum": ["a", "b"]}`, map[string]string{"name": "/x"}},
		{"checkbox", `{"type": "boolean", "default": true}`, map[string]string{"type": "checkbox", "value": "true", "checked": "checked"}},
		{"JSON", `{"type": "object"}`, map[string]string{"data-sf-json": "", "aria-describedby": "sf-x.help"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, `{"type": "object", "required": ["x"], "properties": {"x": `+tc.schema+`}}`)
			c := parsePage(t, f.HTML(nil, nil)).byID(t, "sf-x")
			for k, v := range tc.want {
				if got, ok := c.attr(k); !ok || got != v {
					t.Errorf("%s=%q, want %q (%v)", k, got, v, c.attrs)
				}
			}
		})
	}
}

// TestHTMLStructure checks the parts form.js relies on.
func TestHTMLStructure(t *testing.T) {
	t.Parallel()
	f := mustNew(t, `{"type": "object", "properties": {
		"l": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "array", "items": {"type": "string"}}},
		"c": {"type": ["string", "null"]}}}`)
	page := parsePage(t, f.HTML(json.RawMessage(`{"l": [["a"]], "c": null}`), nil))
	arr := page.byPtr(t, "/l")
	if arr.attrs["data-sf-next"] != "1" || arr.attrs["data-sf-min"] != "1" || arr.attrs["data-sf-max"] != "3" {
		t.Errorf("array attributes %v", arr.attrs)
	}
	var tpl *node
	for _, k := range arr.kids {
		if k.tag == "template" {
			tpl = k
		}
	}
	if tpl == nil {
		t.Fatal("no template row")
	}
	inner := tpl.all(true, func(n *node) bool { return n.attrs["data-sf-ptr"] == "/l/-/-" })
	if len(inner) != 1 || inner[0].up.up.tag != "template" {
		t.Errorf("the nested template row is %v", inner)
	}
	choice := page.byPtr(t, "/c")
	var alts []string
	for _, k := range choice.kids {
		if a, ok := k.attr("data-sf-alt"); ok {
			_, hidden := k.attr("hidden")
			_, disabled := k.attr("disabled")
			alts = append(alts, a+map[bool]string{true: " off", false: " on"}[hidden && disabled])
		}
	}
	if strings.Join(alts, ",") != "0 off,1 on" {
		t.Errorf("alternatives %v, want the null one shown", alts)
	}
}
