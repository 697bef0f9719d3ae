//go:build wasip1

package hook

import "unsafe"

// The buffers of the last call: the host writes the request into in and
// reads the reply from out, which must stay alive until the next call.
var in, out []byte

// orcAlloc returns room for a request of size bytes (ABI v1 orc_alloc).
//
//lint:ignore U1000 the host calls it (go:wasmexport)
//go:wasmexport orc_alloc
func orcAlloc(size uint32) uint32 {
	if int(size) > cap(in) {
		in = make([]byte, size)
	}
	in = in[:cap(in)]
	if len(in) == 0 {
		in = make([]byte, 1024)
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in))))
}

// orcHook handles the request the host wrote at ptr (ABI v1 orc_hook) and
// returns where the reply is, packed as ptr<<32 | len.
//
//lint:ignore U1000 the host calls it (go:wasmexport)
//go:wasmexport orc_hook
func orcHook(ptr, size uint32) uint64 {
	if len(in) == 0 || ptr != uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in)))) || int(size) > len(in) {
		out = Deny(500, "hook: orc_hook called without orc_alloc").AppendJSON(out[:0])
	} else {
		out = serve(out[:0], in[:size])
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(out))))<<32 | uint64(len(out))
}
