package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkWarm measures the http protocol: a synchronous call of echo
// through Orc to a warm container, beside its floor, a direct HTTP call to
// the same container from the same process; and the cold start through
// Orc (the pool emptied before each call) beside `docker run --rm` of the
// same image.
//
// With ORC_BENCH_TRACES=1 the gateway and the worker trace every call
// (benchTracing).
func BenchmarkWarm(b *testing.B) {
	s := newTracedStack(b, func(c *Config) {
		c.Worker.Concurrency = 16
		c.LogLevel = "warn"
	}, false, benchTracing(b))
	s.register(warmEcho(b, "echo-warm", 1, 2, 8))
	waitServers(b, s.cfg.QueuePrefix, "echo-warm", "1.0.0", 1, 30*time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(url, token string) error { return postJSON(client, url, token) }
	// The warm container's address, as the worker reaches it.
	var ip string
	for deadline := time.Now().Add(10 * time.Second); ip == "" && time.Now().Before(deadline); {
		for _, id := range serversOf(b, s.cfg.QueuePrefix, "echo-warm", "1.0.0") {
			out, _ := exec.Command("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id).Output()
			if ip = strings.TrimSpace(string(out)); ip != "" {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ip == "" {
		b.Fatal("no address for the warm container")
	}
	direct := "http://" + ip + ":8080/invoke"
	viaOrc := s.gw.URL() + "/invoke/echo-warm"
	floor := func() error { return post(direct, "") }
	orcCall := func() error { return post(viaOrc, s.token) }
	for _, f := range []func() error{floor, orcCall} {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("floor=direct-http/c=1", func(b *testing.B) { measure(b, 1, floor) })
	b.Run("orc=sync-warm/c=1", func(b *testing.B) { measure(b, 1, orcCall) })
	b.Run("floor=direct-http/c=8", func(b *testing.B) { measure(b, 8, floor) })
	b.Run("orc=sync-warm/c=8", func(b *testing.B) { measure(b, 8, orcCall) })

	// Cold starts: a pool of its own, emptied (untimed) before each call.
	s.register(warmEcho(b, "echo-cold", 0, 1, 1))
	warm := s.worker.Runner.Warm
	coldURL := s.gw.URL() + "/invoke/echo-cold"
	cold := func() error { return post(coldURL, s.token) }
	dockerRun := dockerRunEcho
	b.Run("floor=docker-run/cold", func(b *testing.B) { measure(b, 1, dockerRun) })
	b.Run("orc=sync-http-cold/cold", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			warm.Close() // stops the container of the previous call
			t0 := time.Now()
			if err := cold(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		report(b, lat, 0)
	})
}

// benchTracing returns, when ORC_BENCH_TRACES=1, a tracer provider that
// samples every trace and batches its spans to an exporter that drops
// them, as a service with tracing on does short of the network; else nil
// (tracing off).
func benchTracing(b *testing.B) trace.TracerProvider {
	if os.Getenv("ORC_BENCH_TRACES") != "1" {
		return nil
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
	b.Cleanup(func() { tp.Shutdown(context.Background()) }) //nolint:errcheck // nothing to flush to
	return tp
}

// discardSpans is a span exporter that drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
