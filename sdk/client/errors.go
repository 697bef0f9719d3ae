package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// APIError is an error answer of the gateway: its HTTP status and the API's
// error shape, {"error": {"code", "message", "details", "invocation_id"}}.
type APIError struct {
	// Status is the HTTP status, such as 409.
	Status int
	// Code is Orc's error code, such as "conflict" or "plugin_failed"
	// (docs/api.md lists them). It is empty when the answer was not in the
	// API's shape (a proxy's error page).
	Code string
	// Message is the gateway's message, safe to show to people.
	Message string
	// Details is the error's structured details as the API sent them, such
	// as the schema violations of an invalid input; nil when there are none.
	Details json.RawMessage
	// InvocationID is the invocation the error is about, when one was
	// recorded (a plugin that failed, a sync call that timed out).
	InvocationID string
}

var _ error = (*APIError)(nil)

// Error returns "code: message", or the HTTP status when there is no code.
func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	}
	return e.Code + ": " + e.Message
}

// Violation is one detail of an "invalid" error: where in the input a rule
// was broken (a JSON pointer) and what the rule said.
type Violation struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Violations decodes Details when they are a list of violations, as they
// are for input that breaks a plugin's schema; otherwise it returns nil.
func (e *APIError) Violations() []Violation {
	if len(e.Details) == 0 {
		return nil
	}
	var vs []Violation
	if err := json.Unmarshal(e.Details, &vs); err != nil {
		return nil
	}
	return vs
}

// maxErrorText bounds the text of an answer that is not in the API's shape.
const maxErrorText = 512

// apiError makes the *APIError of a non-2xx response.
func apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode, InvocationID: resp.Header.Get("X-Orc-Invocation-Id")}
	var shape struct {
		Error struct {
			Code         string          `json:"code"`
			Message      string          `json:"message"`
			Details      json.RawMessage `json:"details"`
			InvocationID string          `json:"invocation_id"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil && shape.Error.Code != "" {
		e.Code, e.Message = shape.Error.Code, shape.Error.Message
		if d := shape.Error.Details; len(d) > 0 && string(d) != "null" {
			e.Details = d
		}
		if shape.Error.InvocationID != "" {
			e.InvocationID = shape.Error.InvocationID
		}
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > maxErrorText {
		text = text[:maxErrorText] + "…"
	}
	if text == "" {
		text = "no body"
	}
	e.Message = text
	return e
}
