package plugin

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/plugin/driverpb"
)

func toResources(r orc.Resources) *driverpb.Resources {
	return &driverpb.Resources{Cpu: r.CPU, MemoryMb: r.MemoryMB, Gpu: int64(r.GPU), Pids: r.Pids, Custom: r.Custom}
}

func fromResources(r *driverpb.Resources) orc.Resources {
	if r == nil {
		return orc.Resources{}
	}
	return orc.Resources{CPU: r.Cpu, MemoryMB: r.MemoryMb, GPU: int(r.Gpu), Pids: r.Pids, Custom: r.Custom}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func toSpec(s *orc.ContainerSpec) *driverpb.ContainerSpec {
	return &driverpb.ContainerSpec{
		InvocationId: s.InvocationID, Attempt: int64(s.Attempt), Image: s.Image, Args: s.Args,
		Stdin: s.Stdin, Env: s.Env, Resources: toResources(s.Resources), Network: string(s.Network),
		DeadlineUnixNano: unixNano(s.Deadline), Labels: s.Labels,
	}
}

func fromSpec(s *driverpb.ContainerSpec) *orc.ContainerSpec {
	return &orc.ContainerSpec{
		InvocationID: s.GetInvocationId(), Attempt: int(s.GetAttempt()), Image: s.GetImage(), Args: s.GetArgs(),
		Stdin: s.GetStdin(), Env: s.GetEnv(), Resources: fromResources(s.GetResources()),
		Network: orc.Network(s.GetNetwork()), Deadline: fromUnixNano(s.GetDeadlineUnixNano()), Labels: s.GetLabels(),
	}
}

func toResult(r *orc.ContainerResult) *driverpb.ContainerResult {
	return &driverpb.ContainerResult{
		Warm: r.Warm, Node: r.Node, ExitCode: int64(r.ExitCode), OomKilled: r.OOMKilled,
		TimedOut: r.TimedOut, Canceled: r.Canceled, Stdout: r.Stdout, Stderr: r.Stderr,
		StdoutTruncated: r.StdoutTruncated, StderrTruncated: r.StderrTruncated,
		ColdNanos: int64(r.Cold), RunNanos: int64(r.Run),
	}
}

func fromResult(r *driverpb.ContainerResult) *orc.ContainerResult {
	return &orc.ContainerResult{
		Warm: r.GetWarm(), Node: r.GetNode(), ExitCode: int(r.GetExitCode()), OOMKilled: r.GetOomKilled(),
		TimedOut: r.GetTimedOut(), Canceled: r.GetCanceled(), Stdout: r.GetStdout(), Stderr: r.GetStderr(),
		StdoutTruncated: r.GetStdoutTruncated(), StderrTruncated: r.GetStderrTruncated(),
		Cold: time.Duration(r.GetColdNanos()), Run: time.Duration(r.GetRunNanos()),
	}
}

func toServerSpec(s *orc.ServerSpec) *driverpb.ServerSpec {
	return &driverpb.ServerSpec{Key: s.Key, Image: s.Image, Env: s.Env, Resources: toResources(s.Resources),
		Network: string(s.Network), Labels: s.Labels}
}

func fromServerSpec(s *driverpb.ServerSpec) *orc.ServerSpec {
	return &orc.ServerSpec{Key: s.GetKey(), Image: s.GetImage(), Env: s.GetEnv(), Resources: fromResources(s.GetResources()),
		Network: orc.Network(s.GetNetwork()), Labels: s.GetLabels()}
}

// toError is a driver's error as it crosses the boundary: its Orc code
// and client-safe message, when it has them, and its whole text.
func toError(err error) *driverpb.Error {
	e := &driverpb.Error{Text: err.Error()}
	var oe *orc.Error
	if errors.As(err, &oe) {
		e.Code, e.Message = oe.Code, oe.Message
	}
	return e
}

// fromError is the error a driver sent: an *orc.Error with the same code
// and message when it had them, wrapping the rest of its text.
func fromError(e *driverpb.Error) error {
	text := e.GetText()
	if e.GetCode() == "" {
		return errors.New(text)
	}
	msg := e.GetMessage()
	var inner error
	if rest, ok := strings.CutPrefix(text, msg+": "); ok && msg != "" {
		inner = errors.New(rest)
	} else if text != msg {
		inner = errors.New(text)
	}
	return &orc.Error{Code: e.GetCode(), Message: msg, Err: inner}
}

// statusError is a driver's error as a gRPC status, the driverpb.Error in
// its details.
func statusError(err error) error {
	if err == nil {
		return nil
	}
	st, derr := status.New(codes.Unknown, err.Error()).WithDetails(toError(err))
	if derr != nil {
		return status.Error(codes.Unknown, err.Error())
	}
	return st.Err()
}

// callError is the error of a call to a driver: the driver's own error
// when it sent one, orc.EUNAVAILABLE when the driver process could not be
// reached (it exited, or is being started again).
func callError(op string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if e, ok := d.(*driverpb.Error); ok {
			return fromError(e)
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled:
		return orc.WrapError(orc.EUNAVAILABLE, err, "the driver process does not answer")
	case codes.Unimplemented:
		return orc.WrapError(orc.EINVALID, err, "the driver cannot "+op)
	}
	return err
}
