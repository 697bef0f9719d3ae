package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/plugin/driverpb"
)

// Client is a driver in another process, called over the driver protocol.
// It implements orc.Driver and every optional interface of the contract;
// a call of one the driver lacks fails with orc.EINVALID.
type Client struct {
	rpc driverpb.DriverClient
}

var (
	_ orc.Driver         = (*Client)(nil)
	_ orc.Fingerprinter  = (*Client)(nil)
	_ orc.Reaper         = (*Client)(nil)
	_ orc.OutputStreamer = (*Client)(nil)
	_ orc.Servers        = (*Client)(nil)
)

func newClient(rpc driverpb.DriverClient) *Client { return &Client{rpc: rpc} }

// errDriverLost ends a run whose driver process went away before it sent
// the result. It wraps orc.ErrHandedBack: the worker hands the task back,
// and the next attempt reaps the container the lost run may have left.
// errNoResult is a run stream that ended without a result.
var errNoResult = errors.New("driver run: the stream ended without a result")

// stopGrace is how long a run may take to end once its context has: the
// driver kills the container, waits for its exit and removes it.
const stopGrace = time.Minute

var errDriverLost = fmt.Errorf("the driver process went away during the run: %w", orc.ErrHandedBack)

// Run implements orc.Driver.
func (c *Client) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	return c.RunStreaming(ctx, spec, nil, nil)
}

// RunStreaming implements orc.OutputStreamer: the driver sends the output
// as it reads it, and this writes it to stdout and stderr.
//
// # Notes
//
// The stream does not end with ctx: when ctx is canceled a stop message
// asks the driver to kill the container, and the driver still sends the
// result; ctx's deadline travels with the start and the driver keeps it.
//
// # Errors
//
// The driver's own errors, with their codes; orc.EUNAVAILABLE when the
// driver process cannot be reached before the run starts; an error
// wrapping orc.ErrHandedBack when it goes away during the run.
func (c *Client) RunStreaming(ctx context.Context, spec *orc.ContainerSpec, stdout, stderr io.Writer) (*orc.ContainerResult, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stream, err := c.rpc.Run(sctx)
	if err != nil {
		return nil, callError("run", err)
	}
	start := &driverpb.RunRequest_Start{Spec: toSpec(spec), Stream: stdout != nil || stderr != nil}
	if dl, ok := ctx.Deadline(); ok {
		start.ContextDeadlineUnixNano = dl.UnixNano()
	}
	if err := stream.Send(&driverpb.RunRequest{Msg: &driverpb.RunRequest_Start_{Start: start}}); err != nil {
		return nil, callError("run", err)
	}
	// Tell the driver when ctx ends early; its deadline it knows.
	stopSent := make(chan struct{})
	go func() {
		defer close(stopSent)
		select {
		case <-ctx.Done():
		case <-sctx.Done():
			return
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason := driverpb.RunRequest_Stop_REASON_CANCELED
			if errors.Is(context.Cause(ctx), orc.ErrHandedBack) {
				reason = driverpb.RunRequest_Stop_REASON_HANDED_BACK
			}
			stream.Send(&driverpb.RunRequest{Msg: &driverpb.RunRequest_Stop_{Stop: &driverpb.RunRequest_Stop{Reason: reason}}}) //nolint:errcheck // the result says how it went
		}
		// A driver that does not end the run soon after is taken as lost.
		select {
		case <-time.After(stopGrace):
			cancel()
		case <-sctx.Done():
		}
	}()
	defer func() { cancel(); <-stopSent }()
	for {
		ev, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errNoResult
			}
			return nil, fmt.Errorf("%w: %w", errDriverLost, err)
		}
		switch m := ev.Msg.(type) {
		case *driverpb.RunEvent_Stdout:
			write(stdout, m.Stdout)
		case *driverpb.RunEvent_Stderr:
			write(stderr, m.Stderr)
		case *driverpb.RunEvent_Result:
			return fromResult(m.Result), nil
		case *driverpb.RunEvent_Error:
			return nil, fromError(m.Error)
		}
	}
}

func write(w io.Writer, p []byte) {
	if w != nil {
		w.Write(p) //nolint:errcheck // the contract ignores the writers' errors
	}
}

// Fingerprint implements orc.Fingerprinter. A driver process that does
// not answer is an unhealthy driver (orc.EUNAVAILABLE).
func (c *Client) Fingerprint(ctx context.Context) (*orc.DriverInfo, error) {
	resp, err := c.rpc.Fingerprint(ctx, &driverpb.Empty{})
	if err != nil {
		err = callError("fingerprint", err)
		return &orc.DriverInfo{Detail: orc.ErrorMessage(err)}, err
	}
	info := &orc.DriverInfo{Name: resp.GetName(), Version: resp.GetVersion(), Healthy: resp.GetHealthy(), Detail: resp.GetDetail()}
	if resp.GetError() != nil {
		return info, fromError(resp.GetError())
	}
	return info, nil
}

// Reap implements orc.Reaper.
func (c *Client) Reap(ctx context.Context, invocationID string, beforeAttempt int) error {
	_, err := c.rpc.Reap(ctx, &driverpb.ReapRequest{InvocationId: invocationID, BeforeAttempt: int64(beforeAttempt)})
	return callError("reap", err)
}

// ReapExpired implements orc.Reaper.
func (c *Client) ReapExpired(ctx context.Context, now time.Time) error {
	_, err := c.rpc.ReapExpired(ctx, &driverpb.ReapExpiredRequest{NowUnixNano: now.UnixNano()})
	return callError("reap", err)
}

// ReapExited implements orc.Reaper.
func (c *Client) ReapExited(ctx context.Context) error {
	_, err := c.rpc.ReapExited(ctx, &driverpb.Empty{})
	return callError("reap", err)
}

// StartServer implements orc.Servers.
func (c *Client) StartServer(ctx context.Context, spec *orc.ServerSpec) (*orc.PluginServer, error) {
	ps, err := c.rpc.StartServer(ctx, toServerSpec(spec))
	if err != nil {
		return nil, callError("keep warm servers", err)
	}
	return &orc.PluginServer{ID: ps.GetId(), URL: ps.GetUrl(), Labels: ps.GetLabels()}, nil
}

// StopServer implements orc.Servers.
func (c *Client) StopServer(ctx context.Context, id string) error {
	_, err := c.rpc.StopServer(ctx, &driverpb.StopServerRequest{Id: id})
	return callError("keep warm servers", err)
}

// ListServers implements orc.Servers.
func (c *Client) ListServers(ctx context.Context) ([]orc.PluginServer, error) {
	resp, err := c.rpc.ListServers(ctx, &driverpb.Empty{})
	if err != nil {
		return nil, callError("keep warm servers", err)
	}
	list := make([]orc.PluginServer, len(resp.GetServers()))
	for i, ps := range resp.GetServers() {
		list[i] = orc.PluginServer{ID: ps.GetId(), URL: ps.GetUrl(), Labels: ps.GetLabels()}
	}
	return list, nil
}
