package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Main runs h once under the exec protocol and returns the exit code: it
// reads the input from the last element of args (the arguments after the
// program name) or, when args is empty, from all of stdin; decodes it into
// In; calls h; and writes the output as one JSON line to stdout. Failures
// go to stderr, with the message on the last line, where the worker looks
// for it. Run calls Main with the process's arguments and streams; tests
// call it directly.
func Main[In, Out any](ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer,
	h Handler[In, Out]) int {
	raw, err := readInput(args, stdin)
	if err != nil {
		return fail(stderr, ExitInvalid, "read input: "+err.Error())
	}
	var in In
	if err := json.Unmarshal(raw, &in); err != nil {
		return fail(stderr, ExitInvalid, "decode input: "+err.Error())
	}

	out, err := call(ctx, h, in)
	if err != nil {
		return fail(stderr, exitCode(err), err.Error())
	}

	line, err := encode(out)
	if err != nil {
		return fail(stderr, ExitFailed, "encode output: "+err.Error())
	}
	if _, err := stdout.Write(line); err != nil {
		return fail(stderr, ExitFailed, "write output: "+err.Error())
	}
	return ExitOK
}

// readInput returns the input JSON: the last argument when there is one,
// else all of stdin.
func readInput(args []string, stdin io.Reader) ([]byte, error) {
	var raw []byte
	if len(args) > 0 {
		raw = []byte(args[len(args)-1])
	} else if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		raw = b
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("no input: pass JSON as the last argument or on stdin")
	}
	return raw, nil
}

// call calls h, turning a panic into an error so that the worker gets a
// message rather than a Go traceback's last line.
func call[In, Out any](ctx context.Context, h Handler[In, Out], in In) (out Out, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return h(ctx, in)
}

// encode returns v as one line of JSON. HTML characters are left as they
// are: the output is data, not a web page.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fail writes msg to stderr as the last line and returns code.
func fail(stderr io.Writer, code int, msg string) int {
	msg = strings.TrimRight(msg, "\n")
	fmt.Fprintln(stderr, msg)
	return code
}

// panicError is a handler's panic.
type panicError struct {
	value any
	stack []byte
}

// Error puts the stack first and the panic's value last: the worker shows
// the last line of stderr.
func (e *panicError) Error() string {
	return fmt.Sprintf("%s\npanic: %v", bytes.TrimSpace(e.stack), e.value)
}
