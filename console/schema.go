package console

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// schemaRow is one value a schema describes, for reading: where it is,
// its type, whether it is required, its rules and description.
type schemaRow struct {
	Path, Type, Rules, Description string
	Required                       bool
	Depth                          int
}

// outline lists what a JSON Schema describes, member by member, with
// local $refs followed (a few levels deep) so that a reader sees the
// document's shape without reading JSON Schema.
func outline(raw json.RawMessage) []schemaRow {
	var root map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &root) != nil {
		return nil
	}
	var rows []schemaRow
	var walk func(s map[string]any, path string, required bool, depth int)
	walk = func(s map[string]any, path string, required bool, depth int) {
		s = deref(root, s, 0)
		if depth > 6 || len(rows) > 200 {
			return
		}
		if path != "" {
			rows = append(rows, schemaRow{Path: path, Type: typeOf(s), Rules: rulesOf(s), Description: str(s["description"]),
				Required: required, Depth: depth})
		}
		props, _ := s["properties"].(map[string]any)
		req := map[string]bool{}
		if list, ok := s["required"].([]any); ok {
			for _, n := range list {
				req[fmt.Sprint(n)] = true
			}
		}
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if sub, ok := props[n].(map[string]any); ok {
				walk(sub, path+"."+n, req[n], depth+1)
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(items, path+"[]", false, depth+1)
		}
	}
	walk(root, "", true, -1)
	for i := range rows {
		rows[i].Path = strings.TrimPrefix(rows[i].Path, ".")
	}
	return rows
}

// deref follows a local $ref ("#/$defs/x") a few times.
func deref(root, s map[string]any, n int) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok || n > 8 || !strings.HasPrefix(ref, "#") {
		return s
	}
	var cur any = root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return s
		}
		cur = m[tok]
	}
	next, ok := cur.(map[string]any)
	if !ok {
		return s
	}
	return deref(root, next, n+1)
}

func typeOf(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		if f := str(s["format"]); f != "" {
			return t + " (" + f + ")"
		}
		return t
	case []any:
		parts := make([]string, len(t))
		for i, p := range t {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, " or ")
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[k].([]any); ok {
			return fmt.Sprintf("one of %d", len(alts))
		}
	}
	if _, ok := s["enum"]; ok {
		return "enum"
	}
	return "any"
}

func rulesOf(s map[string]any) string {
	var rules []string
	add := func(key, label string) {
		if v, ok := s[key]; ok {
			b, _ := json.Marshal(v)
			rules = append(rules, label+" "+string(b))
		}
	}
	add("enum", "one of")
	add("const", "equal to")
	add("minimum", "≥")
	add("exclusiveMinimum", ">")
	add("maximum", "≤")
	add("exclusiveMaximum", "<")
	add("minLength", "length ≥")
	add("maxLength", "length ≤")
	add("pattern", "matches")
	add("minItems", "items ≥")
	add("maxItems", "items ≤")
	add("default", "default")
	return strings.Join(rules, ", ")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
