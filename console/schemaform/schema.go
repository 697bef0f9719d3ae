package schemaform

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// compiler turns a schema into fields. It resolves $ref and merges allOf
// itself, rather than through the registry's validator, because a form
// needs what the validator throws away: the order of properties, titles
// and defaults where they were written.
type compiler struct {
	doc     any  // the whole schema, which local $refs point into
	work    int  // fields built and expansions made, bounded by maxWork
	partial bool // some part fell back to a JSON textarea
}

// field compiles the schema s, met at depth with the $refs of path
// expanded around it.
func (c *compiler) field(s any, path *refPath, depth int) *field {
	o, refs, why := c.flatten(s, path)
	if why != "" {
		f := &field{}
		if so, ok := s.(*object); ok {
			f.title, f.description = so.str("title"), so.str("description")
		}
		return c.fallback(f, why)
	}
	return c.build(o, path.push(refs...), depth)
}

// fallback makes f a JSON textarea for a part the form cannot express.
func (c *compiler) fallback(f *field, why string) *field {
	c.partial = true
	f.kind, f.why = kindJSON, why
	return f
}

// unsupported says which keyword of o the form cannot express, or "".
// Keywords that only narrow the values (not, contains, propertyNames,
// dependentRequired, bounds) are left to the API to check.
func unsupported(o *object) string {
	for _, k := range []string{"patternProperties", "if", "then", "else", "prefixItems", "dependentSchemas", "$dynamicRef", "$recursiveRef"} {
		if o.has(k) {
			return k
		}
	}
	if _, ok := o.vals["items"].([]any); ok {
		return "tuple items"
	}
	for _, k := range []string{"additionalProperties", "unevaluatedProperties"} {
		if s, ok := o.vals[k].(*object); ok && len(s.keys) > 0 {
			return k + " with a schema"
		}
	}
	if deps, ok := o.vals["dependencies"].(*object); ok {
		for _, k := range deps.keys {
			if _, list := deps.vals[k].([]any); !list {
				return "dependencies with a schema"
			}
		}
	}
	return ""
}

// build compiles a flattened schema.
func (c *compiler) build(o *object, path *refPath, depth int) *field {
	c.work++
	f := &field{title: o.str("title"), description: o.str("description")}
	f.readOnly, _ = o.vals["readOnly"].(bool)
	f.def, f.hasDef = o.get("default")
	if c.work > maxWork {
		return c.fallback(f, "a schema too large for a form")
	}
	if depth > maxDepth {
		return c.fallback(f, "fields nested too deeply for a form")
	}
	if why := unsupported(o); why != "" {
		return c.fallback(f, why)
	}
	if v, ok := o.get("const"); ok {
		f.kind, f.value = kindConst, v
		return f
	}
	if v, ok := o.get("enum"); ok {
		list, _ := v.([]any)
		if len(list) == 0 {
			return c.fallback(f, "an enum without values")
		}
		f.kind, f.values = kindEnum, list
		for _, v := range list {
			f.labels = append(f.labels, valueLabel(v))
		}
		return f
	}
	if o.has("oneOf") || o.has("anyOf") {
		return c.choice(f, o, path, depth)
	}
	types, ok := typesOf(o)
	if !ok {
		return c.fallback(f, "a type that is not a JSON type")
	}
	switch {
	case len(types) == 0:
		f.kind = kindJSON // any value
	case len(types) > 1:
		return c.typeChoice(f, o, types, path, depth)
	case types[0] == "object":
		c.object(f, o, path, depth)
	case types[0] == "array":
		c.array(f, o, path, depth)
	case types[0] == "string":
		f.kind, f.str = kindString, stringAttrsOf(o)
		if f.str.input == "datetime-local" || f.str.input == "time" {
			f.hint = "In UTC."
		}
	case types[0] == "number" || types[0] == "integer":
		f.kind = kindNumber
		if types[0] == "integer" {
			f.kind = kindInteger
		}
		f.num = numberAttrsOf(o, f.kind == kindInteger)
		if f.num.hint != "" {
			f.hint = "Must be " + f.num.hint + "."
		}
	case types[0] == "boolean":
		f.kind = kindBoolean
	case types[0] == "null":
		f.kind, f.value = kindConst, nil
	}
	return f
}

// typesOf returns the JSON types o allows, inferred from its keywords when
// it names none; none at all means any value.
func typesOf(o *object) ([]string, bool) {
	valid := []string{"object", "array", "string", "number", "integer", "boolean", "null"}
	var types []string
	switch t := o.vals["type"].(type) {
	case nil:
		switch {
		case o.has("properties") || o.has("required"):
			types = []string{"object"}
		case o.has("items"):
			types = []string{"array"}
		}
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			s, _ := e.(string)
			if !slices.Contains(types, s) {
				types = append(types, s)
			}
		}
	default:
		return nil, false
	}
	for _, t := range types {
		if !slices.Contains(valid, t) {
			return nil, false
		}
	}
	return types, true
}

func (c *compiler) object(f *field, o *object, path *refPath, depth int) {
	f.kind = kindObject
	props, _ := o.vals["properties"].(*object)
	var required []string
	if list, ok := o.vals["required"].([]any); ok {
		for _, n := range list {
			if s, ok := n.(string); ok {
				required = append(required, s)
			}
		}
	}
	if props == nil {
		props = &object{}
	}
	if len(props.keys) == 0 && len(required) == 0 {
		if ap, ok := o.vals["additionalProperties"].(bool); !ok || ap {
			f.kind = kindJSON // an object with any members
		}
		return
	}
	for _, name := range props.keys {
		p := c.field(props.vals[name], path, depth+1)
		if !p.readOnly {
			f.props = append(f.props, prop{name: name, required: slices.Contains(required, name), f: p})
		}
	}
	// A required member the properties do not describe takes any value.
	for _, name := range required {
		if !props.has(name) {
			c.work++
			f.props = append(f.props, prop{name: name, required: true, f: &field{kind: kindJSON}})
		}
	}
}

func (c *compiler) array(f *field, o *object, path *refPath, depth int) {
	items, ok := o.get("items")
	if s, isObj := items.(*object); !ok || items == true || isObj && len(s.keys) == 0 {
		f.kind = kindJSON // an array of any values
		return
	}
	f.kind = kindArray
	f.items = c.field(items, path, depth+1)
	f.minItems = intOf(o.vals["minItems"], 0)
	f.maxItems = intOf(o.vals["maxItems"], -1)
}

// typeChoice is a choice between the types of a type list, as
// ["string", "null"]; the other keywords apply to each.
func (c *compiler) typeChoice(f *field, o *object, types []string, path *refPath, depth int) *field {
	f.kind = kindChoice
	base := o.without("type", "title", "description", "default")
	for _, t := range types {
		alt := base.without()
		alt.set("type", t)
		f.alts = append(f.alts, c.build(alt, path, depth+1))
		f.labels = append(f.labels, t)
	}
	return f
}

// choice is a choice between the alternatives of a oneOf or anyOf, each
// merged with the keywords beside it. A choice between constants is an
// enum whose labels are their titles.
func (c *compiler) choice(f *field, o *object, path *refPath, depth int) *field {
	if o.has("oneOf") && o.has("anyOf") {
		return c.fallback(f, "both oneOf and anyOf")
	}
	key := "oneOf"
	if o.has("anyOf") {
		key = "anyOf"
	}
	list, _ := o.vals[key].([]any)
	if len(list) == 0 {
		return c.fallback(f, key+" without alternatives")
	}
	base := o.without("oneOf", "anyOf", "title", "description", "default")
	seen := map[string]bool{}
	allConst := true
	for i, s := range list {
		var alt *field
		label := ""
		ao, refs, why := c.flatten(s, path)
		if why == "" {
			label = ao.str("title")
			ao, why = merge(ao, base)
		}
		if why != "" {
			alt = c.fallback(&field{}, why)
		} else {
			alt = c.build(ao, path.push(refs...), depth+1)
		}
		if label == "" {
			label = describe(alt)
		}
		if seen[label] {
			label = fmt.Sprintf("%s (option %d)", label, i+1)
		}
		seen[label] = true
		allConst = allConst && alt.kind == kindConst
		f.alts = append(f.alts, alt)
		f.labels = append(f.labels, label)
	}
	f.kind = kindChoice
	if allConst {
		f.kind = kindEnum
		for _, a := range f.alts {
			f.values = append(f.values, a.value)
		}
		f.alts = nil
	}
	return f
}

// describe names an untitled alternative by its type.
func describe(f *field) string {
	switch f.kind {
	case kindObject:
		var names []string
		for _, p := range f.props {
			if p.f.kind == kindConst {
				return fmt.Sprintf("object (%s: %s)", p.name, valueLabel(p.f.value))
			}
			if len(names) < 3 {
				names = append(names, p.name)
			}
		}
		return "object (" + strings.Join(names, ", ") + ")"
	case kindArray:
		return "array of " + describe(f.items)
	case kindString:
		if f.str.format != "" {
			return "string (" + f.str.format + ")"
		}
		return "string"
	case kindNumber:
		return "number"
	case kindInteger:
		return "integer"
	case kindBoolean:
		return "boolean"
	case kindConst:
		return valueLabel(f.value)
	case kindEnum:
		return "one of " + strings.Join(f.labels, ", ")
	case kindChoice:
		return strings.Join(f.labels, " or ")
	}
	return "JSON value"
}

// valueLabel shows a value to a person: a string as itself, others as JSON.
func valueLabel(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(appendJSON(nil, v))
}

// stringAttrsOf maps a string schema to its control. Formats with an
// input type of their own get it; long text gets a textarea.
func stringAttrsOf(o *object) stringAttrs {
	a := stringAttrs{
		input:     "text",
		format:    o.str("format"),
		minLength: intOf(o.vals["minLength"], -1),
		maxLength: intOf(o.vals["maxLength"], -1),
		pattern:   o.str("pattern"),
	}
	switch a.format {
	case "email":
		a.input = "email"
	case "uri":
		a.input = "url"
	case "date":
		a.input = "date"
	case "date-time":
		a.input = "datetime-local"
	case "time":
		a.input = "time"
	case "textarea":
		a.input = "textarea"
	default:
		if o.has("contentMediaType") || a.maxLength > 200 {
			a.input = "textarea"
		}
	}
	return a
}

// intOf reads a non-negative integer keyword, or returns def.
func intOf(v any, def int) int {
	n, ok := v.(json.Number)
	if !ok {
		return def
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil || i < 0 {
		return def
	}
	return int(i)
}
