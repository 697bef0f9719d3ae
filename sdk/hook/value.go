package hook

import (
	"iter"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Kind is the type of a JSON value.
type Kind int

// Kinds of Value. Missing is the kind of a value that is not there, e.g. a
// key an object does not have.
const (
	Missing Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"missing", "null", "bool", "number", "string", "array", "object"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Value is a JSON value of a request. The zero Value is missing. A Value
// reads the request's bytes in place, so it is valid only during the
// handler's call; String, Float and the like return copies.
//
// The reader is written for WebAssembly. Go compiled to wasip1 sends every
// jump through its function's dispatch table: a loop in Go pays for each
// iteration about what a native loop pays for a mispredicted branch, and a
// call costs about 10 ns, so byte-by-byte JSON code runs ten times slower
// than natively (encoding/json took 34 µs a call for a 5-item input, a
// gjson-based validator of a 1 KB input 55 µs). So Value reads lazily: a
// value is where it starts, and finding a member or an element reads only
// the members or elements before it, stepping over their values without
// decoding them. The scanners that find where strings, values and members
// end are written in WebAssembly (scan_wasm.s, with the same in Go in
// scan.go for other platforms), and look at eight bytes at a time. A hook
// that reads a few fields of the request never reads the rest of it.
//
// Key reads an object from its start each time: look a member up once and
// keep the Value. Bytes reads a string without copying it, String copies
// it (an allocation, about half a microsecond in wasm).
//
// It expects valid JSON (the host validates what it sends). On other bytes
// it never panics: it finds what it can read before the first error, and
// nothing after it.
type Value struct {
	d *doc
	i uint32 // where the value starts in d.b; d != nil means i < len(d.b)
}

// doc is a JSON text.
type doc struct {
	b []byte
}

// Parse returns the JSON value at the start of b. It does not copy b, nor
// read more of it than its first byte before a value is asked for.
func Parse(b []byte) Value { return (&doc{b: b}).root() }

// root returns the value that starts d.b.
func (d *doc) root() Value {
	b := d.b
	if uint64(len(b)) >= 1<<32 {
		return Value{}
	}
	i := skipSpace(b, 0)
	if i >= len(b) {
		return Value{}
	}
	return Value{d: d, i: uint32(i)}
}

// at returns the value that starts at i, missing when i is past the end.
func (d *doc) at(i int) Value {
	if i < 0 || i >= len(d.b) {
		return Value{}
	}
	return Value{d: d, i: uint32(i)}
}

// Raw returns the value's JSON text, nil when it is missing.
func (v Value) Raw() []byte {
	if v.d == nil {
		return nil
	}
	b, i := v.d.b, int(v.i)
	end := valueEnd(b, i)
	if end < 0 {
		return nil
	}
	return b[i:end:end]
}

// Exists reports whether the value is there (null is).
func (v Value) Exists() bool { return v.Kind() != Missing }

// Kind returns the value's type.
func (v Value) Kind() Kind {
	if v.d == nil {
		return Missing
	}
	return kinds[v.d.b[v.i]]
}

// Get returns the value at path: object keys and array indexes separated by
// dots, e.g. "input.items.0.price". A key that holds a dot needs Key.
func (v Value) Get(path string) Value {
	for path != "" && v.d != nil {
		seg := path
		path = ""
		if i := strings.IndexByte(seg, '.'); i >= 0 {
			seg, path = seg[:i], seg[i+1:]
		}
		switch v.Kind() {
		case Object:
			v = v.Key(seg)
		case Array:
			n, ok := index(seg)
			if !ok {
				return Value{}
			}
			v = v.Index(n)
		default:
			return Value{}
		}
	}
	return v
}

func index(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// Key returns the member name of an object (the first, if it has several of
// that name).
func (v Value) Key(name string) Value {
	if v.d == nil {
		return Value{}
	}
	if k := keyValue(v.d.b, int(v.i), name); k != keyDecode {
		return v.d.at(k)
	}
	return v.keyDecoded(name)
}

// keyDecoded is Key where keys must be compared decoded: name is beyond
// ASCII, or a key with escapes comes before the member. A name beyond ASCII
// might match a key with bytes that are not UTF-8, which decode to U+FFFD.
func (v Value) keyDecoded(name string) Value {
	if v.Kind() != Object {
		return Value{}
	}
	b := v.d.b
	ascii := isASCII(name)
	for k := skipSpace(b, int(v.i)+1); k >= 0; {
		key, escaped, value, next, ok := member(b, k)
		if !ok {
			break
		}
		if escaped || !ascii {
			if string(unquoteText(nil, key)) == name {
				return Value{d: v.d, i: uint32(value)}
			}
		} else if string(key) == name {
			return Value{d: v.d, i: uint32(value)}
		}
		k = next
	}
	return Value{}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Index returns the element i of an array.
func (v Value) Index(i int) Value {
	if v.d == nil || v.d.b[v.i] != '[' || i < 0 {
		return Value{}
	}
	b := v.d.b
	k := firstElement(b, int(v.i))
	for ; k >= 0 && i > 0; i-- {
		k = nextElement(b, k)
	}
	return v.d.at(k)
}

// firstElement returns where the first element of the array that starts at
// i starts, -1 when it has none.
func firstElement(b []byte, i int) int {
	i = skipSpace(b, i+1)
	if i >= len(b) || b[i] == ']' {
		return -1
	}
	return i
}

// member reads the member of an object that starts at i (its key's quote):
// its key's text, whether the key has escapes, where its value starts and
// where the next member starts (-1 after the last). ok is false at the end
// of the object or on invalid JSON.
func member(b []byte, i int) (key []byte, escaped bool, value, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, false, 0, 0, false
	}
	end, escaped := stringEnd(b, i+1)
	if end < 0 {
		return nil, false, 0, 0, false
	}
	key = b[i+1 : end]
	i = skipSpace(b, end+1)
	if i >= len(b) || b[i] != ':' {
		return nil, false, 0, 0, false
	}
	value = skipSpace(b, i+1)
	if value >= len(b) {
		return nil, false, 0, 0, false
	}
	next = -1
	if i = valueEnd(b, value); i >= 0 {
		if i = skipSpace(b, i); i < len(b) && b[i] == ',' {
			next = skipSpace(b, i+1)
		}
	}
	return key, escaped, value, next, true
}

// Len returns the number of elements of an array or members of an object,
// 0 for other values.
func (v Value) Len() int {
	n := 0
	switch v.Kind() {
	case Array:
		b := v.d.b
		for k := firstElement(b, int(v.i)); k >= 0; k = nextElement(b, k) {
			n++
		}
	case Object:
		b := v.d.b
		for k := skipSpace(b, int(v.i)+1); k >= 0; n++ {
			var ok bool
			if _, _, _, k, ok = member(b, k); !ok {
				break
			}
		}
	}
	return n
}

// Items iterates over the elements of an array.
func (v Value) Items() iter.Seq[Value] {
	return func(yield func(Value) bool) {
		if v.Kind() != Array {
			return
		}
		for k := firstElement(v.d.b, int(v.i)); k >= 0; k = nextElement(v.d.b, k) {
			if !yield(Value{d: v.d, i: uint32(k)}) {
				return
			}
		}
	}
}

// Fields iterates over the members of an object, in order.
func (v Value) Fields() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		if v.Kind() != Object {
			return
		}
		b := v.d.b
		for k := skipSpace(b, int(v.i)+1); k >= 0; {
			key, escaped, value, next, ok := member(b, k)
			if !ok || !yield(textString(key, escaped), Value{d: v.d, i: uint32(value)}) {
				return
			}
			k = next
		}
	}
}

// String returns a string's text. For numbers, arrays and objects it returns
// their JSON text; for true and false, "true" and "false"; for null and a
// missing value, "".
func (v Value) String() string {
	switch v.Kind() {
	case String:
		b, i := v.d.b, int(v.i)
		end, escaped := stringEnd(b, i+1)
		if end < 0 {
			return ""
		}
		return textString(b[i+1:end], escaped)
	case Missing, Null:
		return ""
	}
	return string(v.Raw())
}

// Bytes returns the text String returns, without copying it when it can: a
// string without escapes, a number, an array or an object is returned as
// the request's own bytes, which are valid only during the handler's call
// and must not be changed. Reading a field with Bytes rather than String
// spares the hook an allocation, about half a microsecond in wasm.
func (v Value) Bytes() []byte {
	switch v.Kind() {
	case String:
		b, i := v.d.b, int(v.i)
		end, escaped := stringEnd(b, i+1)
		if end < 0 {
			return nil
		}
		s := b[i+1 : end : end]
		if !escaped && utf8.Valid(s) {
			return s
		}
		return unquoteText(nil, s)
	case Missing, Null:
		return nil
	}
	return v.Raw()
}

// Bool reports whether the value is true.
func (v Value) Bool() bool {
	if v.d == nil {
		return false
	}
	b := v.d.b[v.i:]
	return len(b) >= 4 && string(b[:4]) == "true" && (len(b) == 4 || !literalByte[b[4]])
}

// Float returns a number's value, 0 for other values.
func (v Value) Float() float64 {
	// The common case, inlined: a number of at most 15 digits without an
	// exponent, whose value float64 division gets exactly (both operands
	// are exact, so the result is correctly rounded, as strconv's).
	if v.d != nil {
		if mant, frac, neg := simpleNumber(v.d.b, int(v.i)); frac >= 0 {
			f := float64(mant) / pow10[frac]
			if neg {
				f = -f
			}
			return f
		}
	}
	return v.floatSlow()
}

func (v Value) floatSlow() float64 {
	if v.Kind() != Number {
		return 0
	}
	return parseFloat(v.d.b, int(v.i))
}

// numberEnd returns the length of the number at the start of b.
func numberEnd(b []byte) int {
	i := 0
	for i < len(b) && numberByte[b[i]] {
		i++
	}
	return i
}

// Int returns a number's value truncated to an integer, 0 for other values.
func (v Value) Int() int64 {
	if v.Kind() != Number {
		return 0
	}
	b, n, neg := v.d.b[v.i:], int64(0), false
	i := 0
	if b[0] == '-' {
		neg, i = true, 1
	}
	digits := 0
	for ; i < len(b) && digits < 18; i, digits = i+1, digits+1 {
		c := b[i]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	if (i == len(b) || !numberByte[b[i]]) && digits > 0 {
		if neg {
			return -n
		}
		return n
	}
	return int64(parseFloat(b, 0)) // a fraction, an exponent or many digits
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses the JSON number that starts at b[i]. Numbers of at most
// 15 digits without an exponent, the common case, take the exact path that
// strconv takes too: both operands of the division are exact, so its result
// is correctly rounded.
func parseFloat(b []byte, i int) float64 {
	if mant, frac, neg := simpleNumber(b, i); frac >= 0 {
		f := float64(mant) / pow10[frac]
		if neg {
			f = -f
		}
		return f
	}
	b = b[i:]
	b = b[:numberEnd(b)]
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return f
}

// textString returns the text of a string's content s.
func textString(s []byte, escaped bool) string {
	if !escaped && utf8.Valid(s) {
		return string(s)
	}
	return string(unquoteText(nil, s))
}

// unquoteText appends the text of a JSON string's content to dst, with bytes
// that are not UTF-8 and lone surrogates as U+FFFD, as encoding/json does.
func unquoteText(dst, s []byte) []byte {
	start := len(dst)
	ascii := true
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
		}
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		i += 2
		switch s[i-1] {
		case '"', '\\', '/':
			dst = append(dst, s[i-1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i)
			if !ok {
				return dst
			}
			i += 4
			if r >= 0xd800 && r < 0xdc00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if r2, ok := hex4(s, i+2); ok && r2 >= 0xdc00 && r2 < 0xe000 {
					r = (r-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r) // a lone surrogate becomes U+FFFD
		default:
			return dst
		}
	}
	if !ascii && !utf8.Valid(dst[start:]) {
		fixed := dst[:start:start]
		for _, r := range string(dst[start:]) {
			fixed = utf8.AppendRune(fixed, r)
		}
		dst = fixed
	}
	return dst
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
