package schemaform

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSupported lists what the form expresses and what falls back to a
// JSON textarea.
func TestSupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, schema string
		supported    bool
	}{
		{"processor", processorSchema(t), true},
		{"empty", ``, true},
		{"true", `true`, true},
		{"any member", `{"type": "object", "properties": {"x": {}}}`, true},
		{"local refs", `{"properties": {"a": {"$ref": "#/$defs/a"}, "b": {"$ref": "#/definitions/b"}, "c": {"$ref": "#/properties/a"}},
			"$defs": {"a": {"type": "string"}}, "definitions": {"b": {"type": "integer"}}}`, true},
		{"allOf of objects", `{"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"type": "string"}}, "required": ["b"]}]}`, true},
		{"narrowing keywords", `{"type": "array", "items": {"type": "string"}, "contains": {"const": "x"}, "uniqueItems": true, "not": {"maxItems": 0}}`, true},
		{"additionalProperties false", `{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}`, true},
		{"patternProperties", `{"type": "object", "patternProperties": {"^x": {"type": "string"}}}`, false},
		{"additionalProperties with a schema", `{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}`, false},
		{"if/then/else", `{"type": "object", "properties": {"a": {"type": "string"}}, "if": {"required": ["a"]}, "then": {"required": ["b"]}}`, false},
		{"prefixItems", `{"type": "array", "prefixItems": [{"type": "string"}]}`, false},
		{"tuple items", `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}`, false},
		{"dependentSchemas", `{"type": "object", "properties": {"a": {"type": "string"}}, "dependentSchemas": {"a": {"required": ["b"]}}}`, false},
		{"remote ref", `{"$ref": "https://example.com/schema.json"}`, false},
		{"anchor ref", `{"$ref": "#thing", "$defs": {"x": {"$anchor": "thing"}}}`, false},
		{"dangling ref", `{"$ref": "#/$defs/none"}`, false},
		{"allOf disagreeing", `{"allOf": [{"type": "string", "maxLength": 3}, {"maxLength": 4}]}`, false},
		{"allOf without a common type", `{"allOf": [{"type": "string"}, {"type": "integer"}]}`, false},
		{"false", `{"type": "object", "properties": {"never": false}}`, false},
		{"recursion", `{"type": "object", "properties": {"next": {"$ref": "#"}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, tc.schema)
			if f.Supported() != tc.supported {
				t.Errorf("Supported() = %v, want %v", f.Supported(), tc.supported)
			}
			if !tc.supported && !strings.Contains(string(f.HTML(nil, nil)), "Enter as JSON: the form cannot show") {
				t.Errorf("the form does not say what it cannot show")
			}
		})
	}
}

// TestRecursionBounded compiles schemas that refer to themselves, or
// multiply: each compiles quickly and renders a bounded form.
func TestRecursionBounded(t *testing.T) {
	t.Parallel()
	// fanOut names the next level twice at each of 40 levels: 2^40 fields
	// if nothing stopped it.
	var fanOut strings.Builder
	fanOut.WriteString(`{"$ref": "#/$defs/d0", "$defs": {`)
	for i := range 40 {
		fmt.Fprintf(&fanOut, `"d%d": {"type": "object", "properties": {"a": {"$ref": "#/$defs/d%d"}, "b": {"allOf": [{"$ref": "#/$defs/d%d"}]}}},`, i, i+1, i+1)
	}
	fanOut.WriteString(`"d40": {"type": "string"}}}`)
	// chain nests 60 distinct definitions.
	var chain strings.Builder
	chain.WriteString(`{"$ref": "#/$defs/c0", "$defs": {`)
	for i := range 60 {
		fmt.Fprintf(&chain, `"c%d": {"type": "array", "items": {"$ref": "#/$defs/c%d"}},`, i, i+1)
	}
	chain.WriteString(`"c60": {"type": "string"}}}`)
	for _, tc := range []struct {
		name, schema string
		value        string
	}{
		{"a tree", `{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {
			"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}`,
			`{"children": [{"children": [{"children": [{"children": [{"name": "deep"}]}]}]}]}`},
		{"itself in place", `{"$ref": "#"}`, `1`},
		{"itself through allOf", `{"allOf": [{"$ref": "#"}], "properties": {"a": {"type": "string"}}}`, `{}`},
		{"two definitions in place", `{"$ref": "#/$defs/a", "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"oneOf": [{"$ref": "#/$defs/a"}]}}}`, `1`},
		{"through oneOf", `{"$defs": {"e": {"oneOf": [{"type": "integer"}, {"type": "object", "properties": {"l": {"$ref": "#/$defs/e"}, "r": {"$ref": "#/$defs/e"}}}]}}, "$ref": "#/$defs/e"}`,
			`{"l": {"l": 1, "r": {"l": 2, "r": 3}}, "r": 4}`},
		{"fan-out", fanOut.String(), `{}`},
		{"a long chain", chain.String(), `[[[[["x"]]]]]`},
		{"nested minItems", strings.Repeat(`{"type": "array", "minItems": 100, "items": `, 8) + `{"type": "string"}` + strings.Repeat(`}`, 8), ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			f := mustNew(t, tc.schema)
			h := f.HTML(json.RawMessage(tc.value), nil)
			parsePage(t, h)
			if d := time.Since(start); d > 10*time.Second || len(h) > 50<<20 {
				t.Errorf("took %s for %d bytes of form", d, len(h))
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, schema string }{
		{"not JSON", `{"type": `},
		{"two values", `{} {}`},
		{"a number", `1`},
		{"a list", `[{"type": "string"}]`},
		{"too deep", strings.Repeat(`{"items":`, 200) + `{}` + strings.Repeat(`}`, 200)},
		{"too large", `{"description": "` + strings.Repeat("x", maxSchemaBytes) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(json.RawMessage(tc.schema)); err == nil {
				t.Errorf("New accepted %.40s", tc.schema)
			}
		})
	}
}
