// Package hook is the Go SDK for Orc hooks: WebAssembly modules that run on
// the invoke path of plugins (hook ABI v1, docs/hooks.md).
//
// A hook registers its handler from init, since a reactor module does not
// run main:
//
//	package main
//
//	import "github.com/orc-gateway/orc/sdk/hook"
//
//	func init() { hook.Handle(check) }
//
//	func main() {}
//
//	func check(req hook.Request) hook.Reply {
//		if req.Get("input.amount").Float() > 1000 {
//			return hook.Deny(422, "amount is over 1000")
//		}
//		return hook.Allow()
//	}
//
// and is built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o check.wasm .
//
// The package exports the ABI's orc_alloc and orc_hook when built for
// wasip1. It reads the request with Value, a JSON reader written for Go
// compiled to wasm, and writes the reply by hand: general JSON libraries
// run several times slower in wasm than natively (encoding/json took 34 µs
// for a 5-item input, gjson 55 µs for a 1 KB one), where a hook's budget is
// 20 µs.
package hook
