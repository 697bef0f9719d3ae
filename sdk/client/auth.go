package client

import (
	"context"
	"errors"
	"net/url"

	"github.com/orc-gateway/orc"
)

// Login signs in with a local account's e-mail address and password and
// returns a bearer token for New. It sends the seed's form-encoded token
// request (POST /api/v1/auth/token); the client's own token is not used.
//
// # Errors
//
// An *APIError with code "unauthorized" for a wrong e-mail address or
// password, or a disabled account.
func (c *Client) Login(ctx context.Context, email, password string) (string, error) {
	form := url.Values{"username": {email}, "password": {password}}
	anon := *c
	anon.token = ""
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	err := anon.call(ctx, request{
		method: "POST", path: "/api/v1/auth/token",
		body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded",
	}, &tok)
	if err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("sign in: the gateway answered without a token")
	}
	return tok.AccessToken, nil
}

// Account is the signed-in account, as GET /api/v1/auth/me describes it.
type Account struct {
	ID     int64    `json:"id"`
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Role   orc.Role `json:"role"`
	Active bool     `json:"is_active"`
	// AuthMethod is how the token was obtained ("token" for a local
	// account's password).
	AuthMethod string `json:"auth_method"`
}

// Me returns the account the client's token belongs to.
//
// # Errors
//
// An *APIError with code "unauthorized" when the token is unknown or
// expired.
func (c *Client) Me(ctx context.Context) (*Account, error) {
	var a Account
	if err := c.call(ctx, request{method: "GET", path: "/api/v1/auth/me"}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
