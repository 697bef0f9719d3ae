package schemaform

import (
	"encoding/json"
	"net/url"
	"testing"
)

var fuzzSchemas = []string{
	`{"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "format": "date-time"}, "b": {"type": "array", "items": {"type": "object", "properties": {"c": {"type": ["integer", "null"]}, "d": {"enum": [1, "x"]}}}}, "e": {"oneOf": [{"type": "boolean"}, {"$ref": "#/$defs/f"}]}}, "$defs": {"f": {"type": "object", "properties": {"g": {"$ref": "#/$defs/f"}, "h": {"type": "number", "multipleOf": 0.1, "exclusiveMinimum": 1e-3}}}}}`,
	`{"allOf": [{"$ref": "#"}, {"properties": {"x": {"const": null}}}]}`,
	`{"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 1e999}}}`,
	`{"type": "string", "format": "time", "maxLength": 300}`,
	`{"anyOf": [{"type": "object", "patternProperties": {"x": {}}}, {}]}`,
	`true`,
}

// FuzzNew compiles, renders and decodes arbitrary schemas: nothing may
// panic or fail to end.
func FuzzNew(f *testing.F) {
	for _, s := range fuzzSchemas {
		f.Add([]byte(s), "/a=x&/b/0/c~choice=0&/b/0/c=1.5&/e~choice=1&/e/h=.5")
	}
	f.Fuzz(func(t *testing.T, schema []byte, query string) {
		form, err := New(schema)
		if err != nil {
			return
		}
		form.HTML(nil, nil)
		vals, _ := url.ParseQuery(query)
		doc, errs := form.Decode(vals)
		if !json.Valid(doc) {
			t.Fatalf("Decode returned %q, not JSON", doc)
		}
		form.HTML(doc, errs)
	})
}

// FuzzDecode posts arbitrary forms to a schema of every kind: Decode must
// return JSON, and HTML must render it and its errors as well-formed
// markup.
func FuzzDecode(f *testing.F) {
	f.Add("/a=2024-05-01T10:00&/b/3/d=1&/b/1~item=&/e~choice=0&/e=true")
	f.Add("/b/99999999/c=1e400&/e~choice=1&/e/g/h=x&~=1&/b/-/c=1")
	f.Add("/a=%ff&/b/0/c~choice=9&/e/g/g/g/h=1")
	form := mustNew(f, fuzzSchemas[0])
	f.Fuzz(func(t *testing.T, query string) {
		vals, _ := url.ParseQuery(query)
		doc, errs := form.Decode(vals)
		if !json.Valid(doc) {
			t.Fatalf("Decode returned %q, not JSON", doc)
		}
		parsePage(t, form.HTML(doc, errs))
	})
}
