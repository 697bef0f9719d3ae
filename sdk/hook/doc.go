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
// wasip1. It reads the request with Value, a lazy JSON reader whose
// scanners are written in WebAssembly, and writes the reply by hand,
// without allocating: general JSON libraries run several times slower in
// wasm than natively (encoding/json took 34 µs for a 5-item input, gjson
// 55 µs for a 1 KB one), where a hook's budget is 20 µs.
//
// # Fast hooks
//
// Go in wasm pays for every jump and call, and an allocation costs about
// half a microsecond. A hook stays fast when it reads each field it needs
// once (Key reads its object from the start), reads strings with Bytes
// rather than String, and leaves general-purpose parsers (time.Parse, fmt,
// encoding/json) off its common path, as the validator example does.
package hook
