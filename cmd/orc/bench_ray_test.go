package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/scheduler/ray"
)

// BenchmarkRay measures, in one run on the local Ray cluster, a synchronous
// call of echo (a fresh container per call, as in BenchmarkInvoke):
//
//   - orc=local-worker: the worker started by hand beside the gateway (the
//     foundation's path);
//
//   - orc=pooled: the same plugin and pool, its worker now a replica the
//     scheduler placed on Ray: no Ray round trip per invocation;
//
//   - orc=ray-job: execution ray-job, each invocation its own Ray job;
//
//   - floor=ray-job-submit: `ray job submit -- true` on the same cluster,
//     the cost of one Ray job with nothing in it;
//
//   - floor=docker-run: `docker run --rm` of the image.
//
//     go test -run '^$' -bench BenchmarkRay -benchtime 30x ./cmd/orc
func BenchmarkRay(b *testing.B) {
	addr := testenv.RayAddress(b)
	s := newStack(b, func(c *Config) {
		c.LogLevel = "warn"
		c.Worker.Pool = "bench"
		c.RayAddress = addr
		c.Scheduler.Orc = buildOrc(b)
		c.Scheduler.Interval = 500 * time.Millisecond
	}, false)
	s.register(manifest(b, "echo", func(m map[string]any) {
		m["pool"], m["min_workers"], m["max_workers"] = "bench", 1, 1
	}))
	s.register(manifest(b, "echo", func(m map[string]any) {
		m["name"], m["execution"] = "echo-rj", "ray-job"
		m["resources"] = map[string]any{"cpu": 0.5}
	}))
	client := &http.Client{}
	invoke := func(plugin string) func() error {
		return func() error { return postJSON(client, s.gw.URL()+"/invoke/"+plugin, s.token) }
	}
	rayBin := filepath.Join(rayVenv(), "bin", "ray")
	var submitted []string
	var mu sync.Mutex
	raySubmit := func() error {
		id := "orc-bench-" + testenv.Suffix()
		out, err := exec.Command(rayBin, "job", "submit", "--address", addr, "--submission-id", id,
			"--entrypoint-num-cpus", "0.1", "--", "true").CombinedOutput()
		mu.Lock()
		submitted = append(submitted, id)
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("ray job submit: %v: %s", err, out)
		}
		return nil
	}
	b.Cleanup(func() {
		rc, _ := ray.NewClient(addr)
		time.Sleep(6 * time.Second) // let Ray's job supervisors exit first
		for _, id := range submitted {
			rc.DeleteJob(context.Background(), id) //nolint:errcheck // best effort
		}
	})
	for _, f := range []func() error{invoke("echo"), dockerRunEcho, raySubmit} {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("floor=docker-run", func(b *testing.B) { measure(b, 1, dockerRunEcho) })
	b.Run("orc=local-worker", func(b *testing.B) { measure(b, 1, invoke("echo")) })

	// The hand-started worker stops; the scheduler places the pool's
	// worker on Ray instead.
	s.stopW()
	rs := &rayStack{stack: s}
	var err error
	if rs.ray, err = ray.NewClient(addr); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rs.removeRayJobs(b) })
	rs.startScheduler()
	deadline := time.Now().Add(60 * time.Second)
	for {
		running := 0
		for _, j := range rs.jobsOf(b, "worker") {
			if j.Status == ray.JobRunning {
				running++
			}
		}
		if running == 1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("no worker replica of pool bench runs on Ray after 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, f := range []func() error{invoke("echo"), invoke("echo-rj")} {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("orc=pooled", func(b *testing.B) { measure(b, 1, invoke("echo")) })
	b.Run("orc=ray-job", func(b *testing.B) { measure(b, 1, invoke("echo-rj")) })
	b.Run("floor=ray-job-submit", func(b *testing.B) { measure(b, 1, raySubmit) })
}

// rayVenv is where deploy/local/services.sh installs Ray.
func rayVenv() string {
	if dir := os.Getenv("ORC_RAY_VENV"); dir != "" {
		return dir
	}
	return "/opt/orc/ray"
}
