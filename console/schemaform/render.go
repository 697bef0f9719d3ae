package schemaform

import (
	"bytes"
	"encoding/json"
	"html/template"
	"strconv"
)

// HTML renders the form's fields: no <form> element and no submit button,
// which are the page's. Values come from value, a JSON document (an
// earlier input, or what Decode returned); when value is empty or not
// JSON, fields show the schema's defaults. errs maps JSON pointers, as
// the API and Decode report them, to messages; each is shown on the field
// at its pointer, or at the top of the nearest enclosing field that is
// shown ("" is the whole form).
//
// Every text of the schema is escaped; the result is safe to put in a
// page as it is. Array buttons and alternative selects need Script.
func (f *Form) HTML(value json.RawMessage, errs map[string]string) template.HTML {
	r := &renderer{errs: newPlacement(errs)}
	s := slot{ptr: "", id: rootID, label: f.root.title, required: true, bare: true, defaults: true, live: true}
	if s.label == "" {
		s.label = "Input"
	}
	if t := bytes.TrimSpace(value); len(t) > 0 {
		if v, err := parseJSON(t, maxValueDepth); err == nil {
			s.v, s.has, s.defaults = v, true, false
		}
	}
	var m markup
	m.open("div", "class", "sf-form")
	r.field(&m, f.root, s)
	m.close("div")
	return template.HTML(m.String())
}

type renderer struct {
	errs   *placement
	fields int // rendered so far
}

// slot is where a field is rendered: its value's pointer and the rest of
// what its parent knows.
type slot struct {
	ptr, id  string
	label    string // the title, else the property name, else "Item"
	item     bool   // an array item: its number follows the label
	num      string // the item's number ("" in a template row: form.js fills it in)
	required bool
	bare     bool // an object shown without its own fieldset (the root, an alternative)
	v        any  // the value, if has
	has      bool
	defaults bool // show defaults where there is no value
	live     bool // show errors: not in template rows nor alternatives not chosen
}

func (r *renderer) field(m *markup, f *field, s slot) {
	r.fields++
	if !s.has && s.defaults && f.hasDef {
		s.v, s.has = f.def, true
	}
	switch f.kind {
	case kindObject:
		r.object(m, f, s)
	case kindArray:
		r.array(m, f, s)
	case kindChoice:
		r.choice(m, f, s)
	default:
		r.leaf(m, f, s)
	}
}

// labelOf is the label of a field: its title, else fallback.
func labelOf(f *field, fallback string) string {
	if f.title != "" {
		return f.title
	}
	return fallback
}

func (r *renderer) object(m *markup, f *field, s slot) {
	var body markup
	obj, _ := s.v.(*object)
	for _, p := range f.props {
		c := slot{
			ptr: child(s.ptr, p.name), id: childID(s.id, p.name), label: labelOf(p.f, p.name),
			required: p.required, defaults: s.defaults, live: s.live,
		}
		if obj != nil {
			c.v, c.has = obj.get(p.name)
		}
		r.field(&body, p.f, c)
	}
	msgs := r.errs.claim(s.ptr, s.live)
	tag, a := "fieldset", attrs{"class", "sf-object", "id", s.id, "data-sf-ptr", s.ptr}
	if s.bare {
		tag = "div"
	}
	m.open(tag, append(a, describedBy(f, s, msgs)...)...)
	if !s.bare {
		m.open("legend", "id", s.id+".label")
		labelText(m, s)
		m.close("legend")
	}
	notes(m, f, s, msgs)
	m.WriteString(body.String())
	m.close(tag)
}

// Empty items are shown for a minItems only while the form has fewer than
// maxFilled fields, and at most maxShownItems of them per array: else
// nested arrays could ask for 100^30 of them.
const (
	maxShownItems = 100
	maxFilled     = 5000
)

func (r *renderer) array(m *markup, f *field, s slot) {
	itemLabel := labelOf(f.items, "Item")
	list, _ := s.v.([]any)
	n := len(list)
	if (!s.has || list == nil) && s.required {
		n = min(f.minItems, maxShownItems)
	}
	row := func(m *markup, i string, c slot) {
		c.ptr, c.id, c.label, c.item, c.required = child(s.ptr, i), childID(s.id, i), itemLabel, true, true
		m.open("li", "class", "sf-item", "data-sf-item", "")
		m.void("input", "type", "hidden", "name", c.ptr+itemSuffix, "value", "")
		r.field(m, f.items, c)
		m.elem("button", "Remove", "type", "button", "class", "sf-remove", "data-sf-remove", "", "aria-describedby", c.id+".label")
		m.close("li")
	}
	var body markup
	body.open("ol", "class", "sf-items", "data-sf-items", "")
	for i := range n {
		c := slot{num: strconv.Itoa(i + 1), defaults: s.defaults, live: s.live}
		if list != nil {
			c.v, c.has = list[i], true
		} else if r.fields >= maxFilled {
			n = i
			break
		}
		row(&body, strconv.Itoa(i), c)
	}
	body.close("ol")
	msgs := r.errs.claim(s.ptr, s.live)

	a := attrs{"class", "sf-array", "id", s.id, "data-sf-ptr", s.ptr, "data-sf-array", "", "data-sf-next", strconv.Itoa(n)}
	if f.minItems > 0 {
		a = append(a, "data-sf-min", strconv.Itoa(f.minItems))
	}
	if f.maxItems >= 0 {
		a = append(a, "data-sf-max", strconv.Itoa(f.maxItems))
	}
	m.open("fieldset", append(a, describedBy(f, s, msgs)...)...)
	m.open("legend", "id", s.id+".label")
	labelText(m, s)
	m.close("legend")
	notes(m, f, s, msgs)
	m.WriteString(body.String())
	m.open("template", "data-sf-template", "")
	row(m, newRow, slot{defaults: true})
	m.close("template")
	add := "Add item"
	if f.items.title != "" {
		add = "Add " + f.items.title
	}
	m.elem("button", add, "type", "button", "class", "sf-add", "data-sf-add", "")
	m.close("fieldset")
}

// choice renders a select of the alternatives and each alternative in a
// fieldset of its own at the same pointer; those not chosen are hidden
// and disabled, so that the browser posts only the chosen one.
func (r *renderer) choice(m *markup, f *field, s slot) {
	chosen := -1
	if s.has {
		chosen = bestAlt(f, s.v)
	}
	if chosen < 0 && (s.required || s.has) {
		chosen = 0
	}
	var body markup
	for i, alt := range f.alts {
		on := i == chosen
		a := attrs{"class", "sf-alt", "data-sf-alt", strconv.Itoa(i)}
		if !on {
			a = append(a, "hidden", "hidden", "disabled", "disabled")
		}
		body.open("fieldset", a...)
		body.elem("legend", f.labels[i])
		c := slot{ptr: s.ptr, id: s.id + "." + strconv.Itoa(i), label: s.label, required: true, bare: true, defaults: true, live: s.live && on}
		if on && s.has {
			c.v, c.has, c.defaults = s.v, true, s.defaults
		}
		r.field(&body, alt, c)
		body.close("fieldset")
	}
	msgs := r.errs.claim(s.ptr, s.live)
	m.open("div", "class", "sf-choice", "id", s.id, "data-sf-ptr", s.ptr, "data-sf-choices", "")
	m.open("label", "for", s.id+".choice", "id", s.id+".label")
	labelText(m, s)
	m.close("label")
	m.open("select", append(attrs{"id", s.id + ".choice", "name", s.ptr + choiceSuffix, "data-sf-choice", ""}, aria(f, s, msgs)...)...)
	if !s.required {
		option(m, "", "(none)", chosen < 0)
	}
	for i, l := range f.labels {
		option(m, strconv.Itoa(i), l, i == chosen)
	}
	m.close("select")
	notes(m, f, s, msgs)
	m.WriteString(body.String())
	m.close("div")
}
