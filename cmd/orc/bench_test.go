package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv"
)

// The invoke benchmarks measure a synchronous call of the echo plugin
// through Orc (gateway → RabbitMQ → worker → a fresh container → result in
// PostgreSQL → reply) beside its floor, `docker run --rm` of the same image,
// in the same run, and beside the same container run through Orc's Docker
// driver alone (the engine-API floor, which isolates what the gateway, queue
// and database add). Each reports p50 and p99 in milliseconds and, for the
// concurrent ones, throughput. See docs/BENCHMARKS.md.
//
//	make bench    (go test -run '^$' -bench . -benchtime 200x ./cmd/orc)

const benchInput = `{"text": "the quick brown fox", "n": 1}`

// benchConcurrency is the number of clients of the concurrent benchmarks.
const benchConcurrency = 8

func BenchmarkInvoke(b *testing.B) {
	s := newStack(b, func(c *Config) {
		c.Worker.Concurrency = benchConcurrency
		c.LogLevel = "warn"
	}, false)
	s.register(manifest(b, "echo", nil))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency}}
	invoke := func() error { return postJSON(client, s.gw.URL()+"/invoke/echo", s.token) }
	dockerRun := dockerRunEcho
	// The engine-API floor: the same container run by Orc's Docker driver
	// alone, with no gateway, queue or database around it.
	drv := s.worker.Driver
	driverRun := func() error {
		res, err := drv.Run(context.Background(), &orc.ContainerSpec{
			InvocationID: "bench-" + testenv.Suffix(), Attempt: 1, Image: "orc-echo:1.0.0",
			Args: []string{benchInput}, Stdin: []byte(benchInput),
		})
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit code %d: %s", res.ExitCode, res.Stderr)
		}
		return err
	}
	// One call of each first, so that neither pays for a cold page cache.
	if err := invoke(); err != nil {
		b.Fatal(err)
	}
	if err := dockerRun(); err != nil {
		b.Fatal(err)
	}
	if err := driverRun(); err != nil {
		b.Fatal(err)
	}

	b.Run("floor=docker-run/c=1", func(b *testing.B) { measure(b, 1, dockerRun) })
	b.Run("floor=driver-run/c=1", func(b *testing.B) { measure(b, 1, driverRun) })
	b.Run("orc=sync/c=1", func(b *testing.B) { measure(b, 1, invoke) })
	b.Run(fmt.Sprintf("floor=docker-run/c=%d", benchConcurrency), func(b *testing.B) { measure(b, benchConcurrency, dockerRun) })
	b.Run(fmt.Sprintf("orc=sync/c=%d", benchConcurrency), func(b *testing.B) { measure(b, benchConcurrency, invoke) })
}

// measure runs call b.N times from c goroutines and reports the latency
// percentiles and the throughput.
func measure(b *testing.B, c int, call func() error) {
	var (
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, b.N)
		errs []error
		next = make(chan struct{}, b.N)
		wg   sync.WaitGroup
	)
	for i := 0; i < b.N; i++ {
		next <- struct{}{}
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				err := call()
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(errs) > 0 {
		b.Fatalf("%d of %d calls failed, first: %v", len(errs), b.N, errs[0])
	}
	report(b, lat, elapsed)
}

// report reports latency percentiles and, when elapsed is known, the
// throughput.
func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if elapsed > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "calls/s")
	}
	b.ReportMetric(0, "ns/op")
}

// postJSON posts the benchmark input and fails unless the answer is 200.
func postJSON(client *http.Client, url, token string) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(benchInput)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// dockerRunEcho is the floor of a cold start: `docker run --rm` of echo.
func dockerRunEcho() error {
	out, err := exec.Command("docker", "run", "--rm", "-i", "orc-echo:1.0.0", benchInput).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
