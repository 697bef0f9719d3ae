package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// engineProxy stands between a worker and the Docker engine, so that a test
// can take the engine away from that worker alone (and give it back)
// without stopping the engine everyone else uses.
type engineProxy struct {
	t      *testing.T
	path   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newEngineProxy(t *testing.T) *engineProxy {
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	p := &engineProxy{t: t, path: filepath.Join(t.TempDir(), "docker.sock"), target: target, conns: map[net.Conn]bool{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *engineProxy) host() string { return "unix://" + p.path }

func (p *engineProxy) start() {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			// Half-closes pass through: the client ends a container's
			// stdin with one and still reads its output.
			var both sync.WaitGroup
			both.Add(2)
			go func() { io.Copy(up, c); up.(*net.UnixConn).CloseWrite(); both.Done() }() //nolint:errcheck // ends with either side
			go func() { io.Copy(c, up); c.(*net.UnixConn).CloseWrite(); both.Done() }()  //nolint:errcheck // ends with either side
			go func() {
				both.Wait()
				c.Close()
				up.Close()
				p.mu.Lock()
				delete(p.conns, c)
				delete(p.conns, up)
				p.mu.Unlock()
			}()
		}
	}()
}

// stop makes the engine unreachable: no new connections, none kept.
func (p *engineProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	os.Remove(p.path)
}

// TestWorkerPausesWithoutEngine: a worker whose container engine stops
// answering hands back the run it was making, takes no task while the
// engine is away (and says so on /readyz and the cluster view), and runs
// them when it answers again, without failing any or spending their
// delivery limit.
func TestWorkerPausesWithoutEngine(t *testing.T) {
	proxy := newEngineProxy(t)
	s := newStack(t, func(c *Config) { c.Worker.DockerHost = proxy.host() }, false)
	s.register(manifest(t, "echo", func(m map[string]any) { m["name"] = "echo-engine" }))

	running := s.invokeAsync(t, "echo-engine", `{"sleep_ms":4000,"n":1}`)
	s.waitFor(running, 30*time.Second, func(inv *orc.Invocation) bool { return inv.Status == orc.StatusRunning })
	proxy.stop()

	// Paused: the gateway sees it in the worker's heartbeat.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp := s.do("GET", "/readyz", nil)
		if resp.status == http.StatusOK && strings.Contains(string(resp.body), "workers paused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not report the paused worker: %d %s", resp.status, resp.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var cluster struct {
		Workers []*orc.WorkerInfo `json:"workers"`
	}
	s.do("GET", "/api/v1/cluster", nil).json(t, &cluster)
	if len(cluster.Workers) != 1 || cluster.Workers[0].Paused == "" {
		t.Errorf("cluster workers: %+v, want the one, paused", cluster.Workers)
	}

	// A task that comes meanwhile waits in its queue.
	waiting := s.invokeAsync(t, "echo-engine", `{"n":2}`)
	time.Sleep(2 * time.Second)
	for _, id := range []string{running, waiting} {
		if inv := s.waitFor(id, time.Second, func(*orc.Invocation) bool { return true }); inv.Status.Terminal() {
			t.Fatalf("invocation %s ended while the engine was away: %s %+v", id, inv.Status, inv.Error)
		}
	}
	if n, err := s.gw.Broker.QueueDepth(context.Background(), "default"); err != nil || n != 2 {
		t.Errorf("queue depth while paused = %d, %v; want both tasks back in the queue", n, err)
	}

	proxy.start()
	for _, id := range []string{running, waiting} {
		inv := s.waitFor(id, 60*time.Second, terminal)
		if inv.Status != orc.StatusSucceeded {
			t.Fatalf("invocation %s after the engine came back: %s %+v", id, inv.Status, inv.Error)
		}
	}
	if resp := s.do("GET", "/readyz", nil); strings.Contains(string(resp.body), "paused") {
		t.Errorf("/readyz after the resume: %s", resp.body)
	}
}
