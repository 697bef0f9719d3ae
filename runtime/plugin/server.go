package plugin

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/plugin/driverpb"
)

// server serves one driver over the driver protocol.
type server struct {
	driverpb.UnimplementedDriverServer
	d orc.Driver
}

var _ driverpb.DriverServer = (*server)(nil)

func newServer(d orc.Driver) *server { return &server{d: d} }

// Run runs the container the first message asks for. The run's context
// keeps the caller's deadline, and ends early on a stop message, or when
// the stream breaks (the worker went away: nobody will read the result).
// It is not the stream's context, whose end would leave no way to send
// the result of a canceled run.
func (s *server) Run(stream driverpb.Driver_RunServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil || start.GetSpec() == nil {
		return status.Error(codes.InvalidArgument, "driver run: the first message must start a run")
	}
	spec := fromSpec(start.GetSpec())
	ctx, stop := context.WithCancelCause(context.WithoutCancel(stream.Context()))
	defer stop(nil)
	if dl := start.GetContextDeadlineUnixNano(); dl != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Unix(0, dl))
		defer cancel()
	}
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				// The client never closes its side before the result.
				stop(orc.ErrHandedBack)
				return
			}
			if m := msg.GetStop(); m != nil {
				cause := context.Canceled
				if m.GetReason() == driverpb.RunRequest_Stop_REASON_HANDED_BACK {
					cause = orc.ErrHandedBack
				}
				stop(cause)
			}
		}
	}()

	var res *orc.ContainerResult
	if streamer, ok := s.d.(orc.OutputStreamer); ok && start.GetStream() {
		out := &eventWriter{stream: stream}
		res, err = streamer.RunStreaming(ctx, spec, out.to(false), out.to(true))
	} else {
		res, err = s.d.Run(ctx, spec)
	}
	if err != nil {
		return stream.Send(&driverpb.RunEvent{Msg: &driverpb.RunEvent_Error{Error: toError(err)}})
	}
	return stream.Send(&driverpb.RunEvent{Msg: &driverpb.RunEvent_Result{Result: toResult(res)}})
}

// eventWriter sends the output a driver passes on as run events. The
// driver writes from one goroutine at a time; the lock keeps stdout's and
// stderr's sends apart all the same.
type eventWriter struct {
	mu     sync.Mutex
	stream driverpb.Driver_RunServer
	failed bool
}

type eventWriterTo struct {
	w      *eventWriter
	stderr bool
}

func (w *eventWriter) to(stderr bool) *eventWriterTo { return &eventWriterTo{w: w, stderr: stderr} }

// Write sends a copy of p. A send that fails (the worker went away) ends
// the passing on, not the run.
func (t *eventWriterTo) Write(p []byte) (int, error) {
	w := t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return len(p), nil
	}
	chunk := append([]byte(nil), p...)
	ev := &driverpb.RunEvent{Msg: &driverpb.RunEvent_Stdout{Stdout: chunk}}
	if t.stderr {
		ev.Msg = &driverpb.RunEvent_Stderr{Stderr: chunk}
	}
	if err := w.stream.Send(ev); err != nil {
		w.failed = true
	}
	return len(p), nil
}

func (s *server) Fingerprint(ctx context.Context, _ *driverpb.Empty) (*driverpb.FingerprintResponse, error) {
	fp, ok := s.d.(orc.Fingerprinter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "driver does not fingerprint")
	}
	info, err := fp.Fingerprint(ctx)
	resp := &driverpb.FingerprintResponse{}
	if info != nil {
		resp.Name, resp.Version, resp.Healthy, resp.Detail = info.Name, info.Version, info.Healthy, info.Detail
	}
	if err != nil {
		if info == nil {
			return nil, statusError(err)
		}
		resp.Error = toError(err)
	}
	return resp, nil
}

func (s *server) reaper() (orc.Reaper, error) {
	r, ok := s.d.(orc.Reaper)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "driver does not reap")
	}
	return r, nil
}

func (s *server) Reap(ctx context.Context, req *driverpb.ReapRequest) (*driverpb.Empty, error) {
	r, err := s.reaper()
	if err != nil {
		return nil, err
	}
	return &driverpb.Empty{}, statusError(r.Reap(ctx, req.GetInvocationId(), int(req.GetBeforeAttempt())))
}

func (s *server) ReapExpired(ctx context.Context, req *driverpb.ReapExpiredRequest) (*driverpb.Empty, error) {
	r, err := s.reaper()
	if err != nil {
		return nil, err
	}
	return &driverpb.Empty{}, statusError(r.ReapExpired(ctx, time.Unix(0, req.GetNowUnixNano())))
}

func (s *server) ReapExited(ctx context.Context, _ *driverpb.Empty) (*driverpb.Empty, error) {
	r, err := s.reaper()
	if err != nil {
		return nil, err
	}
	return &driverpb.Empty{}, statusError(r.ReapExited(ctx))
}

func (s *server) servers() (orc.Servers, error) {
	sv, ok := s.d.(orc.Servers)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "driver does not keep warm servers")
	}
	return sv, nil
}

func (s *server) StartServer(ctx context.Context, spec *driverpb.ServerSpec) (*driverpb.PluginServer, error) {
	sv, err := s.servers()
	if err != nil {
		return nil, err
	}
	ps, err := sv.StartServer(ctx, fromServerSpec(spec))
	if err != nil {
		return nil, statusError(err)
	}
	return &driverpb.PluginServer{Id: ps.ID, Url: ps.URL, Labels: ps.Labels}, nil
}

func (s *server) StopServer(ctx context.Context, req *driverpb.StopServerRequest) (*driverpb.Empty, error) {
	sv, err := s.servers()
	if err != nil {
		return nil, err
	}
	return &driverpb.Empty{}, statusError(sv.StopServer(ctx, req.GetId()))
}

func (s *server) ListServers(ctx context.Context, _ *driverpb.Empty) (*driverpb.ListServersResponse, error) {
	sv, err := s.servers()
	if err != nil {
		return nil, err
	}
	list, err := sv.ListServers(ctx)
	if err != nil {
		return nil, statusError(err)
	}
	resp := &driverpb.ListServersResponse{Servers: make([]*driverpb.PluginServer, len(list))}
	for i, ps := range list {
		resp.Servers[i] = &driverpb.PluginServer{Id: ps.ID, Url: ps.URL, Labels: ps.Labels}
	}
	return resp, nil
}
