package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks/examples/validator/rules"
	"github.com/orc-gateway/orc/hooks/internal/wasmtest"
	"github.com/orc-gateway/orc/sdk/hook"
)

// benchRequest is a pre request with a 1 KB order input that passes the
// validator's rules, so that they read all of it.
func benchRequest(tb testing.TB) *orc.HookRequest {
	var items []string
	for i := range 9 {
		items = append(items, fmt.Sprintf(`{"sku":"SKU-%04d","description":"item number %d of the order","quantity":%d,"unit_price":%d.25}`, i, i, i+1, 10+i))
	}
	input := fmt.Sprintf(`{"customer":"ACME Corporation","start_date":"2024-05-01","end_date":"2024-05-31","max_total":10000,"items":[%s]}`, strings.Join(items, ","))
	if n := len(input); n < 900 || n > 1100 {
		tb.Fatalf("input is %d bytes, want about 1 KB", n)
	}
	req := preRequest("0190c3e1-8a4b-7c2d-9e5f-1a2b3c4d5e6f", input)
	req.Headers["x-request-id"] = "r-1"
	return req
}

// measure runs f b.N times and reports the p50 and p99 of one run.
func measure(b *testing.B, f func() error) {
	b.Helper()
	if err := f(); err != nil { // warm up, and fail fast
		b.Fatal(err)
	}
	durations := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		err := f()
		durations = append(durations, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	at := func(p float64) float64 {
		return float64(durations[int(float64(len(durations)-1)*p)].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkHook is the latency of one pooled Go hook (the validator example,
// built with the SDK) on a 1 KB input through Host.Call, beside the same
// rules called natively (the floor). The hook adds the difference.
func BenchmarkHook(b *testing.B) {
	req := benchRequest(b)
	b.Run("native", func(b *testing.B) {
		buf, err := encodeRequest(req)
		if err != nil {
			b.Fatal(err)
		}
		raw := bytes.Clone(buf.b) // the JSON the guest gets
		var out []byte
		measure(b, func() error {
			out = rules.Check(hook.NewRequest(raw)).AppendJSON(out[:0])
			if string(out) != `{"allow":true}` {
				return fmt.Errorf("reply %s", out)
			}
			return nil
		})
	})
	b.Run("wasm", func(b *testing.B) {
		h := newHost(b, Config{})
		load(b, h, "validator", "./examples/validator")
		measure(b, callAllowed(h, "validator", req))
	})
}

// BenchmarkTimeout is the cost of the mechanisms that stop a runaway guest,
// beside none at all, on the validator (a Go guest) and on a hand-made hook
// without a language runtime (the host's fixed cost per call).
func BenchmarkTimeout(b *testing.B) {
	req := benchRequest(b)
	for _, hk := range []struct{ name, pkg string }{{"validator", "./examples/validator"}, {"minimal", ""}} {
		for _, mech := range []struct {
			name string
			cfg  Config
		}{
			{"none", Config{timer: timerNone}},
			{"wazero", Config{timer: timerContext}},
			{"interrupt", Config{timer: timerInterrupt}},
		} {
			b.Run(hk.name+"/"+mech.name, func(b *testing.B) {
				h := newHost(b, mech.cfg)
				if hk.pkg != "" {
					load(b, h, hk.name, hk.pkg)
				} else if _, err := h.Load(context.Background(), hk.name, wasmtest.MinimalHook(false)); err != nil {
					b.Fatal(err)
				}
				measure(b, callAllowed(h, hk.name, req))
			})
		}
	}
}

func callAllowed(h *Host, name string, req *orc.HookRequest) func() error {
	ctx := context.Background()
	return func() error {
		r, _, err := h.Call(ctx, name, req)
		if err != nil {
			return err
		}
		if !r.Allow {
			b, _ := json.Marshal(r)
			return fmt.Errorf("reply %s", b)
		}
		return nil
	}
}

// BenchmarkHookCanary is the latency of the canary example (reads a header
// and the invocation id, hashes one of them) on the same 1 KB request: the
// cost of a hook that does not walk its input.
func BenchmarkHookCanary(b *testing.B) {
	req := benchRequest(b)
	h := newHost(b, Config{})
	load(b, h, "canary", "./examples/canary")
	measure(b, callAllowed(h, "canary", req))
}

// BenchmarkHookChain is the latency of a chain of three hooks on the 1 KB
// request, each called through the host as the registry calls a phase's
// chain (one Host.Call each, the request encoded for each): three canary
// examples, and three minimal hooks (the host's fixed cost alone), beside
// one canary call and, as the floor, the canary's decision made three
// times in native Go on the decoded request.
func BenchmarkHookChain(b *testing.B) {
	// Every chain gets an input of its own, as invocations do: what the
	// host remembers of one chain's input does not help the next.
	base := benchRequest(b)
	reqs := make([]*orc.HookRequest, 100)
	for i := range reqs {
		r := *base
		r.Input = bytes.Replace(base.Input, []byte("ACME Corporation"), fmt.Appendf(nil, "ACME Corporation %03d", i), 1)
		reqs[i] = &r
	}
	chain := func(h *Host, names ...string) func() error {
		ctx, n := context.Background(), 0
		return func() error {
			req := reqs[n%len(reqs)]
			n++
			for _, name := range names {
				r, _, err := h.Call(ctx, name, req)
				if err != nil {
					return err
				}
				if !r.Allow {
					return fmt.Errorf("hook %s refused", name)
				}
			}
			return nil
		}
	}
	b.Run("floor=native-canary-x3", func(b *testing.B) {
		req := reqs[0]
		measure(b, func() error {
			for range 3 {
				key := req.Headers["x-canary-key"]
				if key == "" {
					key = req.InvocationID
				}
				if req.Plugin.Version != "2.0.0" && fnv32a(key)%100 < 10 {
					canaryRouted++
				}
			}
			return nil
		})
	})
	b.Run("canary-x1", func(b *testing.B) {
		h := newHost(b, Config{})
		load(b, h, "c1", "./examples/canary")
		measure(b, chain(h, "c1"))
	})
	b.Run("canary-x3", func(b *testing.B) {
		h := newHost(b, Config{})
		for _, n := range []string{"c1", "c2", "c3"} {
			load(b, h, n, "./examples/canary")
		}
		measure(b, chain(h, "c1", "c2", "c3"))
	})
	b.Run("minimal-x3", func(b *testing.B) {
		h := newHost(b, Config{})
		for _, n := range []string{"m1", "m2", "m3"} {
			if _, err := h.Load(context.Background(), n, wasmtest.MinimalHook(false)); err != nil {
				b.Fatal(err)
			}
		}
		measure(b, chain(h, "m1", "m2", "m3"))
	})
}

// canaryRouted keeps the native floor's decisions from being optimized
// away.
var canaryRouted int

// fnv32a is the canary example's hash.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
