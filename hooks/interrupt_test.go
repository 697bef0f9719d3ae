package hooks

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/orc-gateway/orc"
)

// Guests that never return, without a language runtime: each must be
// stopped at its timeout by the instrumentation.
func TestInterrupt(t *testing.T) {
	i64zero := []byte{0x42, 0x00}
	loop := append([]byte{0x03, 0x40, 0x0c, 0x00, 0x0b}, i64zero...) // loop br 0 end
	fill := append([]byte{0x03, 0x40,                                // loop memory.fill(0, 0, 65536) br 0 end
		0x41, 0x00, 0x41, 0x00, 0x41, 0x80, 0x80, 0x04, 0xfc, 0x0b, 0x00, 0x0c, 0x00, 0x0b}, i64zero...)
	recurse := append([]byte{0x41, 0x40, 0x10, 0x02}, i64zero...) // f(64)
	// f(n): if n { f(n-1); f(n-1) }: 2^64 calls and no loop.
	f := wasmFunc{params: []byte{i32}, body: []byte{0x20, 0x00, 0x04, 0x40,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02, 0x0b}}
	for _, tc := range []struct {
		name  string
		hook  []byte
		extra []wasmFunc
	}{
		{"loop", loop, nil},
		{"memory.fill", fill, nil},
		{"recursion", recurse, []wasmFunc{f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, Config{Timeout: 50 * time.Millisecond})
			m := wasmModule{memory: true, funcs: append([]wasmFunc{
				{export: "orc_alloc", params: []byte{i32}, results: []byte{i32}, body: []byte{0x41, 0x00}},
				{export: "orc_hook", params: []byte{i32, i32}, results: []byte{i64}, body: tc.hook},
			}, tc.extra...)}
			if _, err := h.Load(context.Background(), tc.name, m.encode()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _, err := h.Call(context.Background(), tc.name, preRequest("inv", `{}`))
			wantError(t, err, CodeFailed, `hook "`+tc.name+`" timed out after 50ms`)
			// A Go guest's loop stops within 1 ms of its deadline (see
			// TestCallTimeout); the recursion here has been seen to take
			// up to 90 ms more, on a loaded machine.
			if took := time.Since(start); took > 250*time.Millisecond {
				t.Errorf("stopped after %v", took)
			}
		})
	}
}

// The instrumented module keeps its globals and exports, and gains the
// interrupt global, also where it had no global or export section.
func TestInstrumentGlobals(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	for _, tc := range []struct {
		name string
		m    wasmModule
	}{
		{"no globals, no exports", wasmModule{memory: true, hideMemory: true}},
		{"no globals", minimalModule()},
		{"globals", func() wasmModule { m := minimalModule(); m.globals = []int32{7, 9}; return m }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := instrument(tc.m.encode())
			if err != nil {
				t.Fatal(err)
			}
			mod, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			g, ok := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
			if !ok || g.Get() != 0 || g.Type() != api.ValueTypeI32 {
				t.Fatalf("interrupt global %v", mod.ExportedGlobal(interruptExport))
			}
			for i, want := range tc.m.globals {
				if got := mod.ExportedGlobal("g" + string(rune('0'+i))); got == nil || int32(got.Get()) != want {
					t.Errorf("global %d = %v, want %d", i, got, want)
				}
			}
		})
	}
}

func TestInstrumentReservedName(t *testing.T) {
	m := minimalModule()
	m.funcs[0].export = interruptExport
	h := newHost(t, Config{})
	err := h.Validate(context.Background(), m.encode())
	wantError(t, err, orc.EINVALID, "exports orc_interrupt, a name the host reserves")
}

// Every module of wazero's own test data that wazero compiles passes
// checkLimits and still compiles once instrumented: both read all of the
// format that wazero accepts.
func TestInstrumentWazeroTestdata(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		t.Fatalf("find wazero's source: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	tested := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".wasm") {
			return err
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		orig, err := r.CompileModule(ctx, bin)
		if err != nil {
			return nil // wazero rejects it (a test of invalid input, or a feature not enabled)
		}
		_ = orig.Close(ctx)
		if err := checkLimits(bin); err != nil {
			t.Errorf("%s: limits: %v", path, err)
			return nil
		}
		inst, err := instrument(bin)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		compiled, err := r.CompileModule(ctx, inst)
		if err != nil {
			t.Errorf("%s: instrumented: %v", path, err)
			return nil
		}
		_ = compiled.Close(ctx)
		tested++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tested < 50 {
		t.Errorf("only %d modules tested", tested)
	}
	t.Logf("%d modules instrumented and compiled", tested)
}

func minimalModule() wasmModule {
	return wasmModule{memory: true, funcs: []wasmFunc{
		{export: "orc_alloc", params: []byte{i32}, results: []byte{i32}, body: []byte{0x41, 0x00}},
		{export: "orc_hook", params: []byte{i32, i32}, results: []byte{i64}, body: []byte{0x42, 0x00}},
	}}
}

// FuzzInstrument checks that instrument never panics, and that what wazero
// compiles still compiles once instrumented.
func FuzzInstrument(f *testing.F) {
	f.Add(minimalModule().encode())
	f.Add(minimalHook(false))
	m := minimalModule()
	m.globals = []int32{1}
	m.imports = []wasmImport{{"wasi_snapshot_preview1", "proc_exit", []byte{i32}, nil}}
	f.Add(m.encode())
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	f.Cleanup(func() { _ = r.Close(ctx) })
	f.Add([]byte("\x00asm\x01\x00\x00\x00\n\x12\x80\x80\x80\x80\x02\v\v\x15\x01\x80"))
	f.Fuzz(func(t *testing.T, bin []byte) {
		if checkLimits(bin) != nil {
			return // wazero must not see it: it may allocate what it says
		}
		out, err := instrument(bin)
		orig, cerr := r.CompileModule(ctx, bin)
		if cerr != nil {
			return
		}
		_ = orig.Close(ctx)
		if err != nil {
			t.Fatalf("wazero compiles it, instrument fails: %v", err)
		}
		compiled, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("instrumented: %v", err)
		}
		_ = compiled.Close(ctx)
	})
}
