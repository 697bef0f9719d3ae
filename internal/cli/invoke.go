package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orc-gateway/orc/sdk/client"
)

const invokeUsage = `Usage: orc invoke NAME [-d JSON | -d @FILE | -d @-] [--version V] [--async] [--wait] [--json]

Calls a plugin (POST /invoke/NAME) and prints its output JSON on standard
output; the invocation id, the version that ran and the timing go to
standard error. The input is -d: the JSON itself, @FILE for a file's
content, or @- for standard input; without -d it is {}.

The call is synchronous: the gateway answers with the output, or with an
error once the plugin's timeout_s has passed. --async prints the invocation
id as soon as the invocation is queued; --wait (which implies --async) then
polls it until it ends and prints its output, however long it runs (Ctrl-C
stops the waiting, not the invocation).

--json prints one JSON object on standard output instead: the invocation id,
version, output and timing of a synchronous call; the invocation of an
asynchronous one (the final one with --wait); an API error in the API's
shape. A failed call exits with 1 and its message on standard error.
`

// Invoke runs orc invoke with args, the command line after "invoke": it
// calls a plugin and prints its output on stdout and the invocation on
// stderr. stdin is the input of -d @-.
//
// # Errors
//
// ErrUsage for a bad command line or an input that is not JSON, flag.ErrHelp
// for -h; otherwise the failed call, with the API's explanation (with --json
// the API error is also printed on stdout).
func Invoke(ctx context.Context, env Env, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("invoke", invokeUsage, stderr)
	data := fs.String("d", "", "input: JSON, @FILE or @- (standard input); default {}")
	version := fs.String("version", "", "run this version instead of the latest")
	async := fs.Bool("async", false, "do not wait for the output: print the invocation id")
	wait := fs.Bool("wait", false, "queue the invocation, then poll it until it ends (implies --async)")
	poll := fs.Duration("poll", client.DefaultPoll, "how often --wait polls")
	key := fs.String("idempotency-key", "", "a retry with the same key returns the first invocation")
	jsonOut := fs.Bool("json", false, "print one JSON object on standard output")
	urlFlag := fs.String("url", "", "gateway URL (default: ORC_URL or the one orc login saved)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(stderr, "invoke", rest, 1, 1, "plugin NAME"); err != nil {
		return err
	}
	if *poll <= 0 {
		return usageError(stderr, "invoke", "--poll must be positive")
	}
	name := rest[0]
	input, err := invokeInput(*data, stdin)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(input, new(any)); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return usageError(stderr, "invoke", "the input is not JSON: %v (at byte %d)", err, syntax.Offset)
		}
		return usageError(stderr, "invoke", "the input is not JSON: %v", err)
	}
	c, err := apiClient(env, *urlFlag)
	if err != nil {
		return err
	}

	opts := client.InvokeOptions{Version: *version, Async: *async || *wait, IdempotencyKey: *key}
	res, err := c.Invoke(ctx, name, input, opts)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before the gateway answered: %w", ctx.Err())
		}
		if *jsonOut {
			writeErrorJSON(stdout, err)
		}
		return explain(err)
	}
	switch {
	case !opts.Async && *jsonOut:
		return writeJSONLine(stdout, struct {
			InvocationID string          `json:"invocation_id"`
			Version      string          `json:"version"`
			Output       json.RawMessage `json:"output"`
			ServerTiming string          `json:"server_timing,omitempty"`
		}{res.InvocationID, res.Version, res.Output, res.ServerTiming})
	case !opts.Async:
		if err := writeOutput(stdout, res.Output); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "invocation %s (%s %s): %s\n", res.InvocationID, name, res.Version, serverTimingText(res.ServerTiming))
		return nil
	case !*wait && *jsonOut:
		return writeJSONLine(stdout, res.Invocation)
	case !*wait:
		fmt.Fprintln(stdout, res.InvocationID)
		fmt.Fprintf(stderr, "queued %s %s; follow it with: orc logs -f %s\n", name, res.Version, res.InvocationID)
		return nil
	}

	if !*jsonOut {
		fmt.Fprintf(stderr, "invocation %s (%s %s) queued; waiting for it to end\n", res.InvocationID, name, res.Version)
	}
	inv, err := c.Wait(ctx, res.InvocationID, *poll)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting; invocation %s goes on (orc logs -f %s)", res.InvocationID, res.InvocationID)
		}
		return explain(err)
	}
	if *jsonOut {
		if err := writeJSONLine(stdout, inv); err != nil {
			return err
		}
		if err := client.ResultError(inv); err != nil {
			return fmt.Errorf("invocation %s: %w", inv.Status, explain(err))
		}
		return nil
	}
	if err := client.ResultError(inv); err != nil {
		return fmt.Errorf("invocation %s: %w", inv.Status, explain(err))
	}
	if err := writeOutput(stdout, inv.Output); err != nil {
		return err
	}
	start := "warm"
	if inv.ColdStart {
		start = "cold start"
	}
	fmt.Fprintf(stderr, "invocation %s (%s %s) %s, %s: %s\n", inv.ID, inv.Plugin, inv.Version, inv.Status, start, timingText(inv.Timing))
	return nil
}

// invokeInput returns the input -d names: JSON, @FILE, @- (stdin), or {}
// without -d.
func invokeInput(d string, stdin io.Reader) ([]byte, error) {
	switch {
	case d == "":
		return []byte("{}"), nil
	case d == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read the input from standard input: %w", err)
		}
		return b, nil
	case strings.HasPrefix(d, "@"):
		b, err := os.ReadFile(d[1:])
		if err != nil {
			return nil, fmt.Errorf("read the input: %w", err)
		}
		return b, nil
	}
	return []byte(d), nil
}
