// Package wasmbin reads and rewrites WebAssembly binaries, before a runtime
// sees them.
//
// CheckLimits rejects a module whose stated lengths a runtime would
// allocate before reading what they count (wazero 1.12 does). Instrument
// rewrites a module so that code that runs forever keeps visiting Go and
// traps once the host sets the exported global InterruptExport; package
// hooks explains the choice and measures it.
//
// Both read the binary format directly (sections, LEB128 numbers,
// instructions and their immediates) and depend on nothing but the
// standard library. Neither validates a module: the runtime does, when it
// compiles the result.
package wasmbin
