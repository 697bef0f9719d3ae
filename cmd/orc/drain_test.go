package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGatewayDrains: a stopping gateway answers the synchronous calls under
// way, refuses new requests with 503 and Retry-After while /readyz says
// draining (a load balancer's cue), and then returns.
func TestGatewayDrains(t *testing.T) {
	s := newStack(t, func(c *Config) {
		c.Gateway.ShutdownDelay, c.Gateway.ShutdownGrace = 700*time.Millisecond, 20*time.Second
	}, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"] = "echo-drain" }))

	type answer struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", s.gw.URL()+"/invoke/echo-drain", strings.NewReader(`{"sleep_ms":2500,"x":1}`))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- answer{err: err}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- answer{status: resp.StatusCode, body: string(body)}
	}()
	// Wait until the call runs, then stop the gateway as SIGTERM does.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Items []struct{ Status string } `json:"items"`
		}
		s.do("GET", "/api/v1/invocations?plugin=echo-drain", nil).json(t, &page)
		if len(page.Items) == 1 && page.Items[0].Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call did not start: %+v", page.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stopGateway() }()

	for s.do("GET", "/readyz", nil).status != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz does not say the gateway drains")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp := s.do("POST", "/invoke/echo-drain", `{"x":2}`)
	if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" || resp.apiError(t).Error.Code != "unavailable" {
		t.Errorf("a new call while draining: %d Retry-After %q %s", resp.status, resp.header.Get("Retry-After"), resp.body)
	}
	if resp := s.do("GET", "/healthz", nil); resp.status != http.StatusOK {
		t.Errorf("healthz while draining: %d", resp.status)
	}

	a := <-inflight
	if a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, `"x":1`) {
		t.Fatalf("the call under way at the stop: %d %s %v", a.status, a.body, a.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("gateway Run after the drain: %v", err)
	}
}
