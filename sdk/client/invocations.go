package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/orc-gateway/orc"
)

// InvokeOptions change how Invoke calls a plugin.
type InvokeOptions struct {
	// Version runs this version instead of the plugin's latest.
	Version string
	// Async asks for 202 Accepted at once instead of the output
	// (Prefer: respond-async); follow the invocation with Wait.
	Async bool
	// IdempotencyKey makes a retry with the same key return the first
	// invocation instead of running again.
	IdempotencyKey string
}

// InvokeResult is the gateway's answer to an invocation it accepted.
type InvokeResult struct {
	InvocationID string
	// Version is the plugin version that ran (or will run).
	Version string
	// Status is the HTTP status: 200 with the output, or 202 for an
	// asynchronous call.
	Status int
	// Output is the plugin's output (200 only).
	Output json.RawMessage
	// ServerTiming is the Server-Timing header of a synchronous call:
	// "queue;dur=…, cold;dur=…, run;dur=…" in milliseconds.
	ServerTiming string
	// Invocation is the queued invocation of an asynchronous call (202
	// only).
	Invocation *orc.Invocation
}

// Invoke calls a plugin with input (JSON) through POST /invoke/<plugin>.
// A synchronous call waits for the output; an asynchronous one returns
// once the invocation is queued.
//
// # Errors
//
// An *APIError for every answer but 200 and 202. Its InvocationID is set
// when the invocation was recorded before it failed: "plugin_failed" (502),
// "timeout" (504, also when the synchronous wait ran out while the
// invocation goes on), "canceled" (409). Before that: "invalid" (400, with
// the schema violations in Details), "not_found" (404), "too_large" (413),
// "unavailable" (503).
func (c *Client) Invoke(ctx context.Context, plugin string, input []byte, opts InvokeOptions) (*InvokeResult, error) {
	r := request{method: "POST", path: "/invoke/" + url.PathEscape(plugin), body: input, header: http.Header{}}
	if input == nil {
		r.body = []byte{}
	}
	if opts.Version != "" {
		r.query = url.Values{"version": {opts.Version}}
	}
	if opts.Async {
		r.header.Set("Prefer", "respond-async")
	}
	if opts.IdempotencyKey != "" {
		r.header.Set("Idempotency-Key", opts.IdempotencyKey)
	}
	resp, data, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	res := &InvokeResult{
		InvocationID: resp.Header.Get("X-Orc-Invocation-Id"),
		Version:      resp.Header.Get("X-Orc-Version"),
		Status:       resp.StatusCode,
		ServerTiming: resp.Header.Get("Server-Timing"),
	}
	if resp.StatusCode == http.StatusAccepted {
		var inv orc.Invocation
		if err := json.Unmarshal(data, &inv); err != nil {
			return nil, fmt.Errorf("invoke %s: decode accepted invocation: %w", plugin, err)
		}
		res.Invocation = &inv
		if res.InvocationID == "" {
			res.InvocationID = inv.ID
		}
		return res, nil
	}
	res.Output = json.RawMessage(data)
	return res, nil
}

// Invocation returns an invocation: its status, input, output or error,
// attempts and timing.
//
// # Errors
//
// An *APIError with code "not_found" for an unknown invocation or another
// user's.
func (c *Client) Invocation(ctx context.Context, id string) (*orc.Invocation, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var inv orc.Invocation
	if err := c.call(ctx, request{method: "GET", path: "/api/v1/invocations/" + url.PathEscape(id)}, &inv); err != nil {
		return nil, err
	}
	return &inv, nil
}

// DefaultPoll is Wait's polling interval when it is given none.
const DefaultPoll = 500 * time.Millisecond

// Wait polls an invocation every poll (DefaultPoll when poll is not
// positive) until its status is terminal, and returns it. A failed
// invocation is not an error of Wait: look at its Status and Error, or use
// ResultError.
//
// # Errors
//
// The first error of a poll (an *APIError or a transport failure), or the
// context's error when it ends first; the invocation goes on either way.
func (c *Client) Wait(ctx context.Context, id string, poll time.Duration) (*orc.Invocation, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for invocation %s: %w", id, ctx.Err())
		case <-timer.C:
		}
		inv, err := c.Invocation(ctx, id)
		if err != nil {
			return nil, err
		}
		if inv.Status.Terminal() {
			return inv, nil
		}
		timer.Reset(poll)
	}
}

// ResultError returns nil for a succeeded invocation and otherwise an
// *APIError with its error code and message, as a synchronous call would
// have answered (without the HTTP status). It is meant for the result of
// Wait.
func ResultError(inv *orc.Invocation) error {
	if inv.Status == orc.StatusSucceeded {
		return nil
	}
	e := &APIError{Code: orc.EPLUGIN, Message: "the plugin failed", InvocationID: inv.ID}
	if inv.Error != nil {
		e.Code, e.Message = inv.Error.Code, inv.Error.Message
	}
	switch inv.Status {
	case orc.StatusTimedOut:
		e.Code = orc.ETIMEOUT
	case orc.StatusCanceled:
		e.Code = orc.ECANCELED
		if inv.Error == nil {
			e.Message = "the invocation was canceled"
		}
	case orc.StatusQueued, orc.StatusRunning:
		e.Code, e.Message = orc.ECONFLICT, "the invocation is still "+string(inv.Status)
	}
	return e
}

// Logs returns an invocation's log lines after sequence number after (0 for
// all) and the invocation's status when they were read: once it is
// terminal, no more lines come.
//
// # Errors
//
// An *APIError with code "not_found" for an unknown invocation or another
// user's.
func (c *Client) Logs(ctx context.Context, id string, after int) ([]orc.LogLine, orc.Status, error) {
	if id == "" {
		return nil, "", errEmptyID
	}
	r := request{method: "GET", path: "/api/v1/invocations/" + url.PathEscape(id) + "/logs"}
	if after > 0 {
		r.query = url.Values{"after": {strconv.Itoa(after)}}
	}
	var page struct {
		Status orc.Status    `json:"status"`
		Lines  []orc.LogLine `json:"lines"`
	}
	if err := c.call(ctx, r, &page); err != nil {
		return nil, "", err
	}
	return page.Lines, page.Status, nil
}

// Cancel cancels a queued or running invocation: a queued one never runs,
// a running one has its container killed. It returns the invocation as
// canceled.
//
// # Errors
//
// An *APIError: "conflict" when the invocation already finished,
// "not_found" for an unknown invocation or another user's.
func (c *Client) Cancel(ctx context.Context, id string) (*orc.Invocation, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var inv orc.Invocation
	err := c.call(ctx, request{method: "POST", path: "/api/v1/invocations/" + url.PathEscape(id) + "/cancel"}, &inv)
	if err != nil {
		return nil, err
	}
	return &inv, nil
}
