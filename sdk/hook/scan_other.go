//go:build !wasm

package hook

func stringEnd(b []byte, i int) (end int, escaped bool) { return stringEndGo(b, i) }

func valueEnd(b []byte, i int) int { return valueEndGo(b, i) }

func simpleNumber(b []byte, i int) (mant uint64, frac int, neg bool) { return simpleNumberGo(b, i) }

func nextElement(b []byte, i int) int { return nextElementGo(b, i) }

func keyValue(b []byte, i int, name string) int { return keyValueGo(b, i, name) }
