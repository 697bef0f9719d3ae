package main

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/orc-gateway/orc/sdk/hook"
)

func request(version, key, id string) hook.Request {
	headers := `{}`
	if key != "" {
		headers = fmt.Sprintf(`{"x-canary-key":%q}`, key)
	}
	return hook.NewRequest(fmt.Appendf(nil,
		`{"phase":"pre","invocation_id":%q,"plugin":{"name":"p","version":%q},"headers":%s,"input":{}}`, id, version, headers))
}

func routed(r hook.Reply) bool {
	return string(r.AppendJSON(nil)) == `{"allow":true,"route":{"version":"2.0.0","pool":"","priority":0}}`
}

func TestShare(t *testing.T) {
	const n = 10000
	canaries := 0
	for i := range n {
		if routed(route(request("1.0.0", "", fmt.Sprintf("inv-%d", i)))) {
			canaries++
		}
	}
	if got := float64(canaries) / n * 100; got < Percent-1.5 || got > Percent+1.5 {
		t.Errorf("%.1f%% of invocations went to the canary, want %d%% ± 1.5", got, Percent)
	}
}

func TestStablePerKey(t *testing.T) {
	for i := range 200 {
		key := fmt.Sprintf("user-%d", i)
		first := routed(route(request("1.0.0", key, "a")))
		for j := range 5 {
			// The key decides, not the invocation id.
			if got := routed(route(request("1.0.0", key, fmt.Sprint(j)))); got != first {
				t.Fatalf("key %s: routed %v, then %v", key, first, got)
			}
		}
	}
}

func TestCanaryVersionLeftAlone(t *testing.T) {
	for i := range 100 {
		if r := route(request(CanaryVersion, "", fmt.Sprint(i))); string(r.AppendJSON(nil)) != `{"allow":true}` {
			t.Fatalf("a call to the canary was routed: %s", r.AppendJSON(nil))
		}
	}
}

func TestFNV(t *testing.T) {
	for _, s := range []string{"", "a", "user-17", "0190c3e1-8a4b-7c2d-9e5f-1a2b3c4d5e6f"} {
		h := fnv.New32a()
		h.Write([]byte(s))
		if got, want := fnv32a([]byte(s)), h.Sum32(); got != want {
			t.Errorf("fnv32a(%q) = %#x, want %#x", s, got, want)
		}
	}
}
