package hook

import (
	"iter"
	"math/bits"
	"strconv"
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
// The reader is hand-written for WebAssembly. Go compiled to wasip1 sends
// every branch through a dispatch table, which makes general JSON
// libraries' byte-by-byte code several times slower than natively (a
// gjson-based validator of a 1 KB input took 55 µs a call). So the first
// use of a request's values scans its JSON once, in one loop that crosses
// strings eight bytes at a time, into a tape: the bounds of every value and
// where the next one starts. Looking up a member or an element then jumps
// from value to value without reading their bytes again.
//
// It expects valid JSON (the host validates what it sends) and never fails
// on invalid JSON, where it finds nothing.
type Value struct {
	d *doc
	k uint32 // the value's entry in d.tape
}

// doc is a JSON text and its tape, built on first use.
type doc struct {
	b     []byte
	tape  []entry
	stack []uint32
	state uint8 // docNew, docReady or docInvalid
}

const (
	docNew = iota
	docReady
	docInvalid
)

// entry is a value on the tape: its text is b[start:end], next is the index
// of the entry after it and everything it holds. A member's key is an entry
// of its own, before the member's value.
type entry struct {
	start, end, next uint32
	escaped          bool // a string with escapes
}

// Parse returns the JSON value at the start of b. It does not copy b, nor
// read it before a value is asked for.
func Parse(b []byte) Value { return Value{d: &doc{b: b}} }

// reset makes d the document of b, keeping its buffers.
func (d *doc) reset(b []byte) {
	d.b, d.tape, d.stack, d.state = b, d.tape[:0], d.stack[:0], docNew
}

// ready builds the tape if it is not built and reports whether the JSON was
// read.
func (d *doc) ready() bool {
	if d.state == docNew {
		d.build()
	}
	return d.state == docReady
}

// build scans the first JSON value of d.b into d.tape, in one loop that
// classifies bytes with a table: in Go compiled to wasm each comparison is
// a trip through the function's dispatch table.
func (d *doc) build() {
	d.state = docInvalid
	b, stack := d.b, d.stack[:0]
	n := len(b)
	if uint64(n) >= 1<<31 {
		return
	}
	t := d.tape[:cap(d.tape)]
	if len(t) < n/8+16 {
		t = make([]entry, n/8+16)
	}
	nt := 0 // entries in t
	i := 0
	for {
		for i < n && byteClass[b[i]] == classSpace {
			i++
		}
		if i >= n {
			return
		}
		if nt == len(t) {
			t = append(t, make([]entry, len(t))...)
		}
		switch c := b[i]; byteClass[c] {
		case classQuote:
			end, escaped := stringEndEscaped(b, i+1)
			if end < 0 {
				return
			}
			t[nt] = entry{start: uint32(i), end: uint32(end + 1), next: uint32(nt + 1), escaped: escaped}
			nt++
			i = end + 1
		case classOpen:
			stack = append(stack, uint32(nt))
			t[nt] = entry{start: uint32(i)}
			nt++
			i++
		case classClose:
			if len(stack) == 0 {
				return
			}
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if b[t[k].start]+2 != c { // '{'+2 == '}', '['+2 == ']'
				return
			}
			t[k].end, t[k].next = uint32(i+1), uint32(nt)
			i++
		default: // a number or a literal
			j := i + 1
			for j < n && byteClass[b[j]] == classOther {
				j++
			}
			t[nt] = entry{start: uint32(i), end: uint32(j), next: uint32(nt + 1)}
			nt++
			i = j
		}
		if len(stack) == 0 {
			break // the value is complete
		}
	}
	d.tape, d.stack, d.state = t[:nt], stack, docReady
}

// Classes of bytes, for build.
const (
	classOther = iota // in numbers and literals
	classSpace        // white space and the separators ',' and ':'
	classQuote
	classOpen
	classClose
)

var byteClass = [256]uint8{
	' ': classSpace, '\t': classSpace, '\n': classSpace, '\r': classSpace, ',': classSpace, ':': classSpace,
	'"': classQuote, '{': classOpen, '[': classOpen, '}': classClose, ']': classClose,
}

// entry returns the value's tape entry; ok is false when it is missing.
func (v Value) entry() (e entry, ok bool) {
	if v.d == nil || !v.d.ready() {
		return entry{}, false
	}
	return v.d.tape[v.k], true
}

// Raw returns the value's JSON text, nil when it is missing.
func (v Value) Raw() []byte {
	e, ok := v.entry()
	if !ok {
		return nil
	}
	return v.d.b[e.start:e.end:e.end]
}

// Exists reports whether the value is there (null is).
func (v Value) Exists() bool { return v.d != nil && v.d.ready() }

// Kind returns the value's type.
func (v Value) Kind() Kind {
	e, ok := v.entry()
	if !ok {
		return Missing
	}
	switch v.d.b[e.start] {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}

// Get returns the value at path: object keys and array indexes separated by
// dots, e.g. "input.items.0.price". A key that holds a dot needs Key.
func (v Value) Get(path string) Value {
	for path != "" && v.d != nil {
		seg := path
		path = ""
		for i := 0; i < len(seg); i++ {
			if seg[i] == '.' {
				seg, path = seg[:i], seg[i+1:]
				break
			}
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
	e, ok := v.entry()
	if !ok || v.d.b[e.start] != '{' {
		return Value{}
	}
	b, t := v.d.b, v.d.tape
	// A key with escapes, or a name beyond ASCII (which might match a key
	// with bytes that are not UTF-8, decoded as U+FFFD), is compared
	// decoded.
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for k := v.k + 1; k+1 < e.next; k = t[k+1].next {
		key := t[k]
		if b[key.start] != '"' { // invalid JSON
			return Value{}
		}
		text := b[key.start+1 : key.end-1]
		if key.escaped || !ascii {
			if string(unquoteText(nil, text)) == name {
				return Value{d: v.d, k: k + 1}
			}
		} else if len(text) == len(name) && string(text) == name {
			return Value{d: v.d, k: k + 1}
		}
	}
	return Value{}
}

// Index returns the element i of an array.
func (v Value) Index(i int) Value {
	e, ok := v.entry()
	if !ok || v.d.b[e.start] != '[' || i < 0 {
		return Value{}
	}
	t := v.d.tape
	for k := v.k + 1; k < e.next; k = t[k].next {
		if i == 0 {
			return Value{d: v.d, k: k}
		}
		i--
	}
	return Value{}
}

// Len returns the number of elements of an array or members of an object,
// 0 for other values.
func (v Value) Len() int {
	e, ok := v.entry()
	if !ok {
		return 0
	}
	n, t := 0, v.d.tape
	for k := v.k + 1; k < e.next; k = t[k].next {
		n++
	}
	switch v.d.b[e.start] {
	case '[':
		return n
	case '{':
		return n / 2
	}
	return 0
}

// Items iterates over the elements of an array.
func (v Value) Items() iter.Seq[Value] {
	return func(yield func(Value) bool) {
		e, ok := v.entry()
		if !ok || v.d.b[e.start] != '[' {
			return
		}
		t := v.d.tape
		for k := v.k + 1; k < e.next; k = t[k].next {
			if !yield(Value{d: v.d, k: k}) {
				return
			}
		}
	}
}

// Fields iterates over the members of an object, in order.
func (v Value) Fields() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		e, ok := v.entry()
		if !ok || v.d.b[e.start] != '{' {
			return
		}
		b, t := v.d.b, v.d.tape
		for k := v.k + 1; k+1 < e.next; k = t[k+1].next {
			key := t[k]
			if b[key.start] != '"' { // invalid JSON
				return
			}
			if !yield(keyString(b[key.start+1:key.end-1], key.escaped), Value{d: v.d, k: k + 1}) {
				return
			}
		}
	}
}

// String returns a string's text. For numbers, arrays and objects it returns
// their JSON text; for true and false, "true" and "false"; for null and a
// missing value, "".
func (v Value) String() string {
	switch v.Kind() {
	case String:
		raw := v.Raw()
		return string(unquoteText(nil, raw[1:len(raw)-1]))
	case Missing, Null:
		return ""
	}
	return string(v.Raw())
}

// Bool reports whether the value is true.
func (v Value) Bool() bool {
	b := v.Raw()
	return len(b) == 4 && string(b) == "true"
}

// Float returns a number's value, 0 for other values.
func (v Value) Float() float64 {
	if v.Kind() != Number {
		return 0
	}
	return parseFloat(v.Raw())
}

// numberEnd returns the length of the number at the start of b.
func numberEnd(b []byte) int {
	i := 0
	for i < len(b) {
		if c := b[i]; (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		i++
	}
	return i
}

// Int returns a number's value truncated to an integer, 0 for other values.
func (v Value) Int() int64 {
	if v.Kind() != Number {
		return 0
	}
	b, n, neg := v.Raw(), int64(0), false
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
	if i == len(b) && digits > 0 {
		if neg {
			return -n
		}
		return n
	}
	return int64(parseFloat(b)) // a fraction, an exponent or many digits
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses the JSON number at the start of b. Numbers of at most
// 15 digits without an exponent, the common case, take the exact path that
// strconv takes too: both operands of the division are exact, so its result
// is correctly rounded.
func parseFloat(b []byte) float64 {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		if c >= '0' && c <= '9' {
			if digits < 19 {
				mant = mant*10 + uint64(c-'0')
			}
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
	if (i == len(b) || b[i] != 'e' && b[i] != 'E') && digits > 0 && digits <= 15 {
		f := float64(mant) / pow10[frac]
		if neg {
			f = -f
		}
		return f
	}
	b = b[:numberEnd(b)]
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return f
}

// stringEndEscaped returns the index of the quote that ends the string
// whose text starts at i, or -1, and whether the string has escapes. It
// looks for quotes and backslashes eight bytes at a time.
func stringEndEscaped(b []byte, i int) (end int, escaped bool) {
	n := len(b)
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

// Words of eight equal bytes, for stringEndEscaped.
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = 0x2222222222222222
	backslashes = 0x5c5c5c5c5c5c5c5c
)

func keyString(k []byte, escaped bool) string {
	if !escaped && utf8.Valid(k) {
		return string(k)
	}
	return string(unquoteText(nil, k))
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
