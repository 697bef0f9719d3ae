// Package oidcprovider runs a real OpenID provider in the test process —
// zitadel/oidc's spec-complete op (discovery, JWKS, the authorization code
// flow with PKCE, JWT access tokens) — with a tiny user store and login
// form, for the gateway's single sign-on and bearer token tests. Its
// signing keys can be rotated and read, so that tests can mint tokens that
// are wrong in one way each.
package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"

	"github.com/orc-gateway/orc/internal/testenv"
)

// User is an account at the provider.
type User struct {
	Subject       string
	Username      string
	Password      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is the provider's issuer URL (http on loopback).
	Issuer       string
	ClientID     string
	ClientSecret string

	st         *storage
	keyFetches atomic.Int64
}

// Start runs a provider until the test ends. Its one client (ClientID,
// ClientSecret) may redirect to /auth/callback and /cb on any loopback port.
func Start(t testing.TB, users ...User) *Provider {
	t.Helper()
	testenv.Integration(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidc provider: listen: %v", err)
	}
	issuer := "http://" + ln.Addr().String()
	p := &Provider{Issuer: issuer, ClientID: "orc-gateway", ClientSecret: randomHex(16)}
	p.st = &storage{
		users:    map[string]*User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		tokens:   map[string]*token{},
		keys:     []*signingKey{newSigningKey()},
		tokenTTL: 5 * time.Minute,
		client: &client{id: p.ClientID, secret: p.ClientSecret, loginURL: issuer + "/login",
			globs: []string{"http://127.0.0.1:*/auth/callback", "http://127.0.0.1:*/cb"}},
	}
	for _, u := range users {
		p.AddUser(u)
	}
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:]) //nolint:errcheck // crypto/rand.Read never fails
	provider, err := op.NewProvider(&op.Config{CryptoKey: cryptoKey, CodeMethodS256: true},
		p.st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatalf("oidc provider: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", p.login)
	// Browsers ask every origin for an icon; no answer is an error in
	// their console.
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	var handler http.Handler = provider
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			p.keyFetches.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// AddUser adds an account; an empty Subject gets a random one.
func (p *Provider) AddUser(u User) User {
	if u.Subject == "" {
		u.Subject = randomHex(8)
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.users[u.Username] = &u
	return u
}

// Rotate adds a new signing key, which signs from now on; the old keys stay
// published.
func (p *Provider) Rotate() {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.keys = append(p.st.keys, newSigningKey())
}

// SigningKey returns the key that signs now, and its key id.
func (p *Provider) SigningKey() (string, *rsa.PrivateKey) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	k := p.st.keys[len(p.st.keys)-1]
	return k.id, k.key
}

// KeyFetches returns how many times the JWKS was fetched.
func (p *Provider) KeyFetches() int { return int(p.keyFetches.Load()) }

// login is the provider's login page: a form, and its check.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		id := r.URL.Query().Get("authRequestID")
		// A page a real browser can fill in (the console's SSO test).
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Sign in</title><form method="post" action="/login"><input type="hidden" name="id" value="%s">
<input name="username"><input name="password" type="password"><button>Sign in</button></form>`, html.EscapeString(id))
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("id")
	p.st.mu.Lock()
	u := p.st.users[r.PostForm.Get("username")]
	req := p.st.requests[id]
	ok := u != nil && req != nil && u.Password == r.PostForm.Get("password")
	if ok {
		req.userID, req.done, req.authTime = u.Subject, true, time.Now()
	}
	p.st.mu.Unlock()
	if !ok {
		http.Error(w, "wrong username or password", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, p.Issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
}

// SignIn drives a browser through a sign-in: it opens start (a URL that
// redirects to the provider, such as the gateway's /auth/login), fills in
// the login form, and follows the redirects that come after it. It returns
// the last response; with a client whose CheckRedirect stops early, the
// redirect it stopped at.
func (p *Provider) SignIn(c *http.Client, start, username, password string) (*http.Response, error) {
	resp, err := c.Get(start)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), p.Issuer+"/login") {
		return resp, fmt.Errorf("sign-in did not reach the provider's login page: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	return c.PostForm(p.Issuer+"/login", url.Values{"id": {id}, "username": {username}, "password": {password}})
}

// Tokens signs a user in as the gateway's client would, by the
// authorization code flow with PKCE, and returns the provider's tokens:
// the JWT access token and the ID token (Extra("id_token")).
func (p *Provider) Tokens(ctx context.Context, username, password string) (*oauth2.Token, error) {
	conf := oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: p.Issuer + "/authorize", TokenURL: p.Issuer + "/oauth/token"},
		RedirectURL: "http://127.0.0.1:1/cb", Scopes: []string{"openid", "email", "profile"}}
	verifier := oauth2.GenerateVerifier()
	start := conf.AuthCodeURL("state-"+randomHex(4), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", randomHex(8)))
	c := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), conf.RedirectURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := p.SignIn(c, start, username, password)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("no redirect after login (status %d): %w", resp.StatusCode, err)
	}
	code := loc.Query().Get("code")
	if code == "" {
		return nil, errors.New("no code in the redirect: " + loc.String())
	}
	return conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
}
