package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/orc-gateway/orc"
)

// fakeDriver is a driver whose runs write what they are told and end the
// way their context ends.
type fakeDriver struct {
	mu    sync.Mutex
	seen  *orc.ContainerSpec
	cause error // the cause the last run's context ended with
	err   error // what Run returns, when set
}

func (f *fakeDriver) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	return f.RunStreaming(ctx, spec, nil, nil)
}

func (f *fakeDriver) RunStreaming(ctx context.Context, spec *orc.ContainerSpec, stdout, stderr io.Writer) (*orc.ContainerResult, error) {
	f.mu.Lock()
	f.seen = spec
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if len(spec.Args) > 0 && spec.Args[0] == "write" {
		for range 3 {
			if stdout != nil {
				stdout.Write([]byte("out\n"))
			}
			if stderr != nil {
				stderr.Write([]byte("err\n"))
			}
		}
		return &orc.ContainerResult{ExitCode: 0, Stdout: []byte("result"), Cold: time.Millisecond, Run: 2 * time.Millisecond}, nil
	}
	<-ctx.Done()
	f.mu.Lock()
	f.cause = context.Cause(ctx)
	f.mu.Unlock()
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	return &orc.ContainerResult{ExitCode: 137, TimedOut: timedOut, Canceled: !timedOut}, nil
}

func (f *fakeDriver) Fingerprint(ctx context.Context) (*orc.DriverInfo, error) {
	return &orc.DriverInfo{Name: "fake", Detail: "engine gone"}, orc.WrapError(orc.EUNAVAILABLE, errors.New("dial unix: no such file"), "the fake engine cannot be reached")
}

// connect returns a client of d over a real gRPC connection.
func connect(t *testing.T, d orc.Driver) *Client {
	t.Helper()
	// Closing the client shuts the server down (go-plugin's controller).
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{pluginName: &grpcPlugin{Impl: d}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*Client)
}

func TestRunCrossesTheBoundary(t *testing.T) {
	f := &fakeDriver{}
	c := connect(t, f)
	spec := &orc.ContainerSpec{InvocationID: "inv", Attempt: 2, Image: "img", Args: []string{"write"},
		Stdin: []byte("{}"), Env: map[string]string{"A": "1"}, Resources: orc.Resources{CPU: 0.5, MemoryMB: 64, Pids: 8},
		Network: orc.NetworkBridge, Deadline: time.Unix(1700000000, 0), Labels: map[string]string{"l": "v"}}
	var stdout, stderr bytes.Buffer
	res, err := c.RunStreaming(context.Background(), spec, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "result" || res.Cold != time.Millisecond || res.Run != 2*time.Millisecond {
		t.Errorf("result = %+v", res)
	}
	if stdout.String() != "out\nout\nout\n" || stderr.String() != "err\nerr\nerr\n" {
		t.Errorf("streamed %q and %q", stdout.String(), stderr.String())
	}
	seen := f.seen
	if seen.InvocationID != "inv" || seen.Attempt != 2 || string(seen.Stdin) != "{}" || seen.Env["A"] != "1" ||
		seen.Resources.MemoryMB != 64 || seen.Network != orc.NetworkBridge || !seen.Deadline.Equal(spec.Deadline) || seen.Labels["l"] != "v" {
		t.Errorf("the driver saw %+v, want %+v", seen, spec)
	}
	// Without writers, nothing is streamed.
	if _, err := c.Run(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
}

// The way a run's context ends reaches the driver: a deadline as a
// deadline, a cancel as a cancel, a hand-back with its cause.
func TestRunEndsAcrossTheBoundary(t *testing.T) {
	tests := []struct {
		name     string
		end      func() (context.Context, context.CancelFunc)
		timedOut bool
		cause    error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, true, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, false, context.Canceled},
		{"handed back", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(100*time.Millisecond, func() { cancel(orc.ErrHandedBack) })
			return ctx, func() { cancel(nil) }
		}, false, orc.ErrHandedBack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDriver{}
			c := connect(t, f)
			ctx, cancel := tt.end()
			defer cancel()
			res, err := c.Run(ctx, &orc.ContainerSpec{InvocationID: "inv", Image: "img", Args: []string{"wait"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.TimedOut != tt.timedOut || res.Canceled == tt.timedOut || res.ExitCode != 137 {
				t.Errorf("result = %+v, want timed out = %v", res, tt.timedOut)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !errors.Is(f.cause, tt.cause) {
				t.Errorf("the driver's run ended with %v, want %v", f.cause, tt.cause)
			}
		})
	}
}

// A driver's errors keep their code and client-safe message across the
// boundary; Fingerprint keeps its info beside its error.
func TestErrorsCrossTheBoundary(t *testing.T) {
	f := &fakeDriver{err: orc.WrapError(orc.EINVALID, errors.New("No such image: x"), `image "x" is not on this worker`)}
	c := connect(t, f)
	_, err := c.Run(context.Background(), &orc.ContainerSpec{Image: "x"})
	if orc.ErrorCode(err) != orc.EINVALID || orc.ErrorMessage(err) != `image "x" is not on this worker` ||
		err.Error() != `image "x" is not on this worker: No such image: x` {
		t.Errorf("Run error = %q (%s, %q)", err, orc.ErrorCode(err), orc.ErrorMessage(err))
	}
	f.err = errors.New("something broke")
	_, err = c.Run(context.Background(), &orc.ContainerSpec{Image: "x"})
	if orc.ErrorCode(err) != orc.EINTERNAL || err.Error() != "something broke" {
		t.Errorf("Run error = %q (%s)", err, orc.ErrorCode(err))
	}
	info, err := c.Fingerprint(context.Background())
	if orc.ErrorCode(err) != orc.EUNAVAILABLE || info == nil || info.Name != "fake" || info.Detail != "engine gone" {
		t.Errorf("Fingerprint = %+v, %v", info, err)
	}
	// The fake keeps no servers and reaps nothing: those calls say so.
	if _, err := c.ListServers(context.Background()); orc.ErrorCode(err) != orc.EINVALID {
		t.Errorf("ListServers of a driver without servers: %v, want EINVALID", err)
	}
	if err := c.Reap(context.Background(), "inv", 2); orc.ErrorCode(err) != orc.EINVALID {
		t.Errorf("Reap of a driver that does not reap: %v, want EINVALID", err)
	}
}

// nopServers is a driver whose ListServers does nothing.
type nopServers struct{ fakeDriver }

func (*nopServers) StartServer(context.Context, *orc.ServerSpec) (*orc.PluginServer, error) {
	return nil, nil
}
func (*nopServers) StopServer(context.Context, string) error { return nil }
func (*nopServers) ListServers(context.Context) ([]orc.PluginServer, error) {
	return []orc.PluginServer{{ID: "a", URL: "http://10.0.0.1:8080", Labels: map[string]string{"orc.worker": "w"}}}, nil
}

// BenchmarkProtocolHop is a driver call that does nothing, over a real
// gRPC connection (a Unix socket, no TLS) in one process: the protocol's
// own cost, without a second process.
func BenchmarkProtocolHop(b *testing.B) {
	client, _ := plugin.TestPluginGRPCConn(b, false, map[string]plugin.Plugin{pluginName: &grpcPlugin{Impl: &nopServers{}}})
	b.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginName)
	if err != nil {
		b.Fatal(err)
	}
	c := raw.(*Client)
	for b.Loop() {
		if _, err := c.ListServers(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
