package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/orc-gateway/orc"
)

// The example hooks, built with the SDK, through the host.

func TestValidatorHook(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "validator", "./examples/validator")
	for _, tc := range []struct {
		name, input string
		want        orc.HookReply
	}{
		{"good", `{"start_date":"2024-05-01","end_date":"2024-05-03","max_total":100,"items":[{"quantity":2,"unit_price":10}]}`,
			orc.HookReply{Allow: true}},
		{"dates reversed", `{"start_date":"2024-05-03","end_date":"2024-05-01"}`,
			orc.HookReply{Status: 422, Message: "start_date 2024-05-03 is after end_date 2024-05-01"}},
		{"over the total", `{"quantity":3,"unit_price":40,"max_total":100}`,
			orc.HookReply{Status: 422, Message: "order total 120 exceeds max_total 100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := h.Call(context.Background(), "validator", preRequest("inv", tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestCanaryHook(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "canary", "./examples/canary")
	call := func(id, key string) bool {
		t.Helper()
		req := preRequest(id, `{}`)
		if key != "" {
			req.Headers = map[string]string{"X-Canary-Key": key}
		}
		r, _, err := h.Call(context.Background(), "canary", req)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allow {
			t.Fatalf("denied: %+v", r)
		}
		if r.Route == nil {
			return false
		}
		if *r.Route != (orc.HookRoute{Version: "2.0.0"}) {
			t.Fatalf("route %+v", *r.Route)
		}
		return true
	}
	routed := 0
	for i := range 1000 {
		if call(fmt.Sprintf("inv-%d", i), "") {
			routed++
		}
	}
	if routed < 70 || routed > 130 {
		t.Errorf("%d of 1000 invocations went to the canary, want about 100", routed)
	}
	for i := range 50 {
		key := fmt.Sprintf("user-%d", i)
		first := call("a", key)
		for j := range 3 {
			if call(fmt.Sprint(j), key) != first {
				t.Fatalf("key %s is not stable", key)
			}
		}
	}
}

func TestRedactorHook(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "redactor", "./examples/redactor")
	req := &orc.HookRequest{
		Phase:  orc.HookPost,
		Input:  json.RawMessage(`{}`),
		Output: json.RawMessage(`{"owner":"alice@example.com","notes":["cc bob@example.org"],"n":3}`),
	}
	r, _, err := h.Call(context.Background(), "redactor", req)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"owner":"a***@example.com","notes":["cc b***@example.org"],"n":3}`; !r.Allow || string(r.Output) != want {
		t.Errorf("got %+v output %s, want output %s", r, r.Output, want)
	}
	req.Output = json.RawMessage(`{"n":3}`)
	if r, _, err := h.Call(context.Background(), "redactor", req); err != nil || !r.Allow || r.Output != nil {
		t.Errorf("without addresses: %+v, %v", r, err)
	}
}
