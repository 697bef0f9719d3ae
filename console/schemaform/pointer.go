package schemaform

import "strings"

// Field names and element ids (see the package documentation).

// rootName is the field name of a document that is not an object: a form
// field named "" (the root's pointer) is never submitted, and "~" is no
// JSON pointer.
const rootName = "~"

// choiceSuffix ends the field name of the select that records which
// alternative of a oneOf or anyOf was chosen. A "~" not followed by 0 or 1
// ends no JSON pointer, so these names never clash with a value's.
const choiceSuffix = "~choice"

// itemSuffix ends the name of a hidden field in each array item, so that
// an item that posts nothing else (an empty array, a constant) is still
// counted.
const itemSuffix = "~item"

// newRow is the array index of the item in an array's <template>: "-",
// RFC 6901's "past the end". form.js replaces it with a fresh index.
const newRow = "-"

// child returns the pointer of the member or item tok of the value at ptr.
func child(ptr, tok string) string {
	return ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// fieldName is the form field name of the value at ptr.
func fieldName(ptr string) string {
	if ptr == "" {
		return rootName
	}
	return ptr
}

// rootID is the id of the form's outermost element.
const rootID = "sf"

// childID returns the id of the member or item tok of the element id. Ids
// are made of letters, digits, "-" (one per pointer token), "_" and two
// hex digits (any other byte of a token), and "." (an alternative's index,
// or a suffix naming a part of a field: ".label", ".help", ".err",
// ".choice"). The map from pointers to ids is one to one, and an id is
// safe in any attribute and in CSS selectors once "." is escaped.
func childID(id, tok string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.WriteString(id)
	b.WriteByte('-')
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// under reports whether the pointer p is ptr or names a part of its value.
// Every pointer is under the root, also one that is not a valid pointer.
func under(p, ptr string) bool {
	return ptr == "" || p == ptr || strings.HasPrefix(p, ptr+"/")
}
