package schemaform

import (
	"html"
	"strings"
)

// markup writes HTML. Every attribute value and every text goes through
// html.EscapeString here and nowhere else, so no schema text (titles,
// property names, enum values, patterns, defaults) reaches the page
// unescaped. Attribute names and tags are constants of this package. The
// output is also well-formed XML (void elements end in "/>", every
// attribute has a quoted value), which the tests rely on.
type markup struct {
	strings.Builder
}

// attrs are attribute names and values, in pairs.
type attrs []string

func (m *markup) tag(name string, a attrs, end string) {
	m.WriteByte('<')
	m.WriteString(name)
	for i := 0; i+1 < len(a); i += 2 {
		m.WriteByte(' ')
		m.WriteString(a[i])
		m.WriteString(`="`)
		m.WriteString(html.EscapeString(a[i+1]))
		m.WriteByte('"')
	}
	m.WriteString(end)
}

// open writes a start tag.
func (m *markup) open(name string, a ...string) { m.tag(name, a, ">") }

// void writes an element without content, as <input>.
func (m *markup) void(name string, a ...string) { m.tag(name, a, " />") }

// close writes an end tag.
func (m *markup) close(name string) {
	m.WriteString("</")
	m.WriteString(name)
	m.WriteByte('>')
}

// text writes escaped text.
func (m *markup) text(s string) { m.WriteString(html.EscapeString(s)) }

// elem writes an element holding only text.
func (m *markup) elem(name, text string, a ...string) {
	m.open(name, a...)
	m.text(text)
	m.close(name)
}
