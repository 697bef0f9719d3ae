package schemaform

import (
	"encoding/json"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
)

// processorSchema is the input_schema of the example plugin.
func processorSchema(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../../plugins/processor/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		InputSchema json.RawMessage `json:"input_schema"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return string(p.InputSchema)
}

// TestRoundTrip renders each document into its form, posts the form as a
// browser would and decodes it: the document must come back unchanged.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	nested := `{"type": "object", "required": ["name", "size"], "properties": {
		"name": {"type": "string"},
		"size": {"type": "object", "required": ["w"], "properties": {"w": {"type": "integer"}, "h": {"type": "integer"}}},
		"note": {"type": "string"}}}`
	shapes := `{"type": "object", "properties": {"shape": {"oneOf": [
		{"title": "Circle", "type": "object", "required": ["kind", "r"], "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}},
		{"title": "Rectangle", "type": "object", "required": ["kind", "w", "h"], "properties": {"kind": {"const": "rect"}, "w": {"type": "number"}, "h": {"type": "number"}}}
	]}}}`
	tree := `{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {
		"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}`
	for _, tc := range []struct {
		name, schema, doc string
	}{
		{"nested objects", nested, `{"name": "a", "size": {"w": 3, "h": 4}, "note": "n"}`},
		{"optional members left out", nested, `{"name": "a", "size": {"w": 1}}`},
		{"required empty string kept", nested, `{"name": "", "size": {"w": 1}}`},
		{"processor", processorSchema(t), `{"data": [1, 2.5, -3, 1e3], "operation": "max"}`},
		{"processor empty data", processorSchema(t), `{"data": [], "operation": "sum"}`},
		{"array of objects", `{"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}, "q": {"type": "integer"}}}}}}`,
			`{"rows": [{"n": "a", "q": 1}, {"n": "b"}, {"q": 3}]}`},
		{"nested arrays", `{"type": "object", "properties": {"m": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}}`,
			`{"m": [[1, 2], [3], []]}`},
		{"enum of mixed values", `{"type": "object", "properties": {"e": {"enum": ["a", 1, null, true, {"x": 1}]}, "f": {"enum": ["a", "b"]}}}`,
			`{"e": {"x": 1}, "f": "b"}`},
		{"enum null", `{"type": "object", "properties": {"e": {"enum": ["a", null]}}}`, `{"e": null}`},
		{"const", `{"type": "object", "properties": {"v": {"const": "v1"}, "n": {"type": "integer"}}}`, `{"v": "v1", "n": 2}`},
		{"numbers with bounds", `{"type": "object", "properties": {
			"x": {"type": "number", "minimum": 0, "exclusiveMaximum": 10, "multipleOf": 0.5},
			"i": {"type": "integer", "exclusiveMinimum": 0, "maximum": 100}}}`, `{"x": 2.5, "i": 7}`},
		{"big integer", `{"type": "object", "properties": {"i": {"type": "integer"}}}`, `{"i": 123456789012345678901234567890}`},
		{"string formats", `{"type": "object", "properties": {
			"email": {"type": "string", "format": "email"}, "uri": {"type": "string", "format": "uri"},
			"date": {"type": "string", "format": "date"}, "dt": {"type": "string", "format": "date-time"},
			"time": {"type": "string", "format": "time"}, "code": {"type": "string", "pattern": "^[A-Z]{3}$", "minLength": 3, "maxLength": 3}}}`,
			`{"email": "a@b.example", "uri": "https://example.com/x?y=1", "date": "2024-05-01", "dt": "2024-05-01T12:30:45Z", "time": "08:15:00Z", "code": "ABC"}`},
		{"date-time with fraction", `{"type": "object", "properties": {"dt": {"type": "string", "format": "date-time"}}}`, `{"dt": "2024-05-01T12:30:45.25Z"}`},
		{"date-time not a date", `{"type": "object", "properties": {"dt": {"type": "string", "format": "date-time"}}}`, `{"dt": "soon"}`},
		{"textarea keeps lines", `{"type": "object", "properties": {
			"a": {"type": "string", "format": "textarea"}, "b": {"type": "string", "maxLength": 500}, "c": {"type": "string", "contentMediaType": "text/markdown"}}}`,
			`{"a": "line 1\nline 2", "b": "\nstarts with a newline", "c": "# T\n\n* x"}`},
		{"booleans", `{"type": "object", "required": ["r1", "r2"], "properties": {
			"r1": {"type": "boolean"}, "r2": {"type": "boolean"}, "o": {"type": "boolean"}, "d": {"type": "boolean", "default": true}}}`,
			`{"r1": false, "r2": true, "o": true, "d": false}`},
		{"null", `{"type": "object", "properties": {"n": {"type": "null"}}}`, `{"n": null}`},
		{"string or null: null", `{"type": "object", "properties": {"s": {"type": ["string", "null"]}}}`, `{"s": null}`},
		{"string or null: string", `{"type": "object", "properties": {"s": {"type": ["string", "null"]}}}`, `{"s": "x"}`},
		{"string or null: absent", `{"type": "object", "properties": {"s": {"type": ["string", "null"]}}}`, `{}`},
		{"oneOf first", shapes, `{"shape": {"kind": "circle", "r": 2}}`},
		{"oneOf second", shapes, `{"shape": {"kind": "rect", "w": 2, "h": 3}}`},
		{"anyOf scalars", `{"type": "object", "properties": {"a": {"anyOf": [{"type": "number"}, {"type": "string"}]}, "b": {"anyOf": [{"type": "number"}, {"type": "string"}]}}}`,
			`{"a": "abc", "b": 3}`},
		{"oneOf of constants", `{"type": "object", "properties": {"size": {"oneOf": [{"const": "s", "title": "Small"}, {"const": "l", "title": "Large"}]}}}`, `{"size": "l"}`},
		{"oneOf beside properties", `{"type": "object", "properties": {"common": {"type": "string"}}, "oneOf": [
			{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]}`,
			`{"common": "c", "b": true}`},
		{"$defs and definitions", `{"type": "object", "properties": {"p": {"$ref": "#/$defs/point"}, "q": {"$ref": "#/definitions/point"}},
			"$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}},
			"definitions": {"point": {"type": "object", "properties": {"x": {"type": "number"}}}}}`,
			`{"p": {"x": 1, "y": 2}, "q": {"x": 3}}`},
		{"allOf merged", `{"allOf": [
			{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
			{"$ref": "#/$defs/b"}], "$defs": {"b": {"properties": {"b": {"type": "integer"}, "a": {"maxLength": 5}}}}}`,
			`{"a": "x", "b": 2}`},
		{"recursion cut into JSON", tree, `{"name": "1", "children": [{"name": "2", "children": [{"name": "3", "children": [{"name": "4", "children": [{"name": "5"}]}]}]}]}`},
		{"names needing escapes", `{"type": "object", "properties": {"a/b": {"type": "string"}, "c~d": {"type": "string"}, "e f": {"type": "string"}, "<g>\"": {"type": "string"}, "": {"type": "string"}}}`,
			`{"a/b": "1", "c~d": "2", "e f": "3", "<g>\"": "4", "": "5"}`},
		{"root array", `{"type": "array", "items": {"type": "string"}}`, `["a", "b"]`},
		{"root string", `{"type": "string"}`, `"hello"`},
		{"root anything", `{}`, `{"x": [1, "y", null]}`},
		{"any-value member", `{"type": "object", "properties": {"meta": {}}}`, `{"meta": {"x": [1, "<y>"]}}`},
		{"patternProperties as JSON", `{"type": "object", "properties": {"labels": {"type": "object", "patternProperties": {"^x-": {"type": "string"}}}, "n": {"type": "integer"}}}`,
			`{"labels": {"x-a": "1"}, "n": 1}`},
		{"readOnly left out", `{"type": "object", "properties": {"id": {"type": "string", "readOnly": true}, "n": {"type": "integer"}}}`, `{"n": 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, tc.schema)
			page := parsePage(t, f.HTML(json.RawMessage(tc.doc), nil))
			got, errs := f.Decode(submit(page))
			if errs != nil {
				t.Fatalf("errors %v; posted %v", errs, submit(page))
			}
			sameJSON(t, got, tc.doc)
		})
	}
}

// TestDefaults renders a form without a value: the defaults fill it in,
// and posting it unchanged sends them.
func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, schema, doc string
	}{
		{"members", `{"type": "object", "properties": {
			"s": {"type": "string", "default": "hi"}, "n": {"type": "number", "default": 0.5},
			"b": {"type": "boolean", "default": true}, "e": {"enum": ["x", "y"], "default": "y"},
			"none": {"type": "string"}}}`, `{"s": "hi", "n": 0.5, "b": true, "e": "y"}`},
		{"object default over members'", `{"type": "object", "properties": {"o": {"type": "object", "default": {"a": 2},
			"properties": {"a": {"type": "integer", "default": 1}, "b": {"type": "integer", "default": 3}}}}}`, `{"o": {"a": 2, "b": 3}}`},
		{"array default", `{"type": "object", "properties": {"l": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]}}}`, `{"l": [1, 2]}`},
		{"choice default", `{"type": "object", "properties": {"c": {"oneOf": [{"type": "integer"}, {"type": "string"}], "default": "s"}}}`, `{"c": "s"}`},
		{"required choice takes the first", `{"type": "object", "required": ["c"], "properties": {"c": {"type": ["boolean", "string"]}}}`, `{"c": false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, tc.schema)
			got, errs := f.Decode(submit(parsePage(t, f.HTML(nil, nil))))
			if errs != nil {
				t.Fatalf("errors %v", errs)
			}
			sameJSON(t, got, tc.doc)
		})
	}
}

// TestConcurrentUse renders and decodes with one Form from many
// goroutines, as a console serving many people does.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := mustNew(t, processorSchema(t))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			doc, errs := f.Decode(url.Values{"/data/0": {strconv.Itoa(i)}, "/operation": {"0"}})
			if errs != nil || string(doc) != `{"data":[`+strconv.Itoa(i)+`],"operation":"sum"}` {
				t.Errorf("Decode = %s, %v", doc, errs)
			}
			f.HTML(doc, map[string]string{"/data/0": "x"})
		})
	}
	wg.Wait()
}
