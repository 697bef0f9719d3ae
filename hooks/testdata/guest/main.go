//go:build wasip1

// Command guest is a hook written against the raw ABI, without the SDK, that
// misbehaves on request: the field "do" of the input picks what it does.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unsafe"
)

func main() {}

var (
	in  []byte // the request, written by the host
	out []byte // the last reply, read by the host
)

//go:wasmexport orc_alloc
func orcAlloc(size uint32) uint32 {
	if cap(in) < int(size) || cap(in) == 0 {
		in = make([]byte, max(size, 1))
	}
	in = in[:size]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in))))
}

//go:wasmexport orc_hook
func orcHook(ptr, size uint32) uint64 {
	out = handle(in[:size])
	if len(out) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(out))))<<32 | uint64(len(out))
}

type request struct {
	Phase        string            `json:"phase"`
	InvocationID string            `json:"invocation_id"`
	Headers      map[string]string `json:"headers"`
	Input        json.RawMessage   `json:"input"`
	Output       json.RawMessage   `json:"output"`
}

var sink [][]byte

func handle(raw []byte) []byte {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return reply(map[string]any{"allow": false, "status": 400, "message": "guest: " + err.Error()})
	}
	var input struct {
		Do string `json:"do"`
	}
	_ = json.Unmarshal(req.Input, &input)
	switch input.Do {
	case "allow", "":
		return []byte(`{"allow":true}`)
	case "echo": // the invocation id as message, the request as output
		return reply(map[string]any{"allow": true, "message": req.InvocationID, "output": json.RawMessage(raw)})
	case "deny":
		return []byte(`{"allow":false,"status":451,"message":"denied by \"guest\""}`)
	case "rewrite":
		return reply(map[string]any{"allow": true, "input": map[string]any{"rewritten": true, "was": req.Input}})
	case "route":
		return []byte(`{"allow":true,"route":{"version":"2.0.0","pool":"gpu","priority":7}}`)
	case "loop":
		for {
		}
	case "alloc":
		for {
			sink = append(sink, make([]byte, 1<<20))
			sink[len(sink)-1][0] = 1
		}
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(3)
	case "garbage":
		return []byte(`{"allow":tru`)
	case "nonobject":
		return []byte(`[true]`)
	case "wrongtype":
		return []byte(`{"allow":"yes"}`)
	case "badstatus":
		return []byte(`{"allow":false,"status":200}`)
	case "badptr":
		return nil
	case "print":
		fmt.Println("to stdout", req.InvocationID)
		fmt.Fprintln(os.Stderr, "to stderr", req.InvocationID)
		return []byte(`{"allow":true}`)
	case "flood":
		line := strings.Repeat("x", 1023) + "\n"
		for range 100 {
			os.Stdout.WriteString(line)
		}
		return []byte(`{"allow":true}`)
	}
	return reply(map[string]any{"allow": false, "status": 400, "message": "guest: unknown do " + input.Do})
}

func reply(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
