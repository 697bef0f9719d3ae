package plugin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime"
	"github.com/orc-gateway/orc/runtime/docker"
	"github.com/orc-gateway/orc/runtime/drivertest"
	"github.com/orc-gateway/orc/runtime/plugin"
)

// benchDriver is one way of running containers in the benchmarks.
type benchDriver struct {
	name string
	cli  string
	open func(b *testing.B) drivertest.Driver
}

func benchDrivers() []benchDriver {
	quiet := slog.New(slog.DiscardHandler)
	inst := drivertest.Installation("bench")
	return []benchDriver{
		{"docker", "docker", func(b *testing.B) drivertest.Driver {
			d, err := docker.New(docker.Config{Installation: inst, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.Close() })
			return d
		}},
		{"docker-plugin", "docker", func(b *testing.B) drivertest.Driver {
			return openQuiet(b, plugin.ExternalConfig{Name: "docker", Path: orcBinary(b),
				Args: []string{"driver", "docker", "--installation", inst, "--log-level", "warn"}})
		}},
		{"podman-plugin", "podman", func(b *testing.B) drivertest.Driver {
			return openQuiet(b, plugin.ExternalConfig{Name: "podman", Path: binary(b, "orc-driver-podman"),
				Args: []string{"--installation", inst, "--log-level", "warn"}})
		}},
	}
}

func openQuiet(b *testing.B, cfg plugin.ExternalConfig) *plugin.External {
	cfg.Logger = slog.New(slog.DiscardHandler)
	e, err := plugin.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

var benchInput = []byte(`{"text":"hello"}`)

// BenchmarkExec is one exec run of the probe (`probe stdin`, a small
// input) through each driver, beside each engine's own CLI (`docker run
// --rm -i`, `podman run --rm -i`, no hardening flags) as the floor.
func BenchmarkExec(b *testing.B) {
	if testing.Short() {
		b.Skip("needs docker and podman")
	}
	for _, cli := range []string{"docker", "podman"} {
		b.Run(cli+"-cli", func(b *testing.B) {
			drivertest.BuildProbe(b, cli)
			args := []string{"run", "--rm", "-i", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
				drivertest.ProbeImage, "stdin"}
			for b.Loop() {
				cmd := exec.Command(cli, args...)
				cmd.Stdin = bytes.NewReader(benchInput)
				if out, err := cmd.Output(); err != nil || !bytes.Equal(out, benchInput) {
					b.Fatalf("%s run = %q, %v", cli, out, err)
				}
			}
		})
	}
	for _, bd := range benchDrivers() {
		b.Run(bd.name, func(b *testing.B) {
			drivertest.BuildProbe(b, bd.cli)
			d := bd.open(b)
			for b.Loop() {
				res, err := d.Run(context.Background(), &orc.ContainerSpec{InvocationID: "bench", Image: drivertest.ProbeImage,
					Args: []string{"stdin"}, Stdin: benchInput})
				if err != nil || !bytes.Equal(res.Stdout, benchInput) {
					b.Fatalf("Run = %+v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkWarmCall is one call of a warm server through the worker's warm
// pool (runtime.Warm), the server started by each driver, beside a direct
// HTTP call of the same server as the floor. A warm call does not go
// through the driver: the driver starts and stops servers.
func BenchmarkWarmCall(b *testing.B) {
	if testing.Short() {
		b.Skip("needs docker and podman")
	}
	v := &orc.Version{ID: 1, Plugin: "bench", Version: "1", Image: drivertest.ProbeImage, Protocol: orc.ProtocolHTTP,
		MinWarm: 1, MaxReplicas: 1, Concurrency: 4, TimeoutS: 10}
	v.SetDefaults()
	for _, bd := range benchDrivers() {
		b.Run(bd.name, func(b *testing.B) {
			drivertest.BuildProbe(b, bd.cli)
			w := runtime.NewWarm(runtime.WarmConfig{}, bd.open(b), slog.New(slog.DiscardHandler))
			b.Cleanup(w.Close)
			if _, err := w.Run(context.Background(), v, benchInput); err != nil { // the cold start
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := w.Run(context.Background(), v, benchInput)
				if err != nil || !bytes.Equal(bytes.TrimSpace(res.Stdout), benchInput) {
					b.Fatalf("warm call = %+v, %v", res, err)
				}
			}
		})
		b.Run(bd.name+"-direct", func(b *testing.B) {
			drivertest.BuildProbe(b, bd.cli)
			d := bd.open(b)
			srv, err := d.StartServer(context.Background(), &orc.ServerSpec{Key: "bench-direct", Image: drivertest.ProbeImage})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.StopServer(context.Background(), srv.ID) }) //nolint:errcheck
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			call := func() ([]byte, error) {
				resp, err := client.Post(srv.URL+"/invoke", "application/json", bytes.NewReader(benchInput))
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				return io.ReadAll(resp.Body)
			}
			for {
				if _, err := call(); err == nil {
					break
				}
			}
			for b.Loop() {
				if out, err := call(); err != nil || !bytes.Equal(out, benchInput) {
					b.Fatalf("direct call = %q, %v", out, err)
				}
			}
		})
	}
}

// BenchmarkHop is what crossing to a driver process costs. go-plugin is a
// driver call that the driver answers without its engine (a Reap without
// an invocation id, refused at once by orc driver docker), through
// go-plugin (gRPC over a Unix socket, mutual TLS); round-trip, the floor,
// is 16 bytes sent to another process over a Unix socket and back.
func BenchmarkHop(b *testing.B) {
	if testing.Short() {
		b.Skip("builds orc")
	}
	b.Run("round-trip", func(b *testing.B) {
		conn := echoProcess(b)
		msg, back := make([]byte, 16), make([]byte, 16)
		for b.Loop() {
			if _, err := conn.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(conn, back); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-plugin", func(b *testing.B) {
		d := openQuiet(b, plugin.ExternalConfig{Name: "docker", Path: orcBinary(b), Args: []string{"driver", "docker",
			"--installation", "bench", "--log-level", "error"}})
		for b.Loop() {
			if err := d.Reap(context.Background(), "", 1); err == nil || orc.ErrorCode(err) == orc.EUNAVAILABLE {
				b.Fatalf("Reap without an invocation id: %v, want the driver's refusal", err)
			}
		}
	})
}

// BenchmarkListServers is a driver call that asks the engine once, in
// process and over go-plugin.
func BenchmarkListServers(b *testing.B) {
	if testing.Short() {
		b.Skip("needs docker")
	}
	for _, bd := range benchDrivers()[:2] {
		b.Run(bd.name, func(b *testing.B) {
			d := bd.open(b)
			for b.Loop() {
				if _, err := d.ListServers(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// echoEnv names the Unix socket a test binary started by echoProcess
// serves.
const echoEnv = "ORC_TEST_ECHO_SOCKET"

// echoProcess starts this test binary again as a process that echoes what
// it reads on a Unix socket, and returns a connection to it.
func echoProcess(b *testing.B) net.Conn {
	path := filepath.Join(b.TempDir(), "echo.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), echoEnv+"="+path)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		conn, err := net.Dial("unix", path)
		if err == nil {
			b.Cleanup(func() { conn.Close() })
			return conn
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
	}
}

// serveEcho echoes one connection on the Unix socket at path.
func serveEcho(path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Exit(1)
	}
	conn, err := ln.Accept()
	if err != nil {
		os.Exit(1)
	}
	io.Copy(conn, conn) //nolint:errcheck
}
