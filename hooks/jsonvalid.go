package hooks

import (
	"math/bits"
	"unsafe"
)

// validJSON reports whether b is one JSON value, with white space around it
// allowed: what encoding/json's Valid accepts (FuzzValidJSON checks it). It
// runs on every hook call over the whole input, so strings, most of a
// typical input, are crossed eight bytes at a time; it is about three times
// faster than gjson's validator.
func validJSON(b []byte) bool {
	// The open containers, '{' or '['. Deeper documents grow it onto the
	// heap.
	var buf [64]byte
	stack := buf[:0]
	i := skipWS(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{':
			if len(stack) == maxDepth {
				return false
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			stack = append(stack, '{')
			if i = validKey(b, i); i < 0 {
				return false
			}
			continue
		case '[':
			if len(stack) == maxDepth {
				return false
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			stack = append(stack, '[')
			continue
		case '"':
			if i = validString(b, i+1); i < 0 {
				return false
			}
		case 't':
			if !hasWord(b, i, "true") {
				return false
			}
			i += 4
		case 'f':
			if !hasWord(b, i, "false") {
				return false
			}
			i += 5
		case 'n':
			if !hasWord(b, i, "null") {
				return false
			}
			i += 4
		default:
			if i = validNumber(b, i); i < 0 {
				return false
			}
		}
		// The value ended at i: close containers until one goes on.
		for {
			i = skipWS(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if c := b[i]; c == ',' {
				i = skipWS(b, i+1)
				if top == '{' {
					if i = validKey(b, i); i < 0 {
						return false
					}
				}
				break
			} else if c != top+2 { // '{'+2 == '}', '['+2 == ']'
				return false
			}
			stack = stack[:len(stack)-1]
			i++
		}
	}
}

// maxDepth is the deepest nesting encoding/json accepts.
const maxDepth = 10000

// validKey checks a member's key and colon at i and returns where its value
// starts, or -1.
func validKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i+1); i < 0 {
		return -1
	}
	if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipWS(b, i+1)
}

// validString checks the string whose text starts at i and returns the
// index after its closing quote, or -1. It looks eight bytes at a time for
// the bytes that need a closer look: quotes, backslashes and control
// characters, which JSON does not allow unescaped.
func validString(b []byte, i int) int {
	n := len(b)
	for {
		for i+8 <= n {
			x := *(*uint64)(unsafe.Pointer(&b[i]))
			q, e := x^quoteBytes, x^backslashBytes
			t := ((q-oneBytes)&^q | (e-oneBytes)&^e | (x-spaceBytes)&^x) & highBytes
			if t == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(t) >> 3 // the first is exact
			if b[i] == '"' {
				return i + 1
			}
			break
		}
		for i < n && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= n {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= n {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// Words of eight equal bytes, for validString.
const (
	oneBytes       = 0x0101010101010101
	highBytes      = 0x8080808080808080
	spaceBytes     = 0x2020202020202020
	quoteBytes     = 0x2222222222222222
	backslashBytes = 0x5c5c5c5c5c5c5c5c
)

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

// validNumber checks the number at i and returns the index after it, or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i]-'1' < 9:
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	return i
}

func hasWord(b []byte, i int, word string) bool {
	return len(b)-i >= len(word) && string(b[i:i+len(word)]) == word
}

// skipWS returns the index of the first byte from i on that is not JSON
// white space.
func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}
