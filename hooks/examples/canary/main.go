// Command canary is a pre hook that sends a stable share of traffic to a
// canary version of the plugin: Percent percent of keys go to CanaryVersion.
// The key is the x-canary-key header when the client sends one (so that one
// user or session always sees the same version), else the invocation id. A
// key's share is fixed by its 32-bit FNV-1a hash modulo 100, so the same key
// always lands on the same side. Calls that already target CanaryVersion are
// left alone.
package main

import (
	"hash/fnv"

	"github.com/orc-gateway/orc/sdk/hook"
)

func init() { hook.Handle(route) }

func main() {}

// The split: change them and rebuild to move traffic.
const (
	CanaryVersion = "2.0.0"
	Percent       = 10
)

func route(req hook.Request) hook.Reply {
	if req.Version() == CanaryVersion {
		return hook.Allow()
	}
	key := req.Header("x-canary-key")
	if key == "" {
		key = req.InvocationID()
	}
	if canary(key) {
		return hook.Allow().RouteTo(CanaryVersion, "", 0)
	}
	return hook.Allow()
}

// canary reports whether key falls in the canary's share.
func canary(key string) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()%100 < Percent
}
