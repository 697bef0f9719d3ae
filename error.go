package orc

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. The gateway maps each to one HTTP status; nothing else does.
const (
	EINVALID      = "invalid"       // the request is malformed or breaks a schema
	ENOTFOUND     = "not_found"     // the thing does not exist or is not visible
	ECONFLICT     = "conflict"      // the thing exists or is in the wrong state
	EUNAUTHORIZED = "unauthorized"  // no valid credentials
	EFORBIDDEN    = "forbidden"     // credentials valid, permission missing
	ETOOLARGE     = "too_large"     // the body is over the limit
	ERATELIMIT    = "rate_limited"  // too many requests
	EUNAVAILABLE  = "unavailable"   // the broker or database cannot be reached
	EPLUGIN       = "plugin_failed" // the plugin ran and failed
	ETIMEOUT      = "timeout"       // the plugin or the wait ran out of time
	EEXPIRED      = "expired"       // the invocation waited in its queue too long
	ECANCELED     = "canceled"      // the invocation was canceled
	EDENIED       = "denied"        // a hook refused the invocation (its Status says how)
	EHOOK         = "hook_failed"   // a hook trapped, timed out or answered nonsense
	EINTERNAL     = "internal"      // a bug or an unexpected failure
)

// Error is Orc's error: a code from the list above, a message that is safe to
// show to the client, optional structured details, and the underlying error
// (never shown to clients, but logged).
type Error struct {
	Code    string
	Message string
	Details any
	Err     error
	// Status, when not zero, is the HTTP status a hook chose for its denial
	// (EDENIED); every other code has a fixed status.
	Status int
	// RetryAfter, when not zero, is when a client refused with ERATELIMIT
	// may try again.
	RetryAfter time.Duration
}

// Error returns the message, with the underlying error when there is one.
func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return e.Message + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message around err.
func WrapError(code string, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Problem is one thing wrong with a request, at a JSON pointer into it. An
// EINVALID error lists its problems as its Details, and so does an
// EFORBIDDEN one that a policy refused.
type Problem struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
	// Rule names the rule of the installation's policy that the request
	// broke (e.g. "roles.developer.cpu"), when it was a policy's.
	Rule string `json:"rule,omitempty"`
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, or a generic message for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}

// ErrorDetails returns the details of the first *Error in err's chain.
func ErrorDetails(err error) any {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

// ErrorStatus returns the hook-chosen status of the first *Error in err's
// chain, or 0.
func ErrorStatus(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// ErrorRetryAfter returns when a request refused with err may be tried
// again, from the first *Error in err's chain, or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
