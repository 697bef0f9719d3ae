package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/orc-gateway/orc"
)

// RegisterPlugin registers a plugin version from its plugin.json
// (POST /api/v1/plugins), creating the plugin when it is the first version,
// and returns the version as stored, with its defaults filled in.
//
// # Errors
//
// An *APIError: "invalid" for a bad plugin.json (an unknown field, a bad
// schema or name), "conflict" when the version exists (versions are
// immutable), "forbidden" for a role that may not register plugins or a
// plugin that belongs to someone else.
func (c *Client) RegisterPlugin(ctx context.Context, manifest json.RawMessage) (*orc.Version, error) {
	var v orc.Version
	if err := c.call(ctx, request{method: "POST", path: "/api/v1/plugins", body: manifest}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Plugin returns a plugin with its latest version.
//
// # Errors
//
// An *APIError with code "not_found" for a plugin that does not exist or
// is not visible to the caller.
func (c *Client) Plugin(ctx context.Context, name string) (*orc.Plugin, error) {
	var p orc.Plugin
	if err := c.call(ctx, request{method: "GET", path: "/api/v1/plugins/" + url.PathEscape(name)}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
