// Package wasmtest writes WebAssembly modules small enough to write by
// hand, for the tests of hooks and of its subpackages.
package wasmtest

// Value types of the WebAssembly binary format.
const (
	I32 = 0x7f
	I64 = 0x7e
)

// Module is a WebAssembly module small enough to write by hand.
type Module struct {
	Imports      []Import
	ImportMemory bool // imports env.memory
	Memory       bool
	MemoryPages  int     // of the memory; 0 means 1
	HideMemory   bool    // does not export the memory
	Globals      []int32 // immutable i32 globals, exported as g0, g1...
	Funcs        []Func
	Data         []Data
}

// Import is an imported function.
type Import struct {
	Module, Name    string
	Params, Results []byte
}

// Func is a function the module defines, exported if Export is set.
type Func struct {
	Export          string
	Params, Results []byte
	Body            []byte // instructions, without the final end
}

// Data is an active data segment of memory 0.
type Data struct {
	Offset int64
	Bytes  []byte
}

// MinimalModule returns a module with just the hook ABI's exports: memory,
// orc_alloc returning 0 and orc_hook returning 0.
func MinimalModule() Module {
	return Module{Memory: true, Funcs: []Func{
		{Export: "orc_alloc", Params: []byte{I32}, Results: []byte{I32}, Body: []byte{0x41, 0x00}},
		{Export: "orc_hook", Params: []byte{I32, I32}, Results: []byte{I64}, Body: []byte{0x42, 0x00}},
	}}
}

// MinimalHook returns a hand-made hook that answers {"allow":true} without
// a language runtime (or traps, with unreachable), to measure the host alone.
func MinimalHook(trap bool) []byte {
	reply := []byte(`{"allow":true}`)
	const at = 2048
	hookBody := append([]byte{0x42}, SLEB128(at<<32|int64(len(reply)))...) // i64.const
	if trap {
		hookBody = []byte{0x00} // unreachable
	}
	m := Module{
		Memory: true,
		Funcs: []Func{
			{Export: "orc_alloc", Params: []byte{I32}, Results: []byte{I32}, Body: append([]byte{0x41}, SLEB128(4096)...)},
			{Export: "orc_hook", Params: []byte{I32, I32}, Results: []byte{I64}, Body: hookBody},
		},
		Data: []Data{{at, reply}},
	}
	return m.Encode()
}

// Encode returns the module in the binary format.
func (m Module) Encode() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	var types [][]byte
	typeOf := func(params, results []byte) []byte {
		t := append([]byte{0x60}, vec(len(params), params)...)
		return append(t, vec(len(results), results)...)
	}
	var imports []byte
	nimports := len(m.Imports)
	for _, imp := range m.Imports {
		imports = append(imports, name(imp.Module)...)
		imports = append(imports, name(imp.Name)...)
		imports = append(imports, 0x00)
		imports = append(imports, uleb(uint64(len(types)))...)
		types = append(types, typeOf(imp.Params, imp.Results))
	}
	if m.ImportMemory {
		nimports++
		imports = append(imports, name("env")...)
		imports = append(imports, name("memory")...)
		imports = append(imports, 0x02, 0x00, 0x01)
	}
	var funcs, exports, code []byte
	nexports := 0
	for i, f := range m.Funcs {
		funcs = append(funcs, uleb(uint64(len(types)))...)
		types = append(types, typeOf(f.Params, f.Results))
		if f.Export != "" {
			nexports++
			exports = append(exports, name(f.Export)...)
			exports = append(exports, 0x00)
			exports = append(exports, uleb(uint64(len(m.Imports)+i))...)
		}
		body := append(append([]byte{0x00}, f.Body...), 0x0b)
		code = append(code, vec(len(body), body)...)
	}
	if m.Memory && !m.HideMemory {
		nexports++
		exports = append(exports, name("memory")...)
		exports = append(exports, 0x02, 0x00)
	}
	var globals []byte
	for i, g := range m.Globals {
		globals = append(globals, I32, 0x00, 0x41)
		globals = append(globals, SLEB128(int64(g))...)
		globals = append(globals, 0x0b)
		nexports++
		exports = append(exports, name("g"+string(rune('0'+i)))...)
		exports = append(exports, 0x03, byte(i))
	}
	var alltypes []byte
	for _, t := range types {
		alltypes = append(alltypes, t...)
	}
	out = section(out, 1, len(types), alltypes)
	out = section(out, 2, nimports, imports)
	out = section(out, 3, len(m.Funcs), funcs)
	if m.Memory {
		out = section(out, 5, 1, append([]byte{0x00}, uleb(uint64(max(m.MemoryPages, 1)))...))
	}
	out = section(out, 6, len(m.Globals), globals)
	out = section(out, 7, nexports, exports)
	out = section(out, 10, len(m.Funcs), code)
	var data []byte
	for _, d := range m.Data {
		data = append(data, 0x00, 0x41)
		data = append(data, SLEB128(d.Offset)...)
		data = append(data, 0x0b)
		data = append(data, vec(len(d.Bytes), d.Bytes)...)
	}
	return section(out, 11, len(m.Data), data)
}

func section(out []byte, id byte, n int, content []byte) []byte {
	if n == 0 {
		return out
	}
	body := append(uleb(uint64(n)), content...)
	out = append(out, id)
	out = append(out, uleb(uint64(len(body)))...)
	return append(out, body...)
}

func vec(n int, items []byte) []byte { return append(uleb(uint64(n)), items...) }

func name(s string) []byte { return vec(len(s), []byte(s)) }

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

// SLEB128 returns v in the signed LEB128 encoding, as i32.const and
// i64.const take it.
func SLEB128(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
