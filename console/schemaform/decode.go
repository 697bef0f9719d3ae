package schemaform

import (
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Decode turns posted form values (r.PostForm) into the JSON document the
// form stands for, typed by the schema. Fields are read by their names
// (see the package documentation); names of no field are ignored, so the
// page may post its own fields beside the form's if their names start
// with neither "/" nor "~".
//
//   - Strings are taken as they are, with line breaks as "\n"; an empty
//     optional one is left out. A date-time or time without a zone (what
//     the browser's inputs post) is taken as UTC.
//   - Numbers are kept as written (no precision is lost); integers are
//     written without fraction or exponent ("1e2" is 100).
//   - An array's items are read in the order of their indices, which need
//     not be contiguous: removing an item in the page leaves a gap.
//   - An optional object is left out when nothing in it was given (an
//     unticked box and a constant do not count), an optional array when
//     it has no items.
//   - Of a choice, only the chosen alternative is read.
//
// Decode does not validate the document against the schema; the API does.
// It reports only what it cannot convert, and required values that are
// missing, keyed by JSON pointer into the document (the shape HTML takes).
// Such a value is left in the document as the text that was posted, so
// that HTML(doc, errs) shows the person what they typed.
func (f *Form) Decode(form url.Values) (json.RawMessage, map[string]string) {
	d := &decoder{form: form, kids: indexNames(form)}
	res, probs := d.value(f.root, "", "", true)
	doc := json.RawMessage("null")
	if res.ok {
		doc = appendJSON(nil, res.v)
	}
	if len(probs) == 0 {
		return doc, nil
	}
	errs := map[string]string{}
	for _, p := range probs {
		if m, ok := errs[p.at]; ok {
			errs[p.at] = m + "; " + p.msg
		} else {
			errs[p.at] = p.msg
		}
	}
	return doc, errs
}

type decoder struct {
	form url.Values
	kids map[string]map[string]bool // posted pointer -> tokens that follow it in posted names
}

// result is a decoded value.
type result struct {
	v       any
	ok      bool // there is a value
	touched bool // the person gave it, rather than the form (a default, an unticked box, a constant)
}

// problem is a value Decode could not convert, or a required one missing.
type problem struct {
	at, msg string
	missing bool // an error only if the object holding it is sent
}

// value decodes f from the fields named from name (a pointer as posted:
// item indices may have gaps) into the document at the pointer at.
func (d *decoder) value(f *field, name, at string, required bool) (result, []problem) {
	switch f.kind {
	case kindObject:
		return d.object(f, name, at, required)
	case kindArray:
		return d.array(f, name, at, required)
	case kindChoice:
		return d.choice(f, name, at, required)
	case kindConst:
		return result{v: f.value, ok: true}, nil
	}
	vals := d.form[fieldName(name)]
	if f.kind == kindBoolean {
		return d.boolean(f, vals, at, required)
	}
	s := ""
	if len(vals) > 0 {
		s = strings.ReplaceAll(vals[0], "\r\n", "\n")
	}
	if f.kind == kindString && len(vals) > 0 && (s != "" || required) {
		return result{v: fromInput(f.str.format, s), ok: true, touched: s != ""}, nil
	}
	if strings.TrimSpace(s) == "" {
		if required {
			return result{}, []problem{{at: at, msg: "required", missing: true}}
		}
		return result{}, nil
	}
	given := result{v: s, ok: true, touched: true}
	bad := func(msg string) (result, []problem) { return given, []problem{{at: at, msg: msg}} }
	switch f.kind {
	case kindEnum:
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= len(f.values) {
			return bad("not one of the options")
		}
		given.v = f.values[i]
	case kindNumber, kindInteger:
		n, msg := numberOf(strings.TrimSpace(s), f.kind == kindInteger)
		if msg != "" {
			return bad(msg)
		}
		given.v = n
	case kindJSON:
		v, err := parseJSON([]byte(s), maxValueDepth)
		if err != nil {
			return bad("not valid JSON")
		}
		given.v = v
	}
	return given, nil
}

func (d *decoder) boolean(f *field, vals []string, at string, required bool) (result, []problem) {
	if len(vals) == 0 {
		if required {
			return result{}, []problem{{at: at, msg: "required", missing: true}}
		}
		return result{}, nil
	}
	b := slices.Contains(vals, "true")
	if !b && !slices.Contains(vals, "false") {
		return result{v: vals[0], ok: true, touched: true}, []problem{{at: at, msg: "not true or false"}}
	}
	def, _ := f.def.(bool)
	return result{v: b, ok: true, touched: b != def}, nil
}

// object decodes the members; an optional object nobody touched is left
// out, with the errors of its required members.
func (d *decoder) object(f *field, name, at string, required bool) (result, []problem) {
	o := &object{}
	var probs []problem
	touched := false
	for _, p := range f.props {
		r, ps := d.value(p.f, child(name, p.name), child(at, p.name), p.required)
		if r.ok {
			o.set(p.name, r.v)
		}
		touched = touched || r.touched
		probs = append(probs, ps...)
	}
	for _, p := range probs {
		touched = touched || !p.missing
	}
	if !touched && !required {
		return result{}, nil
	}
	return result{v: o, ok: true, touched: touched}, probs
}

func (d *decoder) array(f *field, name, at string, required bool) (result, []problem) {
	list := []any{}
	var probs []problem
	for i, tok := range d.indices(name) {
		r, ps := d.value(f.items, child(name, tok), child(at, strconv.Itoa(i)), true)
		list = append(list, r.v) // null when missing, with its problem
		probs = append(probs, ps...)
	}
	// Items are there because someone added them (HTML shows minItems
	// empty items only for a required array).
	touched := len(list) > 0
	if !touched && !required {
		return result{}, nil
	}
	return result{v: list, ok: true, touched: touched}, probs
}

func (d *decoder) choice(f *field, name, at string, required bool) (result, []problem) {
	k := d.form.Get(name + choiceSuffix)
	if k == "" {
		if required {
			return result{}, []problem{{at: at, msg: "required", missing: true}}
		}
		return result{}, nil
	}
	i, err := strconv.Atoi(k)
	if err != nil || i < 0 || i >= len(f.alts) {
		return result{}, []problem{{at: at, msg: "not one of the options"}}
	}
	r, probs := d.value(f.alts[i], name, at, true)
	// Choosing an alternative of an optional choice is giving a value.
	r.touched = r.touched || !required
	return r, probs
}

// indices returns the item indices posted under the array name, in
// numeric order.
func (d *decoder) indices(name string) []string {
	var toks []string
	for t := range d.kids[name] {
		if len(t) <= 9 && t != "" && (t == "0" || t[0] != '0') && strings.Trim(t, "0123456789") == "" {
			toks = append(toks, t)
		}
	}
	sort.Slice(toks, func(i, j int) bool {
		if len(toks[i]) != len(toks[j]) {
			return len(toks[i]) < len(toks[j])
		}
		return toks[i] < toks[j]
	})
	return toks
}

// indexNames maps each pointer that begins a posted name to the tokens
// that follow it: "/a/3/b" adds "a" under "", "3" under "/a" and "b"
// under "/a/3". Arrays find their items there without scanning every name.
func indexNames(form url.Values) map[string]map[string]bool {
	kids := map[string]map[string]bool{}
	for k := range form {
		k = strings.TrimSuffix(strings.TrimSuffix(k, choiceSuffix), itemSuffix)
		for i := 0; i < len(k) && k[i] == '/'; {
			end := len(k)
			if j := strings.IndexByte(k[i+1:], '/'); j >= 0 {
				end = i + 1 + j
			}
			parent := k[:i]
			if kids[parent] == nil {
				kids[parent] = map[string]bool{}
			}
			kids[parent][k[i+1:end]] = true
			i = end
		}
	}
	return kids
}

// numberOf converts a number as typed to JSON, or says why it cannot.
func numberOf(s string, integer bool) (json.Number, string) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	if strings.HasPrefix(digits, ".") {
		digits = "0" + digits // HTML allows ".5"; JSON does not
	}
	for len(digits) > 1 && digits[0] == '0' && '0' <= digits[1] && digits[1] <= '9' {
		digits = digits[1:] // nor "007"
	}
	if neg {
		s = "-" + digits
	} else {
		s = digits
	}
	if s == "" || !(s[0] == '-' || '0' <= s[0] && s[0] <= '9') || !json.Valid([]byte(s)) {
		return "", "not a number"
	}
	if !integer || !strings.ContainsAny(s, ".eE") {
		return json.Number(s), ""
	}
	r, ok := ratOf(json.Number(s))
	switch {
	case !ok:
		return "", "a number too large for this form"
	case !r.IsInt():
		return "", "not an integer"
	}
	return json.Number(r.Num().String()), ""
}
