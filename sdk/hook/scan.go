package hook

import (
	"math/bits"
	"unsafe"
)

// The scanners find where strings, values and members end. Go compiled to
// wasm sends every jump through its function's dispatch table, which makes
// a loop in Go cost about as much per iteration as a mispredicted branch,
// so on wasm they are written in WebAssembly (scan_wasm.s), whose loops
// wazero compiles to machine loops. These are the same scanners in Go, for
// other platforms and as the reference the WebAssembly ones are tested
// against (scan_test.go, run in wasm by the hooks package's tests).

// stringEndGo returns the index of the quote that ends the string whose
// text starts at i, or -1, and whether the string has escapes. It looks for
// quotes and backslashes eight bytes at a time.
func stringEndGo(b []byte, i int) (end int, escaped bool) {
	n := len(b)
	if i < 0 {
		return -1, false
	}
	for {
		for i+8 <= n {
			x := *(*uint64)(unsafe.Pointer(&b[i]))
			q, e := x^quotes, x^backslashes
			if t := ((q-ones)&^q | (e-ones)&^e) & highs; t != 0 {
				i += bits.TrailingZeros64(t) >> 3 // the first is exact
				break
			}
			i += 8
		}
		for i < n && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= n {
			return -1, false
		}
		if b[i] == '"' {
			return i, escaped
		}
		escaped = true
		i += 2 // the backslash and the byte it escapes
	}
}

// valueEndGo returns the index after the value that starts at i, or -1
// when no value starts there. It does not validate: it finds the end of a
// string, matches brackets without checking what is between them, and
// takes a number or a literal (true, false, null) to run until white space
// or punctuation.
func valueEndGo(b []byte, i int) int {
	if i < 0 || i >= len(b) {
		return -1
	}
	switch kinds[b[i]] {
	case String:
		end, _ := stringEndGo(b, i+1)
		if end < 0 {
			return -1
		}
		return end + 1
	case Object, Array:
		return containerEndGo(b, i)
	case Missing:
		return -1
	}
	i++
	for i < len(b) && literalByte[b[i]] {
		i++
	}
	return i
}

// containerEndGo returns the index after the object or array that starts
// at i, or -1. It looks for quotes and brackets eight bytes at a time.
func containerEndGo(b []byte, i int) int {
	n, depth := len(b), 0
	for {
		found := false
		for i+8 <= n {
			x := *(*uint64)(unsafe.Pointer(&b[i]))
			// '[' | 0x20 == '{' and ']' | 0x20 == '}'; no other byte
			// becomes either.
			y := x | lowers
			q, o, c := x^quotes, y^opens, y^closes
			if t := ((q-ones)&^q | (o-ones)&^o | (c-ones)&^c) & highs; t != 0 {
				i += bits.TrailingZeros64(t) >> 3
				found = true
				break
			}
			i += 8
		}
		if !found {
			for i < n && !structuralByte[b[i]] {
				i++
			}
			if i >= n {
				return -1
			}
		}
		switch b[i] {
		case '"':
			end, _ := stringEndGo(b, i+1)
			if end < 0 {
				return -1
			}
			i = end + 1
		case '{', '[':
			depth++
			i++
		default:
			depth--
			i++
			if depth == 0 {
				return i
			}
		}
	}
}

// nextElementGo returns where the element of an array after the one that
// starts at i starts, -1 when there is none.
func nextElementGo(b []byte, i int) int {
	if i = valueEndGo(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ',' {
		return -1
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return -1
	}
	return i
}

// simpleNumberGo reads the number that starts at i as its digits, mant,
// and the number of them after the decimal point, frac, when it is simple:
// at most 15 digits and no exponent, so that float64(mant) / 10^frac is its
// value correctly rounded. frac is -1 for other numbers.
func simpleNumberGo(b []byte, i int) (mant uint64, frac int, neg bool) {
	if i < 0 || i >= len(b) {
		return 0, -1, false
	}
	if b[i] == '-' {
		neg = true
		i++
	}
	digits, dot := 0, false
	for ; i < len(b); i++ {
		c := b[i]
		if c-'0' < 10 {
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if digits == 0 || digits > 15 || i < len(b) && b[i]|0x20 == 'e' {
		return 0, -1, false
	}
	return mant, frac, neg
}

// Words of eight equal bytes.
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	lowers      = 0x2020202020202020
	quotes      = 0x2222222222222222
	backslashes = 0x5c5c5c5c5c5c5c5c
	opens       = 0x7b7b7b7b7b7b7b7b
	closes      = 0x7d7d7d7d7d7d7d7d
)

// Classes of bytes.
var (
	// kinds are the kinds of values by their first byte; Missing is a byte
	// no value starts with.
	kinds = [256]Kind{
		'{': Object, '[': Array, '"': String, 't': Bool, 'f': Bool, 'n': Null,
		'-': Number, '0': Number, '1': Number, '2': Number, '3': Number, '4': Number,
		'5': Number, '6': Number, '7': Number, '8': Number, '9': Number,
	}
	// literalByte are the bytes that continue a number or a literal: all
	// but white space (and other control bytes), punctuation and quotes.
	literalByte = func() (t [256]bool) {
		for c := 0x21; c < 256; c++ {
			t[c] = true
		}
		for _, c := range `,:[]{}"` {
			t[c] = false
		}
		return t
	}()
	// numberByte are the bytes of numbers.
	numberByte = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true,
		'7': true, '8': true, '9': true, '-': true, '+': true, '.': true, 'e': true, 'E': true}
	// spaceByte is JSON's white space.
	spaceByte      = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}
	structuralByte = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}
)

// skipSpace returns the index of the first byte from i on that is not white
// space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && spaceByte[b[i]] {
		i++
	}
	return i
}

// What keyValueGo returns when it cannot tell where the member is.
const keyDecode = -2

// keyValueGo returns where the value of the member name of the object that
// starts at i starts: the first member whose key is name byte for byte. It
// returns -1 when the object has no such member (or is not an object, or
// ends in invalid JSON before it), and keyDecode when keys must be
// compared decoded: name is beyond ASCII, or a key with escapes comes
// before the member.
func keyValueGo(b []byte, i int, name string) int {
	for j := 0; j < len(name); j++ {
		if name[j] >= 0x80 {
			return keyDecode
		}
	}
	if i < 0 || i >= len(b) || b[i] != '{' {
		return -1
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, escaped := stringEndGo(b, i+1)
		if end < 0 {
			return -1
		}
		if escaped {
			return keyDecode
		}
		match := string(b[i+1:end]) == name
		if i = skipSpace(b, end+1); i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return -1
		}
		if match {
			return i
		}
		if i = valueEndGo(b, i); i < 0 {
			return -1
		}
		if i = skipSpace(b, i); i >= len(b) || b[i] != ',' {
			return -1
		}
		i++
	}
}
