package plugin

import (
	"errors"
	"fmt"
)

// Error codes a plugin may give its failures. They are Orc's own codes
// (orc.EINVALID, orc.EPLUGIN).
const (
	// CodeInvalid says the input is wrong: the caller, not the plugin, must
	// change something. Under the exec protocol it exits with ExitInvalid.
	CodeInvalid = "invalid"
	// CodeFailed is any other failure of the plugin. It is the code of
	// errors that are not an *Error.
	CodeFailed = "plugin_failed"
)

// Error is a plugin failure with a code. The http protocol will send the
// code in its error reply; the exec protocol has only the exit code and
// stderr, so there the code picks the exit code unless ExitCode is set.
type Error struct {
	Code    string
	Message string
	// ExitCode, when not zero, is the exec protocol's exit code (1-255).
	ExitCode int
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// exitCode returns the exec protocol's exit code for a handler's error.
func exitCode(err error) int {
	var e *Error
	if !errors.As(err, &e) {
		return ExitFailed
	}
	switch {
	case e.ExitCode > 0 && e.ExitCode < 256:
		return e.ExitCode
	case e.Code == CodeInvalid:
		return ExitInvalid
	}
	return ExitFailed
}
