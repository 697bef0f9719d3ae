package schemaform

// Resolving $ref and allOf: a schema becomes one object before it becomes
// a field.

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// refPath lists the $refs expanded on the way from the root to a field,
// innermost first: the count of one ref bounds recursion.
type refPath struct {
	ref string
	up  *refPath
}

func (p *refPath) count(ref string) int {
	n := 0
	for ; p != nil; p = p.up {
		if p.ref == ref {
			n++
		}
	}
	return n
}

func (p *refPath) push(refs ...string) *refPath {
	for _, r := range refs {
		p = &refPath{ref: r, up: p}
	}
	return p
}

// flatten resolves the $ref and allOf of s into one schema without
// either, and returns the refs it expanded; or why it cannot.
func (c *compiler) flatten(s any, path *refPath) (*object, []string, string) {
	c.work++
	if c.work > maxWork {
		return nil, nil, "a schema too large for a form"
	}
	switch s := s.(type) {
	case bool:
		if s {
			return &object{}, nil, ""
		}
		return nil, nil, "a schema that no value matches"
	case *object:
		out := s.without("$ref", "allOf")
		var refs []string
		if r, ok := s.get("$ref"); ok {
			ref, _ := r.(string)
			if path.count(ref) >= maxRepeat {
				return nil, nil, "a recursive schema, cut at this depth"
			}
			target, why := c.resolve(ref)
			if why != "" {
				return nil, nil, why
			}
			to, more, why := c.flatten(target, path.push(ref))
			if why != "" {
				return nil, nil, why
			}
			if out, why = merge(out, to); why != "" {
				return nil, nil, why
			}
			refs = append(append(refs, ref), more...)
		}
		if a, ok := s.get("allOf"); ok {
			list, ok := a.([]any)
			if !ok {
				return nil, nil, "an allOf that is not a list"
			}
			for _, sub := range list {
				so, more, why := c.flatten(sub, path)
				if why != "" {
					return nil, nil, why
				}
				if out, why = merge(out, so); why != "" {
					return nil, nil, why
				}
				refs = append(refs, more...)
			}
		}
		return out, refs, ""
	}
	return nil, nil, "a schema that is not an object"
}

// resolve finds the target of a local $ref: "#", or "#" and a JSON
// pointer into the schema ("#/$defs/x", "#/definitions/x").
func (c *compiler) resolve(ref string) (any, string) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, "a $ref outside the schema"
	}
	frag, err := url.PathUnescape(frag)
	if err != nil || frag != "" && frag[0] != '/' {
		return nil, "a $ref that is not a JSON pointer"
	}
	v := c.doc
	if frag == "" {
		return v, ""
	}
	unescape := strings.NewReplacer("~1", "/", "~0", "~")
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = unescape.Replace(tok)
		switch cur := v.(type) {
		case *object:
			v, ok = cur.get(tok)
		case []any:
			i, err := strconv.Atoi(tok)
			ok = err == nil && i >= 0 && i < len(cur)
			if ok {
				v = cur[i]
			}
		default:
			ok = false
		}
		if !ok {
			return nil, "a $ref to nothing"
		}
	}
	return v, ""
}

// annotations are the keywords merge keeps from its first schema when
// both name them: they describe, they do not constrain.
var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true,
	"$comment": true, "$id": true, "$schema": true, "$anchor": true,
	"$defs": true, "definitions": true, "readOnly": true, "writeOnly": true,
	"deprecated": true, "format": true, "contentMediaType": true,
	"contentEncoding": true,
}

// merge combines two schemas that both apply to a value (allOf, a $ref
// and its siblings, a oneOf's base and an alternative): properties are
// united (a property in both gets both schemas), required lists joined,
// types intersected. Other keywords in both must agree.
func merge(a, b *object) (*object, string) {
	out := a.without()
	for _, k := range b.keys {
		bv := b.vals[k]
		av, ok := out.get(k)
		switch {
		case !ok:
			out.set(k, bv)
		case k == "properties":
			ap, okA := av.(*object)
			bp, okB := bv.(*object)
			if !okA || !okB {
				return nil, "properties that are not an object"
			}
			props := ap.without()
			for _, name := range bp.keys {
				if pa, ok := props.get(name); ok {
					props.set(name, &object{keys: []string{"allOf"}, vals: map[string]any{"allOf": []any{pa, bp.vals[name]}}})
				} else {
					props.set(name, bp.vals[name])
				}
			}
			out.set(k, props)
		case k == "required":
			al, _ := av.([]any)
			bl, _ := bv.([]any)
			req := slices.Clone(al)
			for _, n := range bl {
				if !slices.Contains(req, n) {
					req = append(req, n)
				}
			}
			out.set(k, req)
		case k == "type":
			t := intersectTypes(typeList(av), typeList(bv))
			if len(t) == 0 {
				return nil, "an allOf whose parts allow no common type"
			}
			out.set(k, t)
		case annotations[k] || equal(av, bv):
		default:
			return nil, fmt.Sprintf("an allOf whose parts disagree on %s", k)
		}
	}
	return out, ""
}

func typeList(v any) []any {
	if s, ok := v.(string); ok {
		return []any{s}
	}
	l, _ := v.([]any)
	return l
}

func intersectTypes(a, b []any) []any {
	var out []any
	for _, t := range a {
		switch {
		case slices.Contains(b, t):
			out = append(out, t)
		case t == "integer" && slices.Contains(b, any("number")):
			out = append(out, t)
		case t == "number" && slices.Contains(b, any("integer")):
			out = append(out, "integer")
		}
	}
	return out
}
