package hooks

import (
	"context"
	"testing"

	"github.com/orc-gateway/orc"
)

func TestValidate(t *testing.T) {
	h := newHost(t, Config{})
	abi := func() wasmModule {
		return wasmModule{memory: true, funcs: []wasmFunc{
			{export: "orc_alloc", params: []byte{i32}, results: []byte{i32}, body: []byte{0x00}},
			{export: "orc_hook", params: []byte{i32, i32}, results: []byte{i64}, body: []byte{0x00}},
		}}
	}
	with := func(f func(*wasmModule)) []byte {
		m := abi()
		f(&m)
		return m.encode()
	}
	for _, tc := range []struct {
		name   string
		module []byte
		reason string // "" for valid
	}{
		{"raw guest", guest(t, rawGuest), ""},
		{"sdk guest", guest(t, "./examples/validator"), ""},
		{"minimal", abi().encode(), ""},
		{"with _initialize", with(func(m *wasmModule) {
			m.funcs = append(m.funcs, wasmFunc{export: "_initialize"})
		}), ""},
		{"empty", nil, "not a WebAssembly module"},
		{"text", []byte("(module)"), "not a WebAssembly module"},
		{"truncated", abi().encode()[:20], "not a valid WebAssembly module"},
		// wazero 1.12 would allocate 36 GB for the code vector, and die.
		{"huge vector", []byte("\x00asm\x01\x00\x00\x00\n\x12\x80\x80\x80\x80\x02\v\v\x15\x01\x80"), "not a valid WebAssembly module"},
		{"huge locals", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b"), "not a valid WebAssembly module"},
		{"no exports", wasmModule{}.encode(), "missing export memory; missing export orc_alloc; missing export orc_hook"},
		{"no orc_hook", with(func(m *wasmModule) { m.funcs = m.funcs[:1] }), "missing export orc_hook"},
		{"memory not exported", with(func(m *wasmModule) { m.hideMemory = true }), "missing export memory"},
		{"orc_alloc signature", with(func(m *wasmModule) { m.funcs[0].params = []byte{i64} }),
			"orc_alloc has signature (i64) -> i32, want (i32) -> i32"},
		{"orc_hook signature", with(func(m *wasmModule) { m.funcs[1].results = []byte{i32} }),
			"orc_hook has signature (i32, i32) -> i32, want (i32, i32) -> i64"},
		{"_initialize signature", with(func(m *wasmModule) {
			m.funcs = append(m.funcs, wasmFunc{export: "_initialize", results: []byte{i32}, body: []byte{0x00}})
		}), "_initialize has signature () -> i32, want () -> ()"},
		{"command", with(func(m *wasmModule) { m.funcs = append(m.funcs, wasmFunc{export: "_start"}) }),
			"exports _start: a hook is a reactor module (Go: -buildmode=c-shared)"},
		{"foreign import", with(func(m *wasmModule) {
			m.imports = []wasmImport{{"env", "now", nil, []byte{i64}}}
		}), "imports env.now: a hook may import only wasi_snapshot_preview1"},
		{"unknown wasi import", with(func(m *wasmModule) {
			m.imports = []wasmImport{{"wasi_snapshot_preview1", "no_such_call", nil, nil}}
		}), "imports wasi_snapshot_preview1.no_such_call, which the host does not provide"},
		{"wasi import signature", with(func(m *wasmModule) {
			m.imports = []wasmImport{{"wasi_snapshot_preview1", "proc_exit", []byte{i64}, nil}}
		}), "imports wasi_snapshot_preview1.proc_exit with signature (i64) -> (), want (i32) -> ()"},
		{"wasi import", with(func(m *wasmModule) {
			m.imports = []wasmImport{{"wasi_snapshot_preview1", "proc_exit", []byte{i32}, nil}}
		}), ""},
		{"imported memory", with(func(m *wasmModule) { m.importMemory, m.memory = true, false }),
			"missing export memory; imports memory env.memory: a hook defines its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.Validate(context.Background(), tc.module)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantError(t, err, orc.EINVALID, tc.reason)
		})
	}
}

// A module's memory larger than the cap fails to load.
func TestLoadOverMemoryLimit(t *testing.T) {
	h := newHost(t, Config{MemoryLimitMB: 1})
	m := wasmModule{memory: true, memoryPages: 32, funcs: []wasmFunc{
		{export: "orc_alloc", params: []byte{i32}, results: []byte{i32}, body: []byte{0x00}},
		{export: "orc_hook", params: []byte{i32, i32}, results: []byte{i64}, body: []byte{0x00}},
	}}
	_, err := h.Load(context.Background(), "big", m.encode())
	if orc.ErrorCode(err) != orc.EINVALID {
		t.Fatalf("got %v, want EINVALID", err)
	}
}

// minimalHook returns a hand-made hook that answers {"allow":true} without
// a language runtime (or traps, with unreachable), to measure the host alone.
func minimalHook(trap bool) []byte {
	reply := []byte(`{"allow":true}`)
	const at = 2048
	hookBody := append([]byte{0x42}, sleb(at<<32|int64(len(reply)))...) // i64.const
	if trap {
		hookBody = []byte{0x00} // unreachable
	}
	m := wasmModule{
		memory: true,
		funcs: []wasmFunc{
			{export: "orc_alloc", params: []byte{i32}, results: []byte{i32}, body: append([]byte{0x41}, sleb(4096)...)},
			{export: "orc_hook", params: []byte{i32, i32}, results: []byte{i64}, body: hookBody},
		},
		data: []wasmData{{at, reply}},
	}
	return m.encode()
}

// Value types of the WebAssembly binary format.
const (
	i32 = 0x7f
	i64 = 0x7e
)

// wasmModule is a WebAssembly module small enough to write by hand.
type wasmModule struct {
	imports      []wasmImport
	importMemory bool
	memory       bool
	memoryPages  int
	hideMemory   bool
	globals      []int32 // immutable i32 globals, exported as g0, g1...
	funcs        []wasmFunc
	data         []wasmData
}

type wasmImport struct {
	module, name    string
	params, results []byte
}

type wasmFunc struct {
	export          string
	params, results []byte
	body            []byte // instructions, without the final end
}

type wasmData struct {
	offset int64
	bytes  []byte
}

func (m wasmModule) encode() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	var types [][]byte
	typeOf := func(params, results []byte) []byte {
		t := append([]byte{0x60}, vec(len(params), params)...)
		return append(t, vec(len(results), results)...)
	}
	var imports []byte
	nimports := len(m.imports)
	for _, imp := range m.imports {
		imports = append(imports, name(imp.module)...)
		imports = append(imports, name(imp.name)...)
		imports = append(imports, 0x00)
		imports = append(imports, uleb(uint64(len(types)))...)
		types = append(types, typeOf(imp.params, imp.results))
	}
	if m.importMemory {
		nimports++
		imports = append(imports, name("env")...)
		imports = append(imports, name("memory")...)
		imports = append(imports, 0x02, 0x00, 0x01)
	}
	var funcs, exports, code []byte
	nexports := 0
	for i, f := range m.funcs {
		funcs = append(funcs, uleb(uint64(len(types)))...)
		types = append(types, typeOf(f.params, f.results))
		if f.export != "" {
			nexports++
			exports = append(exports, name(f.export)...)
			exports = append(exports, 0x00)
			exports = append(exports, uleb(uint64(len(m.imports)+i))...)
		}
		body := append(append([]byte{0x00}, f.body...), 0x0b)
		code = append(code, vec(len(body), body)...)
	}
	if m.memory && !m.hideMemory {
		nexports++
		exports = append(exports, name("memory")...)
		exports = append(exports, 0x02, 0x00)
	}
	var globals []byte
	for i, g := range m.globals {
		globals = append(globals, i32, 0x00, 0x41)
		globals = append(globals, sleb(int64(g))...)
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
	out = section(out, 3, len(m.funcs), funcs)
	if m.memory {
		out = section(out, 5, 1, append([]byte{0x00}, uleb(uint64(max(m.memoryPages, 1)))...))
	}
	out = section(out, 6, len(m.globals), globals)
	out = section(out, 7, nexports, exports)
	out = section(out, 10, len(m.funcs), code)
	var data []byte
	for _, d := range m.data {
		data = append(data, 0x00, 0x41)
		data = append(data, sleb(d.offset)...)
		data = append(data, 0x0b)
		data = append(data, vec(len(d.bytes), d.bytes)...)
	}
	return section(out, 11, len(m.data), data)
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

func sleb(v int64) []byte {
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
