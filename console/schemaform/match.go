package schemaform

// Which alternative of a choice a value is shown in.

import "encoding/json"

// bestAlt is the alternative that fits v best, or -1.
func bestAlt(f *field, v any) int {
	best, at := -1, -1
	for i, alt := range f.alts {
		if sc := score(alt, v); sc > best {
			best, at = sc, i
		}
	}
	return at
}

// score says how well v fits f: -1 not at all, more the better. It looks
// at types, constants and member names: enough to tell the alternatives
// of a oneOf apart, which is all it is for.
func score(f *field, v any) int {
	switch f.kind {
	case kindJSON:
		return 0
	case kindConst:
		if equal(f.value, v) {
			return 3
		}
	case kindEnum:
		for _, e := range f.values {
			if equal(e, v) {
				return 3
			}
		}
	case kindString:
		if _, ok := v.(string); ok {
			return 1
		}
	case kindNumber:
		if _, ok := v.(json.Number); ok {
			return 1
		}
	case kindInteger:
		if r, ok := ratOf(v); ok && r.IsInt() {
			return 1
		}
	case kindBoolean:
		if _, ok := v.(bool); ok {
			return 1
		}
	case kindArray:
		if _, ok := v.([]any); ok {
			return 1
		}
	case kindChoice:
		best := -1
		for _, alt := range f.alts {
			best = max(best, score(alt, v))
		}
		return best
	case kindObject:
		o, ok := v.(*object)
		if !ok {
			return -1
		}
		n := 1
		for _, p := range f.props {
			pv, ok := o.get(p.name)
			switch {
			case !ok && p.required:
				n--
			case !ok:
			case score(p.f, pv) >= 0:
				n += 2
			case p.f.kind == kindConst || p.f.kind == kindEnum:
				return -1
			default:
				n--
			}
		}
		for _, k := range o.keys {
			if !hasProp(f.props, k) {
				n--
			}
		}
		return max(n, 0)
	}
	return -1
}

func hasProp(props []prop, name string) bool {
	for _, p := range props {
		if p.name == name {
			return true
		}
	}
	return false
}
