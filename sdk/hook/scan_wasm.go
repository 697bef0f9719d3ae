//go:build wasm

package hook

// stringEnd is stringEndGo, in WebAssembly (scan_wasm.s).
//
//go:noescape
func stringEnd(b []byte, i int) (end int, escaped bool)

// valueEnd is valueEndGo, in WebAssembly (scan_wasm.s).
//
//go:noescape
func valueEnd(b []byte, i int) int

// simpleNumber is simpleNumberGo, in WebAssembly (scan_wasm.s).
//
//go:noescape
func simpleNumber(b []byte, i int) (mant uint64, frac int, neg bool)

// nextElement is nextElementGo, in WebAssembly (scan_wasm.s).
//
//go:noescape
func nextElement(b []byte, i int) int

// keyValue is keyValueGo, in WebAssembly (scan_wasm.s).
//
//go:noescape
func keyValue(b []byte, i int, name string) int
