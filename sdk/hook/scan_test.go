package hook

import "testing"

// FuzzScan checks the scanners of this platform (WebAssembly on wasm)
// against the Go ones at every index of the input. The hooks package runs
// this package's tests in wasm.
func FuzzScan(f *testing.F) {
	for _, s := range []string{testValue, testRequest, `{"a":1,"b":[1,2,{"c":"]"}],"c":"x\\"y"}`, `"abc\\`, `{"\u0061":1,"a":2}`,
		`[1,true ,null,-2.5e3 ,"s" , {}]`, `{ "a" : { "b" : [ ] } , "é" : 1 }`, "{\"a\":\"\x00\"}", `{"abcdefghijkl":"mnopqrstuvwxyz0123"}`,
		`{"a":1.25,"b":-0.5e3,"c":123456789012345678,"d":.5,"e":1.}`} {
		f.Add([]byte(s), "a")
		f.Add([]byte(s), "é")
	}
	f.Fuzz(func(t *testing.T, b []byte, name string) { checkScanners(t, b, name) })
}

func checkScanners(t *testing.T, b []byte, name string) {
	t.Helper()
	for i := -1; i <= len(b)+1; i++ {
		end, esc := stringEnd(b, i)
		if wend, wesc := stringEndGo(b, i); end != wend || esc != wesc {
			t.Fatalf("stringEnd(%q, %d) = %d %v, want %d %v", b, i, end, esc, wend, wesc)
		}
		if got, want := valueEnd(b, i), valueEndGo(b, i); got != want {
			t.Fatalf("valueEnd(%q, %d) = %d, want %d", b, i, got, want)
		}
		if got, want := nextElement(b, i), nextElementGo(b, i); got != want {
			t.Fatalf("nextElement(%q, %d) = %d, want %d", b, i, got, want)
		}
		m, frac, neg := simpleNumber(b, i)
		if wm, wfrac, wneg := simpleNumberGo(b, i); m != wm || frac != wfrac || neg != wneg {
			t.Fatalf("simpleNumber(%q, %d) = %d %d %v, want %d %d %v", b, i, m, frac, neg, wm, wfrac, wneg)
		}
		if got, want := keyValue(b, i, name), keyValueGo(b, i, name); got != want {
			t.Fatalf("keyValue(%q, %d, %q) = %d, want %d", b, i, name, got, want)
		}
	}
}
