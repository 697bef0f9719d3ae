// Package jsondepth measures how deep a JSON document nests, without
// decoding it: a document's depth bounds the work (and the stack) of every
// decoder, validator and client that reads it after Orc.
package jsondepth

// Of returns the deepest nesting of objects and arrays in b, a JSON
// document (0 for a scalar). It stops counting at limit+1, so that a
// caller refusing documents deeper than limit pays for no more. It does
// not validate b.
func Of(b []byte, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}
