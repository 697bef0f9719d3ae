package schemaform

// The controls of fields that hold one value, and the labels, help and
// errors every field has.

import "strconv"

// option writes an <option> of a select.
func option(m *markup, value, label string, selected bool) {
	a := attrs{"value", value}
	if selected {
		a = append(a, "selected", "selected")
	}
	m.elem("option", label, a...)
}

// leaf renders a field with one control (or none, for a constant).
func (r *renderer) leaf(m *markup, f *field, s slot) {
	msgs := r.errs.claim(s.ptr, s.live)
	m.open("div", "class", "sf-field", "data-sf-ptr", s.ptr)
	name := fieldName(s.ptr)
	a := aria(f, s, msgs)
	switch f.kind {
	case kindBoolean:
		if s.required || f.def == true {
			// Posted before the checkbox: false when it is not ticked.
			m.void("input", "type", "hidden", "name", name, "value", "false")
		}
		c := attrs{"type", "checkbox", "id", s.id, "name", name, "value", "true"}
		if s.v == true {
			c = append(c, "checked", "checked")
		}
		m.void("input", append(c, a...)...)
		label(m, s)
	case kindConst:
		m.open("span", "class", "sf-label", "id", s.id+".label")
		labelText(m, s)
		m.close("span")
		m.text(" ")
		m.elem("code", valueLabel(f.value), "class", "sf-value")
	case kindEnum:
		label(m, s)
		m.open("select", append(attrs{"id", s.id, "name", name}, a...)...)
		sel := -1
		for i, v := range f.values {
			if s.has && equal(v, s.v) {
				sel = i
				break
			}
		}
		if !s.required {
			option(m, "", "(none)", sel < 0)
		} else if sel < 0 {
			option(m, "", "(choose)", true)
		}
		for i, l := range f.labels {
			option(m, strconv.Itoa(i), l, i == sel)
		}
		m.close("select")
	case kindJSON:
		label(m, s)
		m.open("textarea", append(attrs{"id", s.id, "name", name, "rows", "6", "spellcheck", "false", "data-sf-json", ""}, a...)...)
		// A newline first: the HTML parser drops the first one of a textarea.
		m.text("\n")
		if s.has {
			m.text(indentJSON(s.v))
		}
		m.close("textarea")
	case kindNumber, kindInteger:
		label(m, s)
		c := attrs{"type", "number", "id", s.id, "name", name, "step", f.num.step}
		if f.num.min != "" {
			c = append(c, "min", f.num.min)
		}
		if f.num.max != "" {
			c = append(c, "max", f.num.max)
		}
		if s.has {
			c = append(c, "value", valueLabel(s.v))
		}
		m.void("input", append(c, a...)...)
	case kindString:
		label(m, s)
		r.stringControl(m, f, s, a)
	}
	notes(m, f, s, msgs)
	m.close("div")
}

func (r *renderer) stringControl(m *markup, f *field, s slot, a attrs) {
	value, input := "", f.str.input
	if s.has {
		value = valueLabel(s.v)
		if v, ok := toInput(f.str.format, value); ok {
			value = v
		} else if input != "textarea" {
			input = "text"
		}
	}
	c := attrs{"id", s.id, "name", fieldName(s.ptr)}
	if f.str.minLength >= 0 {
		c = append(c, "minlength", strconv.Itoa(f.str.minLength))
	}
	if f.str.maxLength >= 0 {
		c = append(c, "maxlength", strconv.Itoa(f.str.maxLength))
	}
	if input == "textarea" {
		m.open("textarea", append(append(c, "rows", "6"), a...)...)
		m.text("\n" + value)
		m.close("textarea")
		return
	}
	c = append(c, "type", input)
	if input == "datetime-local" || input == "time" {
		c = append(c, "step", "1")
	}
	if f.str.pattern != "" {
		// HTML anchors a pattern at both ends; JSON Schema does not.
		c = append(c, "pattern", `[\s\S]*(?:`+f.str.pattern+`)[\s\S]*`)
	}
	if s.has {
		c = append(c, "value", value)
	}
	m.void("input", append(c, a...)...)
}

// aria links a control to its help and errors.
func aria(f *field, s slot, msgs []string) attrs {
	a := describedBy(f, s, msgs)
	if len(msgs) > 0 {
		a = append(a, "aria-invalid", "true")
	}
	if s.required && f.kind != kindBoolean {
		a = append(a, "aria-required", "true")
	}
	return a
}

func describedBy(f *field, s slot, msgs []string) attrs {
	ids := ""
	if helpOf(f) != "" || f.description != "" {
		ids = s.id + ".help"
	}
	if len(msgs) > 0 {
		if ids != "" {
			ids += " "
		}
		ids += s.id + ".err"
	}
	if ids == "" {
		return nil
	}
	return attrs{"aria-describedby", ids}
}

func label(m *markup, s slot) {
	m.open("label", "for", s.id, "id", s.id+".label")
	labelText(m, s)
	m.close("label")
}

func labelText(m *markup, s slot) {
	m.text(s.label)
	if s.item {
		m.text(" ")
		m.elem("span", s.num, "data-sf-num", "")
	}
	// Items and alternatives are there only when given: no mark.
	if s.required && !s.item && !s.bare {
		m.elem("span", " *", "class", "sf-required", "aria-hidden", "true")
	}
}

// helpOf is what a field says beside its description: what its control
// cannot enforce, or why it is JSON.
func helpOf(f *field) string {
	switch {
	case f.kind != kindJSON:
		return f.hint
	case f.why != "":
		return "Enter as JSON: the form cannot show " + f.why + "."
	}
	return "Any JSON value."
}

// notes writes a field's help and errors, which aria and describedBy
// point at.
func notes(m *markup, f *field, s slot, msgs []string) {
	if hint := helpOf(f); f.description != "" || hint != "" {
		m.open("p", "class", "sf-help", "id", s.id+".help")
		m.text(f.description)
		if f.description != "" && hint != "" {
			m.text(" ")
		}
		if hint != "" {
			m.elem("span", hint, "class", "sf-hint")
		}
		m.close("p")
	}
	if len(msgs) > 0 {
		m.open("div", "class", "sf-error", "id", s.id+".err")
		for _, msg := range msgs {
			m.elem("p", msg)
		}
		m.close("div")
	}
}
