// Command canary is a pre hook that sends a stable share of traffic to a
// canary version of the plugin: Percent percent of keys go to CanaryVersion.
// The key is the x-canary-key header when the client sends one (so that one
// user or session always sees the same version), else the invocation id. A
// key's share is fixed by its 32-bit FNV-1a hash modulo 100, so the same key
// always lands on the same side. Calls that already target CanaryVersion are
// left alone.
package main

import "github.com/orc-gateway/orc/sdk/hook"

func init() { hook.Handle(route) }

func main() {}

// The split: change them and rebuild to move traffic.
const (
	CanaryVersion = "2.0.0"
	Percent       = 10
)

// route reads the fields it needs with Bytes, which does not copy them: a
// hook that allocates nothing on its path spares Go's allocator and
// garbage collector, which are slow in wasm.
func route(req hook.Request) hook.Reply {
	if string(req.Get("plugin.version").Bytes()) == CanaryVersion {
		return hook.Allow()
	}
	key := req.Get("headers").Key("x-canary-key").Bytes()
	if len(key) == 0 {
		key = req.Get("invocation_id").Bytes()
	}
	if canary(key) {
		return hook.Allow().RouteTo(CanaryVersion, "", 0)
	}
	return hook.Allow()
}

// canary reports whether key falls in the canary's share.
func canary(key []byte) bool {
	return fnv32a(key)%100 < Percent
}

// fnv32a is the 32-bit FNV-1a hash of b, as hash/fnv's New32a computes it.
func fnv32a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
