package schemaform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on what New reads and builds.
const (
	// maxSchemaBytes and maxSchemaDepth are looser than the registry's
	// bounds (256 KiB, 64 levels): New reads schemas that were registered.
	maxSchemaBytes = 1 << 20
	maxSchemaDepth = 128
	// maxValueDepth is the API's bound on an input document's nesting.
	maxValueDepth = 512
	// maxRepeat is how often one $ref may be expanded inside itself: a
	// recursive schema is shown this many levels deep, then as JSON.
	maxRepeat = 3
	// maxDepth bounds how deep fields nest, recursive or not.
	maxDepth = 32
	// maxWork bounds the fields built and the $refs and allOfs expanded
	// for one schema: a small schema can name a part twice at every level
	// and so stand for millions of fields.
	maxWork = 10000
)

// Form is a schema compiled for rendering; build it once per version. A
// Form is immutable and safe for concurrent use.
type Form struct {
	root    *field
	partial bool
}

// New compiles a JSON Schema (an input_schema). An empty schema, null or
// true accept any document: the form is then one JSON textarea.
//
// # Errors
//
// New fails only when schema is not JSON, is larger than 1 MiB or nests
// deeper than 128 levels, or is neither an object nor a boolean. Parts
// the form cannot express do not fail it: see Supported.
func New(schema json.RawMessage) (*Form, error) {
	if len(schema) > maxSchemaBytes {
		return nil, fmt.Errorf("the schema is %d bytes, over the limit of %d", len(schema), maxSchemaBytes)
	}
	var doc any = true
	if t := bytes.TrimSpace(schema); len(t) > 0 && string(t) != "null" {
		var err error
		if doc, err = parseJSON(t, maxSchemaDepth); err != nil {
			return nil, fmt.Errorf("read the schema: %w", err)
		}
	}
	switch doc.(type) {
	case bool, *object:
	default:
		return nil, errors.New("the schema is not an object or a boolean")
	}
	c := &compiler{doc: doc}
	root := c.field(doc, nil, 0)
	return &Form{root: root, partial: c.partial}, nil
}

// Supported reports whether the form expresses the whole schema. When it
// does not, the parts it cannot express (see the package documentation)
// are JSON textareas inside the form, each saying why; a console may show
// the form anyway or offer only its raw JSON editor.
func (f *Form) Supported() bool {
	return !f.partial
}

// kind is what control a field is shown as.
type kind int

const (
	kindJSON    kind = iota // a JSON textarea: any value, or a part the form cannot express
	kindObject              // a fieldset of members
	kindArray               // a list of items, a <template> row and add/remove buttons
	kindString              // an input of a type from the format, or a textarea
	kindNumber              // <input type="number" step="any">
	kindInteger             // <input type="number" step="1">
	kindBoolean             // a checkbox
	kindConst               // a fixed value shown as text (const, and the null type)
	kindEnum                // a <select> of values
	kindChoice              // a <select> of alternatives (oneOf, anyOf, a list of types)
)

// field is a compiled (sub)schema: what to show for one value.
type field struct {
	kind        kind
	title       string
	description string
	hint        string // what the controls cannot enforce, shown with the description
	def         any    // the default, if hasDef
	hasDef      bool
	readOnly    bool

	props              []prop      // kindObject
	items              *field      // kindArray
	minItems, maxItems int         // kindArray; maxItems is -1 for none
	str                stringAttrs // kindString
	num                numberAttrs // kindNumber, kindInteger
	value              any         // kindConst
	values             []any       // kindEnum
	labels             []string    // kindEnum, kindChoice: one per value or alternative
	alts               []*field    // kindChoice
	why                string      // kindJSON: why the form cannot express it; "" if any value goes
}

// prop is a member of an object.
type prop struct {
	name     string
	required bool
	f        *field
}

// stringAttrs are the attributes of a string's control.
type stringAttrs struct {
	input                string // an <input> type, or "textarea"
	format               string
	minLength, maxLength int // -1 for none
	pattern              string
}
