package schemaform

import (
	"encoding/json"
	"encoding/xml"
	"html/template"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// A stand-in for the browser: the tests parse what HTML renders (it is
// well-formed XML by design) and post what a browser would.

// node is an element of a rendered form.
type node struct {
	tag   string
	attrs map[string]string
	kids  []*node
	text  string // the element's own text, not its children's
	up    *node
}

func (n *node) attr(name string) (string, bool) {
	v, ok := n.attrs[name]
	return v, ok
}

// allText is the text of n and its descendants.
func (n *node) allText() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(n *node) {
		b.WriteString(n.text)
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(n)
	return b.String()
}

// all returns the elements under n (n included) for which keep is true,
// in document order, not looking into <template>s unless templates is set.
func (n *node) all(templates bool, keep func(*node) bool) []*node {
	var out []*node
	var walk func(*node)
	walk = func(n *node) {
		if keep(n) {
			out = append(out, n)
		}
		if n.tag == "template" && !templates {
			return
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

// byPtr returns the outermost element for the value at ptr, outside
// templates.
func (n *node) byPtr(t *testing.T, ptr string) *node {
	t.Helper()
	found := n.all(false, func(e *node) bool { v, ok := e.attr("data-sf-ptr"); return ok && v == ptr })
	if len(found) == 0 {
		t.Fatalf("no element with data-sf-ptr=%q", ptr)
	}
	return found[0]
}

// byID returns the element with the id, outside templates.
func (n *node) byID(t *testing.T, id string) *node {
	t.Helper()
	found := n.all(false, func(e *node) bool { return e.attrs["id"] == id })
	if len(found) != 1 {
		t.Fatalf("%d elements with id %q", len(found), id)
	}
	return found[0]
}

// parsePage parses rendered fields.
func parsePage(t *testing.T, h template.HTML) *node {
	t.Helper()
	// HTML takes control characters that XML refuses; values may hold them.
	text := strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xfffe || r == 0xffff {
			return '\ufffd'
		}
		return r
	}, string(h))
	dec := xml.NewDecoder(strings.NewReader("<page>" + text + "</page>"))
	dec.Strict = true
	var root, cur *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the form is not well-formed: %v\n%s", err, h)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{tag: tok.Name.Local, attrs: map[string]string{}, up: cur}
			for _, a := range tok.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if cur == nil {
				root = n
			} else {
				cur.kids = append(cur.kids, n)
			}
			cur = n
		case xml.EndElement:
			cur = cur.up
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		}
	}
	return root
}

// submit returns what a browser posts for the form: named controls that
// are not disabled and not in a <template>, ticked checkboxes, the
// selected option (else the first), textareas with their first newline
// dropped and line breaks as CRLF.
func submit(root *node) url.Values {
	vals := url.Values{}
	var walk func(n *node, disabled bool)
	walk = func(n *node, disabled bool) {
		if n.tag == "template" {
			return
		}
		if _, ok := n.attr("disabled"); ok {
			disabled = true
		}
		name, named := n.attr("name")
		if named && !disabled {
			switch n.tag {
			case "input":
				if _, checked := n.attr("checked"); n.attrs["type"] != "checkbox" || checked {
					vals.Add(name, n.attrs["value"])
				}
			case "select":
				var chosen *node
				for _, o := range n.kids {
					if _, ok := o.attr("selected"); ok || chosen == nil {
						chosen = o
					}
				}
				if chosen != nil {
					vals.Add(name, chosen.attrs["value"])
				}
			case "textarea":
				text := strings.TrimPrefix(n.text, "\n")
				vals.Add(name, strings.ReplaceAll(text, "\n", "\r\n"))
			}
		}
		for _, k := range n.kids {
			walk(k, disabled)
		}
	}
	walk(root, false)
	return vals
}

func mustNew(t testing.TB, schema string) *Form {
	t.Helper()
	f, err := New(json.RawMessage(schema))
	if err != nil {
		t.Fatalf("New(%s): %v", schema, err)
	}
	return f
}

// sameJSON fails unless got and want are the same JSON value, numbers
// compared by their text.
func sameJSON(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	read := func(b []byte) any {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("not JSON: %s: %v", b, err)
		}
		return v
	}
	if !reflect.DeepEqual(read(got), read([]byte(want))) {
		t.Errorf("document = %s, want %s", got, want)
	}
}
