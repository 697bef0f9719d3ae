package podman

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"

	"github.com/orc-gateway/orc"
)

// commandError is a podman command that ran and failed; Message is the
// last line it wrote to stderr, Podman's own reason.
type commandError struct {
	Op      string
	Message string
	Err     error // the *exec.ExitError
}

func (e *commandError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("podman %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("podman %s: %s", e.Op, e.Message)
}

func (e *commandError) Unwrap() error { return e.Err }

// cliError returns the error of the podman command op, which failed with
// err after writing stderr. A command that cannot be started at all (no
// such binary, not executable) is orc.EUNAVAILABLE: the worker should back
// off and let another take the task. Anything else, context errors
// included, is wrapped without a code (orc.EINTERNAL).
func cliError(op string, err error, stderr []byte) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return &commandError{Op: op, Message: lastLine(stderr), Err: err}
	}
	err = fmt.Errorf("podman %s: %w", op, err)
	var pathErr *fs.PathError
	if errors.Is(err, exec.ErrNotFound) || errors.As(err, &pathErr) {
		return orc.WrapError(orc.EUNAVAILABLE, err, "podman cannot be run")
	}
	return err
}

// lastLine returns the last non-empty line of p without Podman's "Error: "
// prefix.
func lastLine(p []byte) string {
	lines := strings.Split(strings.TrimSpace(string(p)), "\n")
	return strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "Error: ")
}

// isNotFound reports whether err is Podman's "no such container" error.
func isNotFound(err error) bool { return failedWith(err, "no such container") }

// isMissingImage reports whether err is Podman's "image not known" error.
func isMissingImage(err error) bool {
	return failedWith(err, "image not known") || failedWith(err, "no such image")
}

// failedWith reports whether err is a podman command that failed with a
// message containing s.
func failedWith(err error, s string) bool {
	var ce *commandError
	return errors.As(err, &ce) && strings.Contains(ce.Message, s)
}

// missingImage is the error of a run whose image is not on the host.
func missingImage(image string, err error) error {
	return orc.WrapError(orc.EINVALID, err, fmt.Sprintf("image %q is not on this worker", image))
}
