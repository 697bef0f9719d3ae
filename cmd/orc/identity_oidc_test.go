package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/cli"
)

// TestSSOBrowserSignIn signs alice in through the real provider's login
// page and checks the session cookie, its CSRF rule, the user created from
// her groups, logout, and that a callback is good once and only in the
// browser that started it.
func TestSSOBrowserSignIn(t *testing.T) {
	s, p := newIdentityStack(t, nil)
	gw := s.gw.URL()

	// Record the callback's Set-Cookie headers.
	var callbackCookies []*http.Cookie
	c := browser(t)
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && r.URL.Path == "/auth/callback" {
			callbackCookies = resp.Cookies()
		}
		return resp, err
	})
	resp, err := p.SignIn(c, gw+"/auth/login?return_to=/api/v1/auth/me", "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/api/v1/auth/me" {
		t.Fatalf("after sign-in: %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	r := &response{status: resp.StatusCode, body: body}
	var m meForTest
	r.json(t, &m)
	if m.Email != "alice@example.com" || m.Role != orc.RoleDeveloper || m.AuthMethod != orc.AuthOIDC || !m.Session || !m.SSO {
		t.Errorf("me after sign-in = %+v, want alice, developer (orc-devs), oidc, session", m)
	}
	var session *http.Cookie
	for _, ck := range callbackCookies {
		if ck.Name == "orc_session" && ck.Value != "" {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("callback set no session cookie: %v", callbackCookies)
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain http", session)
	}
	if !strings.HasPrefix(session.Value, "orc_s_") {
		t.Errorf("session value %q", session.Value)
	}

	// The session cookie changes things only with the CSRF header or a
	// same-origin Origin.
	cookieReq := func(method, path string, headers ...string) *response {
		return s.do(method, path, map[string]any{"name": "from the browser"},
			append([]string{"Authorization", "", "Cookie", "orc_session=" + session.Value}, headers...)...)
	}
	want(t, "cookie GET", cookieReq("GET", "/api/v1/api-keys"), http.StatusOK, "")
	want(t, "cookie POST without CSRF header", cookieReq("POST", "/api/v1/api-keys"), http.StatusForbidden, orc.EFORBIDDEN)
	want(t, "cookie POST from another origin", cookieReq("POST", "/api/v1/api-keys", "Origin", "https://evil.example"), http.StatusForbidden, orc.EFORBIDDEN)
	want(t, "cookie POST with the CSRF header", cookieReq("POST", "/api/v1/api-keys", "X-Orc-Csrf", "1"), http.StatusCreated, "")
	want(t, "cookie POST from the gateway's origin", cookieReq("POST", "/api/v1/api-keys", "Origin", gw), http.StatusCreated, "")
	want(t, "session value as a bearer token", s.do("GET", "/api/v1/auth/me", nil, bearer(session.Value)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)

	// dave is in no mapped group: a viewer.
	dc := browser(t)
	resp, err = p.SignIn(dc, gw+"/auth/login?return_to=/api/v1/auth/me", "dave", "dave-pw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	r = &response{status: resp.StatusCode, body: body}
	r.json(t, &m)
	if m.Email != "dave@example.com" || m.Role != orc.RoleViewer {
		t.Errorf("dave = %+v, want a viewer", m)
	}

	// A return_to off the gateway is ignored.
	resp, err = p.SignIn(browser(t), gw+"/auth/login?return_to=https://evil.example/", "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Request.URL.String(), gw+"/") {
		t.Errorf("return_to elsewhere went to %s", resp.Request.URL)
	}

	// A callback is good once, and only in the browser that started it.
	stopAtCallback := func(c *http.Client) *http.Client {
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == "/auth/callback" {
				return http.ErrUseLastResponse
			}
			return nil
		}
		return c
	}
	first := stopAtCallback(browser(t))
	resp, err = p.SignIn(first, gw+"/auth/login", "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback, err := resp.Location()
	if err != nil || callback.Path != "/auth/callback" || callback.Query().Get("state") == "" {
		t.Fatalf("provider's redirect: %v %v", callback, err)
	}
	other := browser(t)
	resp, err = other.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("callback in another browser: %d, want 401", resp.StatusCode)
	}
	// The state was spent by that attempt: the right browser is refused too.
	resp, err = first.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed callback: %d, want 401", resp.StatusCode)
	}
	resp, err = first.Get(gw + "/auth/callback?state=made-up&code=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown state: %d, want 401", resp.StatusCode)
	}

	// Logout needs the CSRF header too, then the session is gone.
	want(t, "logout without CSRF", s.do("POST", "/auth/logout", nil, "Authorization", "", "Cookie", "orc_session="+session.Value),
		http.StatusForbidden, orc.EFORBIDDEN)
	out := s.do("POST", "/auth/logout", nil, "Authorization", "", "Cookie", "orc_session="+session.Value, "X-Orc-Csrf", "1")
	want(t, "logout", out, http.StatusNoContent, "")
	if sc := out.header.Get("Set-Cookie"); !strings.Contains(sc, "orc_session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("logout Set-Cookie = %q, want the cookie cleared", sc)
	}
	want(t, "cookie after logout", s.do("GET", "/api/v1/auth/me", nil, "Authorization", "", "Cookie", "orc_session="+session.Value),
		http.StatusUnauthorized, orc.EUNAUTHORIZED)

	// The sign-ins and the users they created are in the audit log.
	var page struct {
		Items []orc.AuditEvent `json:"items"`
	}
	s.do("GET", "/api/v1/audit?actor_id="+itoa(s.userID("alice@example.com")), nil).json(t, &page)
	got := map[string]int{}
	for _, e := range page.Items {
		got[e.Action+"/"+e.Method]++
	}
	if got["auth.sign_in/oidc"] < 2 || got["user.create/oidc"] != 1 || got["auth.sign_out/oidc"] != 1 || got["api_key.create/oidc"] != 2 {
		t.Errorf("alice's audit events: %v", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func itoa(n int64) string { return idPath("", n) }

// TestSSOCommandLine runs `orc login --sso` and drives the browser part
// with an HTTP client, as a person would with the printed URL.
func TestSSOCommandLine(t *testing.T) {
	s, p := newIdentityStack(t, nil)
	path := cliEnv(t)

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var stdout strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		done <- cli.Login(ctx, authorEnv(), []string{"--sso", "--url", s.gw.URL(), "--json"}, strings.NewReader(""), &stdout, pw)
		pw.Close()
	}()
	var signInURL string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http") {
			signInURL = line
			break
		}
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	u, err := url.Parse(signInURL)
	if err != nil || u.Path != "/auth/login" || u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("client_id") != "orc-cli" {
		t.Fatalf("printed URL %q", signInURL)
	}
	resp, err := p.SignIn(browser(t), signInURL, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Signed in") {
		t.Errorf("loopback page: %d %s", resp.StatusCode, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("orc login --sso: %v", err)
	}
	if !strings.Contains(stdout.String(), `"email":"bob@example.com"`) || !strings.Contains(stdout.String(), `"role":"invoker"`) {
		t.Errorf("stdout = %s", stdout.String())
	}
	// The config file at ORC_CONFIG, in the shape docs/cli.md gives it.
	var saved struct {
		URL   string `json:"url"`
		Token string `json:"token"`
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil || !strings.HasPrefix(saved.Token, "orc_t_") {
		t.Fatalf("saved %+v at %s: %v", saved, path, err)
	}
	if r, m := s.me(saved.Token); r.status != http.StatusOK || m.AuthMethod != orc.AuthOIDC || m.Email != "bob@example.com" {
		t.Errorf("saved token: %d %+v", r.status, m)
	}
}

// TestSSOCodeExchange checks the command line grant's rules directly: a
// loopback redirect and S256 are required, the code is good once and only
// with the verifier whose challenge started the sign-in.
func TestSSOCodeExchange(t *testing.T) {
	s, p := newIdentityStack(t, nil)
	gw := s.gw.URL()
	const redirect = "http://127.0.0.1:9/cb"
	challenge := func(v string) string {
		h := sha256.Sum256([]byte(v))
		return base64.RawURLEncoding.EncodeToString(h[:])
	}
	verifier := strings.Repeat("v", 50)
	start := func(redirectURI, method string) string {
		return gw + "/auth/login?" + url.Values{"client_id": {"orc-cli"}, "response_type": {"code"}, "redirect_uri": {redirectURI},
			"state": {"cli-state"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {method}}.Encode()
	}
	for _, bad := range []string{start("https://evil.example/cb", "S256"), start("http://127.0.0.1/cb", "S256"), start(redirect, "plain")} {
		resp, err := http.Get(bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
	code := func() string {
		c := browser(t)
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp, err := p.SignIn(c, start(redirect, "S256"), "bob", "bob-pw")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || loc.Query().Get("state") != "cli-state" || !strings.HasPrefix(loc.Query().Get("code"), "orc_c_") {
			t.Fatalf("redirect to the CLI: %v %v", loc, err)
		}
		return loc.Query().Get("code")
	}
	exchange := func(code, verifier, redirectURI string) *response {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
			"redirect_uri": {redirectURI}, "client_id": {"orc-cli"}}
		return s.do("POST", "/api/v1/auth/token", form.Encode(), "Authorization", "", "Content-Type", "application/x-www-form-urlencoded")
	}
	c1 := code()
	want(t, "wrong verifier", exchange(c1, strings.Repeat("w", 50), redirect), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	want(t, "the code after a wrong verifier", exchange(c1, verifier, redirect), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	c2 := code()
	want(t, "other redirect_uri", exchange(c2, verifier, "http://127.0.0.1:10/cb"), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	c3 := code()
	ok := exchange(c3, verifier, redirect)
	want(t, "exchange", ok, http.StatusOK, "")
	want(t, "replayed code", exchange(c3, verifier, redirect), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	ok.json(t, &tok)
	if r, m := s.me(tok.AccessToken); r.status != http.StatusOK || m.Email != "bob@example.com" || m.AuthMethod != orc.AuthOIDC {
		t.Errorf("exchanged token: %d %+v", r.status, m)
	}
}

// TestBearerTokens uses the provider's own tokens as bearer tokens, then
// tries every way a token can be wrong: each is refused with 401.
func TestBearerTokens(t *testing.T) {
	s, p := newIdentityStack(t, nil)
	ctx := context.Background()
	tok, err := p.Tokens(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("provider tokens: %v", err)
	}
	if r, m := s.me(tok.AccessToken); r.status != http.StatusOK || m.Email != "alice@example.com" || m.Role != orc.RoleDeveloper || m.AuthMethod != orc.AuthOIDC {
		t.Fatalf("provider access token: %d %s %+v", r.status, r.body, m)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if r, _ := s.me(idToken); r.status != http.StatusOK {
		t.Errorf("provider ID token: %d %s", r.status, r.body)
	}
	alice := ssoAlice
	alice.Subject = subjectOf(t, tok.AccessToken)

	kid, key := p.SigningKey()
	good := goodClaims(p, alice)
	if r, _ := s.me(sign(t, jose.RS256, key, kid, good)); r.status != http.StatusOK {
		t.Fatalf("a token minted with the provider's key: %d %s", r.status, r.body)
	}
	now := time.Now()
	other := newRSAKey(t)
	fetches := p.KeyFetches()
	cases := []struct {
		name  string
		token string
	}{
		{"alg none", unsigned(kid, good)},
		{"HS256 with the public key as secret", sign(t, jose.HS256, publicKeyPEM(t, key), kid, good)},
		{"wrong audience", sign(t, jose.RS256, key, kid, good.with("aud", []string{"someone-else"}))},
		{"wrong issuer", sign(t, jose.RS256, key, kid, good.with("iss", "https://evil.example"))},
		{"expired", sign(t, jose.RS256, key, kid, good.with("exp", now.Add(-2*time.Minute).Unix(), "iat", now.Add(-time.Hour).Unix(), "nbf", now.Add(-time.Hour).Unix()))},
		{"no expiry", sign(t, jose.RS256, key, kid, good.with("exp", nil))},
		{"not yet valid", sign(t, jose.RS256, key, kid, good.with("nbf", now.Add(10*time.Minute).Unix()))},
		{"issued in the future", sign(t, jose.RS256, key, kid, good.with("iat", now.Add(10*time.Minute).Unix()))},
		{"bad signature", sign(t, jose.RS256, other, kid, good)},
		{"tampered payload", tamper(t, sign(t, jose.RS256, key, kid, good))},
		{"unknown key id", sign(t, jose.RS256, other, "made-up-kid", good)},
		{"RS512 (not allowed)", sign(t, jose.RS512, key, kid, good)},
		{"not a JWT", "a.b.c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want(t, c.name, s.do("GET", "/api/v1/auth/me", nil, bearer(c.token)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
		})
	}
	// Unknown key ids again and again: the keys are not fetched for each.
	for i := 0; i < 10; i++ {
		want(t, "unknown key id", s.do("GET", "/api/v1/auth/me", nil, bearer(sign(t, jose.RS256, other, "kid-"+itoa(int64(i)), good))...),
			http.StatusUnauthorized, orc.EUNAUTHORIZED)
	}
	if n := p.KeyFetches() - fetches; n > 1 {
		t.Errorf("%d JWKS fetches for unknown key ids within the refresh interval, want at most 1", n)
	}

	// A disabled user's provider token is refused at once.
	id := s.userID("alice@example.com")
	want(t, "disable alice", s.do("PATCH", idPath("/api/v1/users/", id), map[string]any{"disabled": true}), http.StatusOK, "")
	want(t, "disabled user's token", s.do("GET", "/api/v1/auth/me", nil, bearer(tok.AccessToken)...), http.StatusUnauthorized, orc.EUNAUTHORIZED)
	resp, err := p.SignIn(browser(t), s.gw.URL()+"/auth/login", "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user's sign-in: %d, want 401", resp.StatusCode)
	}
}

// subjectOf reads a JWT's sub claim without checking it.
func subjectOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	(&response{body: payload}).json(t, &c)
	return c.Sub
}

// tamper changes a signed token's payload, keeping its signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"alice@example.com"`, `"mallory@example.com"`, 1))
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// TestJWKSRotation rotates the provider's key: the first token with the new
// key id makes the gateway fetch the keys, and tokens with unknown key ids
// make it fetch at most once per refresh interval.
func TestJWKSRotation(t *testing.T) {
	const interval = time.Second
	s, p := newIdentityStack(t, func(c *Config) { c.Identity.OIDCJWKSRefresh = interval })
	ctx := context.Background()
	tok, err := p.Tokens(ctx, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s.me(tok.AccessToken); r.status != http.StatusOK {
		t.Fatalf("first token: %d %s", r.status, r.body)
	}
	if n := p.KeyFetches(); n != 1 {
		t.Errorf("%d key fetches after the first token, want 1", n)
	}
	time.Sleep(interval + 100*time.Millisecond)
	p.Rotate()
	tok2, err := p.Tokens(ctx, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s.me(tok2.AccessToken); r.status != http.StatusOK {
		t.Fatalf("token signed with the rotated key: %d %s", r.status, r.body)
	}
	if r, _ := s.me(tok.AccessToken); r.status != http.StatusOK {
		t.Errorf("token of the old key (still published): %d", r.status)
	}
	if n := p.KeyFetches(); n != 2 {
		t.Errorf("%d key fetches after the rotation, want 2", n)
	}
	bob := ssoBob
	bob.Subject = subjectOf(t, tok.AccessToken)
	other := newRSAKey(t)
	for round := 0; round < 2; round++ {
		before := p.KeyFetches()
		for i := 0; i < 10; i++ {
			r := s.do("GET", "/api/v1/auth/me", nil, bearer(sign(t, jose.RS256, other, "unknown-"+itoa(int64(round*10+i)), goodClaims(p, bob)))...)
			want(t, "unknown key id", r, http.StatusUnauthorized, orc.EUNAUTHORIZED)
		}
		if n := p.KeyFetches() - before; n > 1 {
			t.Errorf("round %d: %d key fetches for 10 unknown key ids, want at most 1", round, n)
		}
		time.Sleep(interval + 100*time.Millisecond)
	}
	if n := p.KeyFetches(); n < 3 {
		t.Errorf("%d key fetches: an unknown key id after the interval should fetch again", n)
	}
}
