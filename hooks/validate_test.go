package hooks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks/internal/wasmtest"
	"github.com/orc-gateway/orc/hooks/wasmbin"
)

func TestValidate(t *testing.T) {
	h := newHost(t, Config{})
	abi := func() wasmtest.Module {
		return wasmtest.Module{Memory: true, Funcs: []wasmtest.Func{
			{Export: "orc_alloc", Params: []byte{i32}, Results: []byte{i32}, Body: []byte{0x00}},
			{Export: "orc_hook", Params: []byte{i32, i32}, Results: []byte{i64}, Body: []byte{0x00}},
		}}
	}
	with := func(f func(*wasmtest.Module)) []byte {
		m := abi()
		f(&m)
		return m.Encode()
	}
	for _, tc := range []struct {
		name   string
		module []byte
		reason string // "" for valid
	}{
		{"raw guest", guest(t, rawGuest), ""},
		{"sdk guest", guest(t, "./examples/validator"), ""},
		{"minimal", abi().Encode(), ""},
		{"with _initialize", with(func(m *wasmtest.Module) {
			m.Funcs = append(m.Funcs, wasmtest.Func{Export: "_initialize"})
		}), ""},
		{"empty", nil, "not a WebAssembly module"},
		{"text", []byte("(module)"), "not a WebAssembly module"},
		{"truncated", abi().Encode()[:20], "not a valid WebAssembly module"},
		// wazero 1.12 would allocate 36 GB for the code vector, and die.
		{"huge vector", []byte("\x00asm\x01\x00\x00\x00\n\x12\x80\x80\x80\x80\x02\v\v\x15\x01\x80"), "not a valid WebAssembly module"},
		{"huge locals", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b"), "not a valid WebAssembly module"},
		{"no exports", wasmtest.Module{}.Encode(), "missing export memory; missing export orc_alloc; missing export orc_hook"},
		{"no orc_hook", with(func(m *wasmtest.Module) { m.Funcs = m.Funcs[:1] }), "missing export orc_hook"},
		{"memory not exported", with(func(m *wasmtest.Module) { m.HideMemory = true }), "missing export memory"},
		{"orc_alloc signature", with(func(m *wasmtest.Module) { m.Funcs[0].Params = []byte{i64} }),
			"orc_alloc has signature (i64) -> i32, want (i32) -> i32"},
		{"orc_hook signature", with(func(m *wasmtest.Module) { m.Funcs[1].Results = []byte{i32} }),
			"orc_hook has signature (i32, i32) -> i32, want (i32, i32) -> i64"},
		{"_initialize signature", with(func(m *wasmtest.Module) {
			m.Funcs = append(m.Funcs, wasmtest.Func{Export: "_initialize", Results: []byte{i32}, Body: []byte{0x00}})
		}), "_initialize has signature () -> i32, want () -> ()"},
		{"command", with(func(m *wasmtest.Module) { m.Funcs = append(m.Funcs, wasmtest.Func{Export: "_start"}) }),
			"exports _start: a hook is a reactor module (Go: -buildmode=c-shared)"},
		{"foreign import", with(func(m *wasmtest.Module) {
			m.Imports = []wasmtest.Import{{Module: "env", Name: "now", Results: []byte{i64}}}
		}), "imports env.now: a hook may import only wasi_snapshot_preview1"},
		{"unknown wasi import", with(func(m *wasmtest.Module) {
			m.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "no_such_call"}}
		}), "imports wasi_snapshot_preview1.no_such_call, which the host does not provide"},
		{"wasi import signature", with(func(m *wasmtest.Module) {
			m.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: []byte{i64}}}
		}), "imports wasi_snapshot_preview1.proc_exit with signature (i64) -> (), want (i32) -> ()"},
		{"wasi import", with(func(m *wasmtest.Module) {
			m.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: []byte{i32}}}
		}), ""},
		{"imported memory", with(func(m *wasmtest.Module) { m.ImportMemory, m.Memory = true, false }),
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
	m := wasmtest.Module{Memory: true, MemoryPages: 32, Funcs: []wasmtest.Func{
		{Export: "orc_alloc", Params: []byte{i32}, Results: []byte{i32}, Body: []byte{0x00}},
		{Export: "orc_hook", Params: []byte{i32, i32}, Results: []byte{i64}, Body: []byte{0x00}},
	}}
	_, err := h.Load(context.Background(), "big", m.Encode())
	if orc.ErrorCode(err) != orc.EINVALID {
		t.Fatalf("got %v, want EINVALID", err)
	}
}

// A module over MaxModuleSize is refused before its structure is read.
func TestValidateModuleSize(t *testing.T) {
	h := newHost(t, Config{})
	module := make([]byte, MaxModuleSize+1)
	copy(module, "\x00asm\x01\x00\x00\x00")
	err := h.Validate(context.Background(), module)
	wantError(t, err, orc.EINVALID, "not a valid WebAssembly module")
	if want := "over the limit of 16 MiB"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
}

// A module may not export the global through which the host interrupts it.
func TestInstrumentReservedName(t *testing.T) {
	m := wasmtest.MinimalModule()
	m.Funcs[0].Export = wasmbin.InterruptExport
	h := newHost(t, Config{})
	err := h.Validate(context.Background(), m.Encode())
	wantError(t, err, orc.EINVALID, "exports orc_interrupt, a name the host reserves")
}

// A module that names the globals or locals the instrumenter adds is
// invalid as uploaded, and would be valid once instrumented: it could reset
// its fuel or its interrupt flag and run for ever, freezing the process.
// Such modules are refused at upload and at load, before anything runs.
func TestValidateRefusesTheHostsGlobals(t *testing.T) {
	h := newHost(t, Config{Timeout: 200 * time.Millisecond})
	refuel := []byte{0x03, 0x40, 0x41, 0x90, 0xce, 0x00, 0x24, 0x00, 0x0c, 0x00, 0x0b} // loop; i32.const 10000; global.set 0; br 0; end
	hookWith := func(f func(*wasmtest.Module)) []byte {
		m := wasmtest.MinimalModule()
		f(&m)
		return m.Encode()
	}
	for _, tc := range []struct {
		name   string
		module []byte
	}{
		{"orc_hook refuels", hookWith(func(m *wasmtest.Module) {
			m.Funcs[1].Body = append(append([]byte{}, refuel...), 0x42, 0x00)
		})},
		{"_initialize refuels", hookWith(func(m *wasmtest.Module) {
			m.Funcs = append(m.Funcs, wasmtest.Func{Export: "_initialize", Body: refuel})
		})},
		{"orc_hook clears the interrupt flag", hookWith(func(m *wasmtest.Module) {
			m.Globals = []int32{7} // its own global 0; the fuel is 1, the flag 2
			m.Funcs[1].Body = []byte{0x03, 0x40, 0x41, 0x00, 0x24, 0x02, 0x0c, 0x00, 0x0b, 0x42, 0x00}
		})},
		{"orc_hook reads the fuel", hookWith(func(m *wasmtest.Module) {
			m.Funcs[1].Body = []byte{0x23, 0x00, 0x1a, 0x42, 0x00} // global.get 0; drop
		})},
		{"orc_hook writes the charge local", hookWith(func(m *wasmtest.Module) {
			// memory.fill makes the instrumenter add local 2 to (i32, i32).
			m.Funcs[1].Body = []byte{0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00,
				0x41, 0x05, 0x21, 0x02, 0x42, 0x00} // ...; i32.const 5; local.set 2
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.Validate(context.Background(), tc.module)
			if orc.ErrorCode(err) != orc.EINVALID || !strings.Contains(orc.ErrorMessage(err), "not a valid WebAssembly module") {
				t.Fatalf("upload: %v, want EINVALID", err)
			}
			if !strings.Contains(orc.ErrorMessage(err), "does not define") {
				t.Errorf("upload: %q does not say what is wrong", orc.ErrorMessage(err))
			}
			// A module stored before uploads were checked is refused at load.
			if _, err := h.Load(context.Background(), "stored", tc.module); orc.ErrorCode(err) != orc.EINVALID {
				t.Fatalf("load: %v, want EINVALID", err)
			}
		})
	}
}

// A module that is invalid for another reason, which the instrumenter does
// not look for, is refused by the check of the module as uploaded.
func TestValidateChecksTheModuleAsUploaded(t *testing.T) {
	h := newHost(t, Config{})
	m := wasmtest.MinimalModule()
	m.Funcs[1].Body = []byte{0x41, 0x00} // i32.const 0 where i64 is returned
	wantError(t, h.Validate(context.Background(), m.Encode()), orc.EINVALID, "not a valid WebAssembly module")
}

// A module that does not start is refused at upload, so that it is never
// stored under a name only to fail every call.
func TestValidateStartsTheModule(t *testing.T) {
	h := newHost(t, Config{Timeout: 50 * time.Millisecond})
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"traps", []byte{0x00}, "_initialize failed"},
		{"never ends", []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}, "_initialize timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wasmtest.MinimalModule()
			m.Funcs = append(m.Funcs, wasmtest.Func{Export: "_initialize", Body: tc.body})
			err := h.Validate(context.Background(), m.Encode())
			if orc.ErrorCode(err) != orc.EINVALID || !strings.Contains(orc.ErrorMessage(err), "the hook failed to start: "+tc.want) {
				t.Fatalf("got %v, want EINVALID saying %q", err, tc.want)
			}
		})
	}
}
