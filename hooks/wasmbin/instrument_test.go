package wasmbin

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/orc-gateway/orc/hooks/internal/wasmtest"
)

// The instrumented module keeps its globals and exports, and gains the
// interrupt global, also where it had no global or export section.
func TestInstrumentGlobals(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	for _, tc := range []struct {
		name string
		m    wasmtest.Module
	}{
		{"no globals, no exports", wasmtest.Module{Memory: true, HideMemory: true}},
		{"no globals", wasmtest.MinimalModule()},
		{"globals", func() wasmtest.Module { m := wasmtest.MinimalModule(); m.Globals = []int32{7, 9}; return m }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.m.Encode())
			if err != nil {
				t.Fatal(err)
			}
			mod, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			g, ok := mod.ExportedGlobal(InterruptExport).(api.MutableGlobal)
			if !ok || g.Get() != 0 || g.Type() != api.ValueTypeI32 {
				t.Fatalf("interrupt global %v", mod.ExportedGlobal(InterruptExport))
			}
			for i, want := range tc.m.Globals {
				if got := mod.ExportedGlobal("g" + string(rune('0'+i))); got == nil || int32(got.Get()) != want {
					t.Errorf("global %d = %v, want %d", i, got, want)
				}
			}
		})
	}
}

// Every module of wazero's own test data that wazero compiles passes
// CheckLimits and still compiles once instrumented: both read all of the
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
		if err := CheckLimits(bin); err != nil {
			t.Errorf("%s: limits: %v", path, err)
			return nil
		}
		inst, err := Instrument(bin)
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

// FuzzInstrument checks that Instrument never panics, and that what wazero
// compiles still compiles once instrumented.
func FuzzInstrument(f *testing.F) {
	f.Add(wasmtest.MinimalModule().Encode())
	f.Add(wasmtest.MinimalHook(false))
	m := wasmtest.MinimalModule()
	m.Globals = []int32{1}
	m.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: []byte{wasmtest.I32}}}
	f.Add(m.Encode())
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	f.Cleanup(func() { _ = r.Close(ctx) })
	f.Add([]byte("\x00asm\x01\x00\x00\x00\n\x12\x80\x80\x80\x80\x02\v\v\x15\x01\x80"))
	f.Fuzz(func(t *testing.T, bin []byte) {
		if CheckLimits(bin) != nil {
			return // wazero must not see it: it may allocate what it says
		}
		out, err := Instrument(bin)
		orig, cerr := r.CompileModule(ctx, bin)
		if cerr != nil {
			return
		}
		_ = orig.Close(ctx)
		if err != nil {
			t.Fatalf("wazero compiles it, Instrument fails: %v", err)
		}
		compiled, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("instrumented: %v", err)
		}
		_ = compiled.Close(ctx)
	})
}
