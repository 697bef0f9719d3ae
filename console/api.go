package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc/identity"
)

// apiError is an error answer of the API: its status and the API's error
// shape. Its message is the API's, safe to show.
type apiError struct {
	Status       int
	Code         string
	Message      string
	Details      json.RawMessage
	InvocationID string
	retryAfter   string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// RetryAfter is the answer's Retry-After, "" when it had none.
func (e *apiError) RetryAfter() string { return e.retryAfter }

// violations returns the schema violations of an "invalid" answer by JSON
// pointer, or nil.
func (e *apiError) violations() map[string]string {
	var vs []struct{ Pointer, Message string }
	if len(e.Details) == 0 || json.Unmarshal(e.Details, &vs) != nil || len(vs) == 0 {
		return nil
	}
	out := make(map[string]string, len(vs))
	for _, v := range vs {
		if prev, ok := out[v.Pointer]; ok {
			out[v.Pointer] = prev + "; " + v.Message
		} else {
			out[v.Pointer] = v.Message
		}
	}
	return out
}

// answer is what the API answered to a call made in process.
type answer struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (a *answer) Header() http.Header         { return a.header }
func (a *answer) Write(b []byte) (int, error) { return a.body.Write(b) }
func (a *answer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

// call sends the API the request a page stands for, as the browser that
// asked for the page: with its cookies and its client address. changes
// marks a request that changes something, which the caller has checked
// the form token of; it then carries the API's CSRF header. body, when
// not nil, is sent as JSON (a json.RawMessage as is).
func (c *Console) call(r *http.Request, method, path string, body any, out any) (*answer, error) {
	var rd io.Reader
	if body != nil {
		raw, ok := body.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
			}
		}
		rd = bytes.NewReader(raw)
	}
	return c.send(r, method, path, rd, http.Header{"Content-Type": {"application/json"}}, out)
}

// send is call with a body of any kind and headers of the caller's.
func (c *Console) send(r *http.Request, method, path string, body io.Reader, header http.Header, out any) (*answer, error) {
	// The page's request went through the gateway's router: without its
	// routing context, the API's router routes this request afresh.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, nil)
	req, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	req.TLS = r.TLS
	for _, h := range []string{"Cookie", "X-Forwarded-For", "X-Forwarded-Proto", "User-Agent"} {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set(identity.HeaderCSRF, "console")
	}
	a := &answer{header: http.Header{}}
	c.cfg.API.ServeHTTP(a, req)
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.status >= 300 {
		return a, decodeAPIError(a)
	}
	if out != nil && a.status != http.StatusNoContent {
		if err := json.Unmarshal(a.body.Bytes(), out); err != nil {
			return a, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return a, nil
}

// decodeAPIError reads the API's error shape.
func decodeAPIError(a *answer) *apiError {
	e := &apiError{Status: a.status, InvocationID: a.header.Get("X-Orc-Invocation-Id"), retryAfter: a.header.Get("Retry-After")}
	var shape struct {
		Error struct {
			Code         string          `json:"code"`
			Message      string          `json:"message"`
			Details      json.RawMessage `json:"details"`
			InvocationID string          `json:"invocation_id"`
		} `json:"error"`
	}
	if json.Unmarshal(a.body.Bytes(), &shape) == nil && shape.Error.Code != "" {
		e.Code, e.Message, e.Details = shape.Error.Code, shape.Error.Message, shape.Error.Details
		if shape.Error.InvocationID != "" {
			e.InvocationID = shape.Error.InvocationID
		}
		return e
	}
	e.Code, e.Message = "internal", strings.TrimSpace(http.StatusText(a.status))
	return e
}
