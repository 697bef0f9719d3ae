package hooks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/orc-gateway/orc"
)

// CodeFailed is the error code of a hook that failed.
const CodeFailed = "hook_failed"

var errClosed = errors.New("hook host is closed")

func quote(name string) string { return strconv.Quote(name) }

// loadError names the hook in an error of Validate or of starting an
// instance; both make the module unusable, so both are EINVALID.
func loadError(name string, err error) error {
	var e *orc.Error
	if errors.As(err, &e) {
		return &orc.Error{Code: orc.EINVALID, Message: "hook " + quote(name) + ": " + e.Message, Err: e.Err}
	}
	return &orc.Error{Code: orc.EINVALID, Message: "hook " + quote(name) + " failed to start: " + err.Error()}
}

func timedOut(name string, timeout time.Duration, while string) error {
	msg := fmt.Sprintf("hook %q timed out after %s", name, timeout)
	if while != "" {
		msg += " " + while
	}
	return &orc.Error{Code: CodeFailed, Message: msg}
}

func canceled(name string, err error) error {
	return &orc.Error{Code: CodeFailed, Message: fmt.Sprintf("hook %q canceled", name), Err: err}
}

func failed(name, reason string, err error) error {
	if err != nil && err.Error() == reason {
		err = nil
	}
	return &orc.Error{Code: CodeFailed, Message: fmt.Sprintf("hook %q failed: %s", name, reason), Err: err}
}

func invalidReply(name string, err error) error {
	return &orc.Error{Code: CodeFailed, Message: fmt.Sprintf("hook %q returned an invalid reply: %s", name, err.Error())}
}

// trapReason names why a guest call or start failed, in a few words that
// are safe to show. A Go guest says why on stderr before it aborts (a Wasm
// unreachable trap) or exits, so its output is read first; then the exit
// code or the Wasm trap.
func trapReason(err error, output string) string {
	switch {
	case strings.Contains(output, "out of memory"):
		return "out of memory"
	case strings.Contains(output, "stack overflow"):
		return "stack overflow"
	case strings.Contains(output, "panic: "):
		return "panic"
	case strings.Contains(output, "fatal error: "):
		return "fatal error"
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Sprintf("exited with code %d", exit.ExitCode())
	}
	// wazero's traps read "wasm error: <kind>\nwasm stack trace: ...".
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "wasm error: "); ok {
		kind, _, _ := strings.Cut(rest, "\n")
		return kind
	}
	kind, _, _ := strings.Cut(msg, "\n")
	return kind
}
