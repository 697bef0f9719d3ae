// Package client is a Go client of Orc's REST API: sign in, register plugin
// versions, invoke plugins synchronously or asynchronously, follow
// invocations and read their logs.
//
//	c, err := client.New("http://localhost:5900", token)
//	if err != nil { ... }
//	res, err := c.Invoke(ctx, "example-processor", []byte(`{"data": [1, 2], "operation": "sum"}`), client.InvokeOptions{})
//	if err != nil { ... }           // an *APIError when the gateway answered with one
//	fmt.Println(string(res.Output)) // {"result":3,...}
//
// The types it returns are Orc's domain types (orc.Version, orc.Invocation,
// orc.LogLine), as the API encodes them.
//
// # Errors
//
// Every non-2xx answer is an *APIError with the API's error code, message,
// details and, for calls about an invocation, its id. Transport failures
// (connection refused, a canceled context) are returned wrapped, as
// net/http gives them.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to one Orc gateway with one bearer token. It is safe for
// concurrent use; it is immutable once made.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	userAgent string
}

// Option configures a Client made by New.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc instead of
// http.DefaultClient. A timeout on hc bounds synchronous invocations too;
// prefer deadlines on the contexts.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the gateway at baseURL (such as
// http://localhost:5900) that authenticates with token. The token may be
// empty for Login and the health endpoints.
//
// # Errors
//
// New fails when baseURL is not an absolute http or https URL.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("gateway url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway url %q: want http://host[:port] or https://host[:port]", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, token: token, http: http.DefaultClient, userAgent: "orc-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the gateway's URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// InvokeURL returns the endpoint of a plugin: BaseURL()/invoke/<plugin>.
func (c *Client) InvokeURL(plugin string) string {
	return c.BaseURL() + "/invoke/" + url.PathEscape(plugin)
}

// request is one API call.
type request struct {
	method      string
	path        string // already escaped
	query       url.Values
	body        []byte
	contentType string
	header      http.Header
}

// send sends r and returns the response with its body read. A non-2xx
// status is an *APIError.
func (c *Client) send(ctx context.Context, r request) (*http.Response, []byte, error) {
	target := c.BaseURL() + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read response: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, data, apiError(resp, data)
	}
	return resp, data, nil
}

// call sends r and decodes a JSON answer into out (unless out is nil).
func (c *Client) call(ctx context.Context, r request, out any) error {
	_, data, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// errEmptyID is returned for calls about an invocation without its id.
var errEmptyID = errors.New("empty invocation id")
