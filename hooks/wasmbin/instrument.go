package wasmbin

import (
	"errors"
	"fmt"
	"strings"
)

// InterruptExport names the global through which the host stops a guest.
// Modules may not export it themselves.
const InterruptExport = "orc_interrupt"

// ErrReservedExport is the error of Instrument for a module that exports
// InterruptExport itself.
var ErrReservedExport = errors.New("exports " + InterruptExport + ", a name the host reserves")

// ErrHostIndex is the error of Instrument for a module that names a global
// or a local beyond its own: Instrument adds globals and locals, and a
// module that names them could reset its own fuel or interrupt flag.
var ErrHostIndex = errors.New("names a global or local it does not define")

// fuel is how many checks a guest passes between two visits to Go.
const fuel = 10000

// Instrument returns module with a check at the start of every function
// body and of every loop body (once where the body starts with a loop). Any
// code that runs forever runs a loop or calls functions forever, so it keeps
// meeting checks. The check counts down a fuel global; when it is spent,
// the guest calls memory.grow(0), which wazero runs in Go, then traps
// (unreachable) if the host has set the interrupt global (exported as
// orc_interrupt), and refuels:
//
//	global.get $fuel; i32.const 1; i32.sub; global.set $fuel
//	global.get $fuel; i32.const 1; i32.lt_s
//	if
//	  i32.const 0; memory.grow; drop
//	  global.get $interrupt; if; unreachable; end
//	  i32.const 10000; global.set $fuel
//	end
//
// The visit to Go matters as much as the trap: code that wazero compiled
// cannot be preempted, so a guest that never leaves it would hold up the Go
// runtime's stop-the-world phases, and with them the timer that sets the
// interrupt. Bulk memory and table instructions, whose time grows with
// their operands, charge the fuel one for every 64 bytes or entries before
// they run, through a local that Instrument adds to the function:
//
//	local.tee $n; global.get $fuel; local.get $n
//	i32.const 6; i32.shr_u; i32.sub; global.set $fuel
//
// so that a large one makes the next check visit Go, and a small one, such
// as the copy of a struct that Go compiles to memory.copy, costs nothing
// more. (Emptying the fuel before every bulk instruction, as the first
// version did, sent a Go guest to Go at about every allocation, 0.2 µs
// each.)
//
// wazero's own mechanism (RuntimeConfig.WithCloseOnContextDone) leaves the
// compiled code for Go at every loop iteration instead, which costs a Go
// guest several times its run time; see the package comment of hooks.
//
// Custom sections of DWARF are dropped: the code offsets they refer to
// move. Other sections are kept as they are.
//
// # Notes
//
// A module without a memory is returned as it is: the check needs
// memory.grow, and a hook must have a memory anyway.
//
// Instrument does not validate the module; the caller should have the
// runtime validate it as uploaded, before Instrument, since a module that
// is invalid only because it names globals or locals beyond its own would
// be valid once Instrument added its own. Instrument refuses such names
// itself, too. It does not check the lengths that CheckLimits checks.
//
// # Errors
//
// ErrReservedExport for a module that exports InterruptExport; an error
// wrapping ErrHostIndex for one that names a global or local beyond its
// own; otherwise an error that says what part of the module is malformed.
func Instrument(module []byte) ([]byte, error) {
	r := &wasmReader{b: module}
	if !strings.HasPrefix(string(module), "\x00asm\x01\x00\x00\x00") {
		return nil, errors.New("not a WebAssembly 1.0 binary")
	}
	r.i = 8
	type section struct {
		id      byte
		content []byte
	}
	var sections []section
	var importedGlobals, definedGlobals uint32
	var typeParams, funcTypes []uint32
	haveGlobals, haveExports, haveMemory := false, false, false
	for r.i < len(r.b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		content := r.bytes(int(size))
		if r.err != nil {
			break
		}
		switch id {
		case 0:
			sr := &wasmReader{b: content}
			if name := sr.name(); sr.err == nil && strings.HasPrefix(name, ".debug_") {
				continue
			}
		case 1:
			params, err := readTypes(content)
			if err != nil {
				return nil, fmt.Errorf("type section: %w", err)
			}
			typeParams = params
		case 3:
			types, err := readFuncs(content)
			if err != nil {
				return nil, fmt.Errorf("function section: %w", err)
			}
			funcTypes = types
		case 2:
			globals, memories, err := countImports(content)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			importedGlobals = globals
			haveMemory = haveMemory || memories > 0
		case 5:
			sr := &wasmReader{b: content}
			haveMemory = haveMemory || sr.u32() > 0
		case 6:
			sr := &wasmReader{b: content}
			definedGlobals = sr.u32()
			if sr.err != nil {
				return nil, fmt.Errorf("global section: %w", sr.err)
			}
			haveGlobals = true
		case 7:
			if err := checkExports(content); err != nil {
				return nil, err
			}
			haveExports = true
		}
		sections = append(sections, section{id, content})
	}
	if r.err != nil {
		return nil, fmt.Errorf("section: %w", r.err)
	}
	if !haveMemory {
		// Not a hook (the ABI check says so), and memory.grow needs one.
		return module, nil
	}

	fuelGlobal := importedGlobals + definedGlobals
	flagGlobal := fuelGlobal + 1
	ins := newChecks(fuelGlobal, flagGlobal)
	newGlobal := []byte{0x7f, 0x01, 0x41} // mut i32 = fuel, mut i32 = 0
	newGlobal = appendS32(newGlobal, fuel)
	newGlobal = append(newGlobal, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	newExport := appendName(nil, InterruptExport)
	newExport = append(newExport, 0x03)
	newExport = appendU32(newExport, flagGlobal)

	out := make([]byte, 0, len(module)+len(module)/8)
	out = append(out, module[:8]...)
	emit := func(id byte, content []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(content)))
		out = append(out, content...)
	}
	// A module without a global or export section gets one, in its place.
	needGlobals, needExports := !haveGlobals, !haveExports
	flushBefore := func(id byte) {
		if needGlobals && sectionRank(id) > sectionRank(6) {
			emit(6, append(appendU32(nil, 2), newGlobal...))
			needGlobals = false
		}
		if needExports && sectionRank(id) > sectionRank(7) {
			emit(7, append(appendU32(nil, 1), newExport...))
			needExports = false
		}
	}
	for _, s := range sections {
		if s.id != 0 {
			flushBefore(s.id)
		}
		switch s.id {
		case 6:
			emit(6, appendCount(s.content, 2, newGlobal))
		case 7:
			emit(7, appendCount(s.content, 1, newExport))
		case 10:
			code, err := instrumentCode(s.content, ins, typeParams, funcTypes)
			if err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
			emit(10, code)
		default:
			emit(s.id, s.content)
		}
	}
	flushBefore(0xff)
	return out, nil
}

// sectionRank orders the known sections as the binary format requires.
func sectionRank(id byte) int {
	switch id {
	case 13: // tag
		return 55
	case 12: // data count
		return 95
	case 0xff:
		return 1000
	}
	return int(id) * 10
}

// checks are the instructions Instrument inserts.
type checks struct {
	fuelGlobal uint32
	check      []byte // at function and loop starts
}

func newChecks(fuelGlobal, flagGlobal uint32) checks {
	get := func(b []byte, g uint32) []byte { return appendU32(append(b, 0x23), g) }
	set := func(b []byte, g uint32) []byte { return appendU32(append(b, 0x24), g) }
	var c []byte
	c = get(c, fuelGlobal)
	c = append(c, 0x41, 0x01, 0x6b) // i32.const 1, i32.sub
	c = set(c, fuelGlobal)
	c = get(c, fuelGlobal)
	c = append(c, 0x41, 0x01, 0x48, 0x04, 0x40) // i32.const 1, i32.lt_s, if
	c = append(c, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0, memory.grow 0, drop
	c = get(c, flagGlobal)
	c = append(c, 0x04, 0x40, 0x00, 0x0b) // if, unreachable, end
	c = appendS32(append(c, 0x41), fuel)  // i32.const fuel
	c = set(c, fuelGlobal)
	c = append(c, 0x0b) // end
	return checks{fuelGlobal: fuelGlobal, check: c}
}

// appendCharge appends what goes before a bulk instruction, whose count of
// bytes or entries is on top of the stack: it takes one fuel for every 64,
// using the local n.
func (c checks) appendCharge(b []byte, n uint32) []byte {
	b = appendU32(append(b, 0x22), n)            // local.tee $n
	b = appendU32(append(b, 0x23), c.fuelGlobal) // global.get $fuel
	b = appendU32(append(b, 0x20), n)            // local.get $n
	b = append(b, 0x41, 0x06, 0x76, 0x6b)        // i32.const 6, i32.shr_u, i32.sub
	return appendU32(append(b, 0x24), c.fuelGlobal)
}

// appendCount returns a vector's content with n more items.
func appendCount(content []byte, n uint32, items []byte) []byte {
	r := &wasmReader{b: content}
	count := r.u32()
	out := appendU32(nil, count+n)
	out = append(out, content[r.i:]...)
	return append(out, items...)
}

func countImports(content []byte) (globals, memories uint32, err error) {
	r := &wasmReader{b: content}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // func
			r.u32()
		case 0x01: // table
			r.valType()
			r.limits()
		case 0x02: // memory
			memories++
			r.limits()
		case 0x03: // global
			globals++
			r.valType()
			r.byte()
		case 0x04: // tag
			r.byte()
			r.u32()
		default:
			return 0, 0, fmt.Errorf("import kind 0x%02x", kind)
		}
	}
	return globals, memories, r.err
}

func checkExports(content []byte) error {
	r := &wasmReader{b: content}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		if r.name() == InterruptExport {
			return ErrReservedExport
		}
		r.byte()
		r.u32()
	}
	if r.err != nil {
		return fmt.Errorf("export section: %w", r.err)
	}
	return nil
}

// instrumentCode inserts the check at the start of every function body and
// after the block type of every loop, and the charge before every bulk
// instruction, for which it gives the function a local. typeParams are the
// number of parameters of each type, funcTypes the type of each function
// the module defines.
func instrumentCode(content []byte, ins checks, typeParams, funcTypes []uint32) ([]byte, error) {
	r := &wasmReader{b: content}
	n := r.u32()
	if r.err == nil && int(n) != len(funcTypes) {
		return nil, fmt.Errorf("%d bodies for %d functions", n, len(funcTypes))
	}
	out := make([]byte, 0, len(content)+len(content)/8)
	out = appendU32(out, n)
	var body []byte
	for f := uint32(0); f < n && r.err == nil; f++ {
		size := r.u32()
		src := r.bytes(int(size))
		if r.err != nil {
			break
		}
		if funcTypes[f] >= uint32(len(typeParams)) {
			return nil, fmt.Errorf("function %d has type %d of %d", f, funcTypes[f], len(typeParams))
		}
		var err error
		body, err = instrumentBody(body[:0], src, ins, typeParams[funcTypes[f]])
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", f, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.i != len(r.b) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// instrumentBody instruments the body of a function with params
// parameters. The local it adds for charges comes after the function's own,
// in its own group; a body without bulk instructions does not get it.
func instrumentBody(out, src []byte, ins checks, params uint32) ([]byte, error) {
	r := &wasmReader{b: src}
	groups := r.u32()
	first := r.i
	locals := uint64(params)
	for k := groups; k > 0 && r.err == nil; k-- {
		locals += uint64(r.u32())
		r.valType()
	}
	if r.err != nil {
		return nil, r.err
	}
	code := r.i
	bulk := false
	for r.i < len(r.b) && !bulk {
		var err error
		if _, bulk, err = r.instruction(); err != nil {
			return nil, err
		}
	}
	r.i = code
	if bulk {
		if locals >= 1<<32-1 {
			return nil, errors.New("too many locals")
		}
		out = appendU32(out, groups+1)
		out = append(out, src[first:code]...)
		out = append(out, 0x01, 0x7f) // one i32
	} else {
		out = append(out, src[:code]...)
	}
	if r.i >= len(r.b) || r.b[r.i] != 0x03 {
		// Not needed before a loop that starts the body, as in every
		// function of Go's: the loop's own check comes first.
		out = append(out, ins.check...)
	}
	for r.i < len(r.b) && r.err == nil {
		start := r.i
		loop, bulk, err := r.instruction()
		if err != nil {
			return nil, err
		}
		if err := checkIndex(src[start:r.i], locals, ins.fuelGlobal); err != nil {
			return nil, err
		}
		if bulk {
			out = ins.appendCharge(out, uint32(locals))
		}
		out = append(out, src[start:r.i]...)
		if loop {
			out = append(out, ins.check...)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// checkIndex refuses an instruction that names a local or a global beyond
// the function's or the module's own (locals, globals): the index spaces
// that Instrument extends. Such a module is invalid as uploaded, but would
// be valid once instrumented, and could then reset its own fuel or
// interrupt flag.
func checkIndex(in []byte, locals uint64, globals uint32) error {
	op := in[0]
	if op < 0x20 || op > 0x24 {
		return nil
	}
	r := &wasmReader{b: in, i: 1}
	idx := r.u32()
	switch {
	case r.err != nil:
		return r.err
	case op <= 0x22 && uint64(idx) >= locals:
		return fmt.Errorf("%w: local %d of %d", ErrHostIndex, idx, locals)
	case op >= 0x23 && idx >= globals:
		return fmt.Errorf("%w: global %d of %d", ErrHostIndex, idx, globals)
	}
	return nil
}

// readTypes returns the number of parameters of each function type of a
// type section.
func readTypes(content []byte) ([]uint32, error) {
	r := &wasmReader{b: content}
	n := r.vec()
	params := make([]uint32, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		if form := r.byte(); form != 0x60 && r.err == nil {
			return nil, fmt.Errorf("type form 0x%02x", form)
		}
		p := r.vec()
		for k := p; k > 0 && r.err == nil; k-- {
			r.valType()
		}
		for k := r.vec(); k > 0 && r.err == nil; k-- {
			r.valType()
		}
		params = append(params, p)
	}
	return params, r.err
}

// readFuncs returns the type of each function of a function section.
func readFuncs(content []byte) ([]uint32, error) {
	r := &wasmReader{b: content}
	n := r.vec()
	types := make([]uint32, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		types = append(types, r.u32())
	}
	return types, r.err
}

// instruction reads one instruction and its immediates, and reports whether
// it is a loop, or bulk: its time grows with its operands.
func (r *wasmReader) instruction() (loop, bulk bool, err error) {
	start := r.i
	switch op := r.byte(); {
	case op == 0x02 || op == 0x04 || op == 0x06: // block, if, try
		r.valType() // a block type: empty, a value type or a type index
	case op == 0x03: // loop
		r.valType()
		loop = true
	case op <= 0x01 || op == 0x05 || op == 0x0a || op == 0x0b || op == 0x0f ||
		op == 0x19 || op == 0x1a || op == 0x1b || op == 0xd1 || op == 0xd3 || op == 0xd4 ||
		(op >= 0x45 && op <= 0xc4):
		// no immediates
	case op >= 0x07 && op <= 0x09, op == 0x0c, op == 0x0d, op == 0x10, op == 0x12, op == 0x18,
		op >= 0x20 && op <= 0x26, op == 0x3f, op == 0x40, op == 0xd2, op == 0xd5, op == 0xd6:
		r.u32()
	case op == 0x0e: // br_table
		for k := r.vec(); k > 0 && r.err == nil; k-- {
			r.u32()
		}
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x14 || op == 0x15: // call_ref, return_call_ref
		r.u32()
	case op == 0x1c: // select t*
		for k := r.vec(); k > 0 && r.err == nil; k-- {
			r.valType()
		}
	case op == 0x1f: // try_table
		r.valType()
		for k := r.vec(); k > 0 && r.err == nil; k-- {
			switch r.byte() {
			case 0x00, 0x01:
				r.u32()
				r.u32()
			default:
				r.u32()
			}
		}
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x41:
		r.s33()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.s33()
	case op == 0xfc:
		if bulk, err = r.prefixFC(); err != nil {
			return false, false, err
		}
	case op == 0xfd:
		if err = r.prefixFD(); err != nil {
			return false, false, err
		}
	case op == 0xfe:
		if sub := r.u32(); sub == 0x03 {
			r.byte() // atomic.fence
		} else {
			r.memarg()
		}
	default:
		if r.err != nil {
			return false, false, r.err
		}
		return false, false, fmt.Errorf("unknown opcode 0x%02x at %d", op, start)
	}
	return loop, bulk, r.err
}

func (r *wasmReader) prefixFC() (bulk bool, err error) {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncations
	case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
		return true, nil
	case sub == 11 || sub == 15 || sub == 17: // memory.fill, table.grow, table.fill
		r.u32()
		return true, nil
	case sub == 9 || sub == 13 || sub == 16: // data.drop, elem.drop, table.size
		r.u32()
	default:
		return false, fmt.Errorf("unknown opcode 0xfc %d", sub)
	}
	return false, nil
}

func (r *wasmReader) prefixFD() error {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads, store, load_zero
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.byte()
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		r.memarg()
		r.byte()
	case sub <= 0x113: // the rest have no immediates
	default:
		return fmt.Errorf("unknown opcode 0xfd %d", sub)
	}
	return nil
}

// wasmReader reads the WebAssembly binary format; the first error sticks.
type wasmReader struct {
	b   []byte
	i   int
	err error
}

var errTruncated = errors.New("unexpected end")

func (r *wasmReader) byte() byte {
	if r.err != nil || r.i >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *wasmReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.i {
		r.err = errTruncated
		return nil
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b
}

// leb reads a LEB128 number of at most maxBytes bytes and returns its low
// 64 bits.
func (r *wasmReader) leb(maxBytes int) uint64 {
	var v uint64
	for k := 0; k < maxBytes; k++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if k < 10 {
			v |= uint64(c&0x7f) << (7 * k)
		}
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("LEB128 number too long")
	return 0
}

func (r *wasmReader) u32() uint32 { return uint32(r.leb(5)) }

// vec reads the length of a vector, which cannot be more than the bytes
// left, as every item takes one at least.
func (r *wasmReader) vec() uint32 {
	n := r.u32()
	if r.err == nil && int(n) > len(r.b)-r.i {
		r.err = fmt.Errorf("a vector of %d items in %d bytes", n, len(r.b)-r.i)
		return 0
	}
	return n
}

// valType reads a value type, or a block type: a byte, but a reference
// type of typed function references, (ref ht) or (ref null ht), is 0x64 or
// 0x63 followed by a heap type; a type index is an s33.
func (r *wasmReader) valType() {
	if r.err == nil && r.i < len(r.b) && (r.b[r.i] == 0x63 || r.b[r.i] == 0x64) {
		r.i++
	}
	r.s33()
}
func (r *wasmReader) s33() { r.leb(5) }
func (r *wasmReader) s64() { r.leb(10) }

func (r *wasmReader) name() string {
	n := r.u32()
	return string(r.bytes(int(n)))
}

// expr reads a constant expression, up to its end.
func (r *wasmReader) expr() {
	for r.err == nil {
		if r.i < len(r.b) && r.b[r.i] == 0x0b {
			r.i++
			return
		}
		if _, _, err := r.instruction(); err != nil {
			r.err = err
		}
	}
}

func (r *wasmReader) limits() {
	flags := r.byte()
	r.leb(10) // min, 32 or 64 bits
	if flags&0x01 != 0 {
		r.leb(10) // max
	}
	if flags&0x08 != 0 { // custom page size
		r.u32()
	}
}

func (r *wasmReader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multiple memories: a memory index follows
		r.u32()
	}
	r.leb(10) // offset, 32 or 64 bits
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
