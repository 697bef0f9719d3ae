// Package plugin is the Go SDK for Orc plugins. A plugin author writes one
// typed handler and hands it to Run:
//
//	type In struct{ Text string `json:"text"` }
//	type Out struct{ Words int `json:"words"` }
//
//	func count(ctx context.Context, in In) (Out, error) {
//		if in.Text == "" {
//			return Out{}, plugin.Errorf(plugin.CodeInvalid, "text is empty")
//		}
//		return Out{Words: len(strings.Fields(in.Text))}, nil
//	}
//
//	func main() { plugin.Run(count) }
//
// Run speaks Orc's plugin container protocol v1 so that the handler does
// not have to, in the protocol ORC_PROTOCOL selects:
//
//   - exec (the default): the input JSON is the last command-line argument
//     (as the seed's `python main.py '<json>'`), or stdin when there is no
//     argument; the output is one JSON line on stdout; a failure is a
//     message on stderr and a non-zero exit code.
//   - http (warm containers): the process serves GET /healthz and
//     POST /invoke on $ORC_PORT (8080) until it is told to stop; errors are
//     the API's error shape.
//
// The same handler serves both. For a local try without the gateway, run
// the plugin with its input as the argument: `go run . '{"text": "hi"}'`.
package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Handler is a plugin's function: it turns one input into one output.
// Return an *Error (see Errorf) to choose the failure's code and exit code.
type Handler[In, Out any] func(ctx context.Context, in In) (Out, error)

// Exit codes of the exec protocol.
const (
	ExitOK      = 0 // the output is on stdout
	ExitFailed  = 1 // the handler failed; its message is on stderr
	ExitInvalid = 2 // the input could not be read or decoded, or the handler said it is invalid
)

// protocolEnv names the environment variable that selects the protocol.
const protocolEnv = "ORC_PROTOCOL"

// Run runs h under the protocol the worker asked for and exits the process
// with the protocol's exit code. The handler's context ends when the
// process is told to stop (SIGTERM or SIGINT).
func Run[In, Out any](h Handler[In, Out]) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Getenv(protocolEnv), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, h)
	stop()
	os.Exit(code)
}

// run dispatches on the protocol name.
func run[In, Out any](ctx context.Context, protocol string, args []string, stdin io.Reader,
	stdout, stderr io.Writer, h Handler[In, Out]) int {
	switch protocol {
	case "", "exec":
		return Main(ctx, args, stdin, stdout, stderr, h)
	case "http":
		return serveHTTP(ctx, stderr, h)
	default:
		fmt.Fprintf(stderr, "plugin: unknown protocol %q (exec or http)\n", protocol)
		return ExitInvalid
	}
}
