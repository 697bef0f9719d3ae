package wasmbin

import (
	"fmt"
)

// maxLocals caps the locals of one function, as browsers do.
const maxLocals = 50000

// CheckLimits reads the structure of a module and rejects one whose vector
// lengths exceed the bytes that hold them, or whose functions declare more
// than maxLocals locals. wazero 1.12 allocates what such lengths say before
// it reads the items (a 20-byte module can ask it for 36 GB, and the
// allocation failure kills the process), so every length a module states is
// checked here first.
//
// # Notes
//
// CheckLimits skips the first 8 bytes (the magic number and version)
// without looking at them, and checks lengths, not validity: a module it
// accepts may still be invalid. The size of the whole module is the
// caller's limit.
func CheckLimits(module []byte) error {
	r := &wasmReader{b: module, i: 8}
	for r.i < len(r.b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		content := r.bytes(int(size))
		if r.err != nil {
			break
		}
		if err := checkSection(id, &wasmReader{b: content}); err != nil {
			return fmt.Errorf("section %d: %w", id, err)
		}
	}
	return r.err
}

func checkSection(id byte, r *wasmReader) error {
	if id == 0 {
		if r.name() == "name" {
			checkNames(r)
		}
		return r.err
	}
	if id == 8 || id == 12 { // start, data count: one index
		return nil
	}
	for n := r.vec(); n > 0 && r.err == nil; n-- {
		switch id {
		case 1: // type
			if r.byte() != 0x60 {
				return nil // not a function type: wazero rejects it
			}
			for k := r.vec(); k > 0 && r.err == nil; k-- {
				r.valType()
			}
			for k := r.vec(); k > 0 && r.err == nil; k-- {
				r.valType()
			}
		case 2: // import
			r.name()
			r.name()
			switch r.byte() {
			case 0x00:
				r.u32()
			case 0x01:
				r.valType()
				r.limits()
			case 0x02:
				r.limits()
			case 0x03:
				r.valType()
				r.byte()
			case 0x04:
				r.byte()
				r.u32()
			default:
				return nil
			}
		case 3: // function
			r.u32()
		case 4: // table
			if r.i+1 < len(r.b) && r.b[r.i] == 0x40 && r.b[r.i+1] == 0x00 {
				r.i += 2
				r.valType()
				r.limits()
				r.expr()
			} else {
				r.valType()
				r.limits()
			}
		case 5: // memory
			r.limits()
		case 6: // global
			r.valType()
			r.byte()
			r.expr()
		case 7: // export
			r.name()
			r.byte()
			r.u32()
		case 9: // element
			checkElement(r)
		case 10: // code
			body := &wasmReader{b: r.bytes(int(r.u32()))}
			locals := 0
			for k := body.vec(); k > 0 && body.err == nil; k-- {
				if locals += int(body.u32()); locals > maxLocals {
					return fmt.Errorf("a function has over %d locals", maxLocals)
				}
				body.valType()
			}
			if body.err != nil {
				return body.err
			}
		case 11: // data
			switch r.u32() {
			case 0:
				r.expr()
			case 2:
				r.u32()
				r.expr()
			}
			r.bytes(int(r.u32()))
		case 13: // tag
			r.byte()
			r.u32()
		default:
			return nil
		}
	}
	return r.err
}

// checkElement reads an element segment (its eight forms).
func checkElement(r *wasmReader) {
	flags := r.u32()
	if flags&0x01 == 0 { // active
		if flags&0x02 != 0 {
			r.u32() // table
		}
		r.expr()
	}
	if flags&0x03 != 0 { // an element kind or a reference type
		if flags&0x04 != 0 {
			r.valType()
		} else {
			r.byte()
		}
	}
	for k := r.vec(); k > 0 && r.err == nil; k-- {
		if flags&0x04 != 0 {
			r.expr()
		} else {
			r.u32()
		}
	}
}

// checkNames reads the name section's function and local names, whose
// lengths wazero allocates too.
func checkNames(r *wasmReader) {
	for r.i < len(r.b) && r.err == nil {
		id := r.byte()
		sub := &wasmReader{b: r.bytes(int(r.u32()))}
		switch id {
		case 1: // function names
			for k := sub.vec(); k > 0 && sub.err == nil; k-- {
				sub.u32()
				sub.name()
			}
		case 2: // local names
			for k := sub.vec(); k > 0 && sub.err == nil; k-- {
				sub.u32()
				for j := sub.vec(); j > 0 && sub.err == nil; j-- {
					sub.u32()
					sub.name()
				}
			}
		}
		if sub.err != nil {
			r.err = sub.err
		}
	}
}
