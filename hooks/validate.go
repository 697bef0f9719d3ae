package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks/wasmbin"
)

// MaxModuleSize is the largest module the host takes, as the upload limit
// of docs/hooks.md.
const MaxModuleSize = 16 << 20

// wasiModule is the only module a hook may import from.
const wasiModule = wasi_snapshot_preview1.ModuleName

// abiExports are the functions a hook exports (docs/hooks.md), with their
// signatures.
var abiExports = []struct {
	name            string
	params, results []api.ValueType
}{
	{"orc_alloc", []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
	{"orc_hook", []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}},
	{"_initialize", nil, nil}, // optional
}

// Validate checks that module is a hook: a WebAssembly module that compiles,
// exports memory, orc_alloc (i32) -> i32 and orc_hook (i32, i32) -> i64,
// optionally _initialize () -> (), is a reactor (no _start), imports
// nothing but WASI preview 1 functions, and starts: its _initialize ends
// in time without a trap.
//
// # Errors
//
// EINVALID with every reason found, e.g. "not a WebAssembly module",
// "missing export orc_hook", "orc_alloc has signature (i64) -> i32, want
// (i32) -> i32".
func (h *Host) Validate(ctx context.Context, module []byte) error {
	bin, err := h.instrumented(module)
	if err != nil {
		return err
	}
	// The module as uploaded must be valid on its own: instrumenting adds
	// globals and locals, which would make valid a module that names them.
	// Instrument refuses such names too; this is the general check.
	original, err := h.validator.CompileModule(ctx, module)
	if err != nil {
		return orc.WrapError(orc.EINVALID, err, "not a valid WebAssembly module")
	}
	_ = original.Close(ctx)
	compiled, err := h.compile(ctx, bin)
	if err != nil {
		return err
	}
	defer compiled.Close(ctx) //nolint:errcheck
	// It must start, too: a module whose _initialize traps or never ends
	// would be stored only to fail every call.
	inst, err := newPool(h, compiled, 1).instantiate(ctx)
	if err != nil {
		return orc.WrapError(orc.EINVALID, err, "the hook failed to start: "+err.Error())
	}
	inst.close()
	return nil
}

// instrumented checks the shape of a module and returns it as the runtime
// compiles it: with the interrupt check, when the host uses it.
func (h *Host) instrumented(module []byte) ([]byte, error) {
	if !bytes.HasPrefix(module, []byte("\x00asm")) {
		return nil, orc.Errorf(orc.EINVALID, "not a WebAssembly module")
	}
	if len(module) > MaxModuleSize {
		err := fmt.Errorf("the module is %d bytes, over the limit of %d MiB", len(module), MaxModuleSize>>20)
		return nil, orc.WrapError(orc.EINVALID, err, "not a valid WebAssembly module")
	}
	if err := wasmbin.CheckLimits(module); err != nil {
		return nil, orc.WrapError(orc.EINVALID, err, "not a valid WebAssembly module")
	}
	if h.cfg.timer != timerInterrupt {
		return module, nil
	}
	instrumented, err := wasmbin.Instrument(module)
	switch {
	case errors.Is(err, wasmbin.ErrReservedExport):
		return nil, orc.Errorf(orc.EINVALID, "%s", err)
	case errors.Is(err, wasmbin.ErrHostIndex):
		return nil, orc.Errorf(orc.EINVALID, "not a valid WebAssembly module: %s", err)
	case err != nil:
		return nil, orc.WrapError(orc.EINVALID, err, "not a valid WebAssembly module")
	}
	return instrumented, nil
}

// compile compiles a module as instrumented returned it and checks its
// ABI; the caller owns the result.
func (h *Host) compile(ctx context.Context, bin []byte) (wazero.CompiledModule, error) {
	compiled, err := h.runtime.CompileModule(ctx, bin)
	if err != nil {
		return nil, orc.WrapError(orc.EINVALID, err, "not a valid WebAssembly module")
	}
	if problems := h.checkABI(compiled); len(problems) > 0 {
		_ = compiled.Close(ctx)
		return nil, orc.Errorf(orc.EINVALID, "%s", strings.Join(problems, "; "))
	}
	return compiled, nil
}

// checkABI returns what keeps a compiled module from being a hook.
func (h *Host) checkABI(m wazero.CompiledModule) []string {
	var problems []string
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		problems = append(problems, "missing export memory")
	}
	funcs := m.ExportedFunctions()
	for _, want := range abiExports {
		def, ok := funcs[want.name]
		if !ok {
			if want.name != "_initialize" {
				problems = append(problems, "missing export "+want.name)
			}
			continue
		}
		if !slices.Equal(def.ParamTypes(), want.params) || !slices.Equal(def.ResultTypes(), want.results) {
			problems = append(problems, fmt.Sprintf("%s has signature %s, want %s",
				want.name, signature(def.ParamTypes(), def.ResultTypes()), signature(want.params, want.results)))
		}
	}
	if _, ok := funcs["_start"]; ok {
		problems = append(problems, "exports _start: a hook is a reactor module (Go: -buildmode=c-shared)")
	}
	for _, imp := range m.ImportedFunctions() {
		mod, fn, _ := imp.Import()
		if mod != wasiModule {
			problems = append(problems, fmt.Sprintf("imports %s.%s: a hook may import only %s", mod, fn, wasiModule))
			continue
		}
		def, ok := h.wasi[fn]
		if !ok {
			problems = append(problems, fmt.Sprintf("imports %s.%s, which the host does not provide", mod, fn))
			continue
		}
		if !slices.Equal(def.ParamTypes(), imp.ParamTypes()) || !slices.Equal(def.ResultTypes(), imp.ResultTypes()) {
			problems = append(problems, fmt.Sprintf("imports %s.%s with signature %s, want %s", mod, fn,
				signature(imp.ParamTypes(), imp.ResultTypes()), signature(def.ParamTypes(), def.ResultTypes())))
		}
	}
	for _, imp := range m.ImportedMemories() {
		mod, name, _ := imp.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s: a hook defines its own", mod, name))
	}
	return problems
}

// signature formats a function type as "(i32, i32) -> i64".
func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	r := names(results)
	if len(results) != 1 {
		r = "(" + r + ")"
	}
	return "(" + names(params) + ") -> " + r
}
