package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/orc-gateway/orc"
)

// Single sign-on in the browser and for the command line.
//
// The browser: GET /auth/login redirects to the provider (authorization
// code flow with PKCE, a state and a nonce, and a cookie that binds the
// sign-in to the browser that started it); the provider sends the browser
// to GET /auth/callback, which checks all of them, finds or creates the
// user, sets the session cookie and sends the browser to return_to.
//
// The command line is an OAuth 2.0 native client of the gateway itself
// (RFC 8252): it opens /auth/login?client_id=orc-cli&redirect_uri=<its
// loopback listener>&code_challenge=…&state=…, the same flow runs with the
// provider, and the callback sends the browser on to the loopback address
// with a one-time code, which only the CLI's PKCE verifier exchanges for a
// token at the token endpoint (ExchangeCode). The provider never sees the CLI, and only the
// gateway holds the client secret.

// Cookie names. The session cookie takes the __Host- prefix under TLS,
// which browsers accept only with Secure, Path=/ and no Domain.
const (
	cookieSession       = "orc_session"
	cookieSessionSecure = "__Host-orc_session"
	cookieBinding       = "orc_sso"
	cliClientID         = "orc-cli"
	signInTTL           = 10 * time.Minute
	codeTTL             = time.Minute
	// A client address may start signInStarts single sign-ons at once,
	// then one every signInStartRefill: each start stores a row.
	signInStarts      = 30
	signInStartRefill = 2 * time.Second
)

// sessionCookie returns the session cookie's value, or "".
func sessionCookie(r *http.Request) string {
	for _, name := range []string{cookieSessionSecure, cookieSession} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// secure reports whether cookies get the Secure attribute: under TLS, or
// behind a proxy that serves the public URL over https.
func (s *Service) secure(r *http.Request) bool {
	return r.TLS != nil || (s.publicURL != nil && s.publicURL.Scheme == "https")
}

func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	if name == cookieSession && s.secure(r) {
		name = cookieSessionSecure
	}
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds())}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// ssoEnabled answers ENOTFOUND unless single sign-on is configured.
func (s *Service) ssoEnabled(w http.ResponseWriter, r *http.Request, fail ErrorWriter) bool {
	if s.OIDC == nil || s.SignIns == nil {
		fail(w, r, orc.Errorf(orc.ENOTFOUND, "single sign-on is not configured"))
		return false
	}
	return true
}

// Login is GET /auth/login: it starts a single sign-on (see Callback).
func (s *Service) Login(fail ErrorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.login(w, r, fail) }
}

// Callback is GET /auth/callback, where the provider sends the browser
// back.
func (s *Service) Callback(fail ErrorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.callback(w, r, fail) }
}

// Logout is POST /auth/logout: the session cookie (or the bearer token from
// the token endpoint) stops working, and the cookie is cleared.
func (s *Service) Logout(fail ErrorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.logout(w, r, fail) }
}

// localPath returns p when it is a path on this gateway, else "/": a
// return_to must not send the browser elsewhere. Browsers drop tabs and
// newlines from a URL and read a backslash as a slash, so "/\t/evil" and
// "/\\evil" would be protocol-relative: only a path of printable ASCII
// without backslashes, which parses to no scheme and no host, passes.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return p
}

// loopbackRedirect checks a native client's redirect URI: plain http to a
// loopback address, any port (RFC 8252 section 7.3).
func loopbackRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Port() == "" {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		return true
	}
	return false
}

// s256 is the PKCE S256 challenge of a verifier.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// login starts a single sign-on: it remembers the sign-in and redirects to
// the provider.
func (s *Service) login(w http.ResponseWriter, r *http.Request, fail ErrorWriter) {
	if !s.ssoEnabled(w, r, fail) {
		return
	}
	if d := s.starts.take(s.clientAddr(r), s.Clock.Now()); d > 0 {
		fail(w, r, rateLimited(d, "too many sign-ins started from your address; try again later"))
		return
	}
	q := r.URL.Query()
	in := &orc.SignIn{
		State: newSecret(""), Nonce: newSecret(""), Verifier: oauth2.GenerateVerifier(),
		ReturnTo: localPath(q.Get("return_to")), ExpiresAt: s.Clock.Now().Add(signInTTL),
	}
	if q.Get("client_id") != "" || q.Get("redirect_uri") != "" {
		if q.Get("client_id") != cliClientID || q.Get("response_type") != "code" {
			fail(w, r, orc.Errorf(orc.EINVALID, "client_id must be %s and response_type code", cliClientID))
			return
		}
		if !loopbackRedirect(q.Get("redirect_uri")) {
			fail(w, r, orc.Errorf(orc.EINVALID, "redirect_uri must be http on a loopback address with a port"))
			return
		}
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 {
			fail(w, r, orc.Errorf(orc.EINVALID, "a PKCE code_challenge with code_challenge_method S256 is required"))
			return
		}
		in.CLIRedirect, in.CLIChallenge, in.CLIState = q.Get("redirect_uri"), q.Get("code_challenge"), q.Get("state")
	}
	binding := newSecret("")
	in.BindingHash = hashToken(binding)
	if err := s.SignIns.CreateSignIn(r.Context(), in); err != nil {
		fail(w, r, err)
		return
	}
	s.setCookie(w, r, cookieBinding, binding, "/auth/", signInTTL)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.OIDC.oauth.AuthCodeURL(in.State, oauth2.S256ChallengeOption(in.Verifier),
		oauth2.SetAuthURLParam("nonce", in.Nonce)), http.StatusFound)
}

// callback ends a single sign-on: the provider sends the browser here with
// a code, which is exchanged for the user's tokens.
func (s *Service) callback(w http.ResponseWriter, r *http.Request, fail ErrorWriter) {
	if !s.ssoEnabled(w, r, fail) {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	refused := orc.Errorf(orc.EUNAUTHORIZED, "the sign-in failed or expired; start again")
	if e := q.Get("error"); e != "" {
		s.Logger.InfoContext(ctx, "provider refused sign-in", "error", e)
		fail(w, r, refused)
		return
	}
	state := q.Get("state")
	if state == "" || q.Get("code") == "" {
		fail(w, r, orc.Errorf(orc.EINVALID, "state and code are required"))
		return
	}
	in, err := s.SignIns.TakeSignIn(ctx, state, s.Clock.Now())
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		fail(w, r, refused)
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	s.setCookie(w, r, cookieBinding, "", "/auth/", -1)
	binding, cerr := r.Cookie(cookieBinding)
	if cerr != nil || subtle.ConstantTimeCompare(hashToken(binding.Value), in.BindingHash) != 1 {
		s.Logger.InfoContext(ctx, "sign-in callback from another browser")
		fail(w, r, refused)
		return
	}
	tok, err := s.OIDC.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(in.Verifier))
	if err != nil {
		s.Logger.WarnContext(ctx, "exchange sign-in code", "err", err)
		fail(w, r, refused)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	id, err := s.OIDC.verifyIDToken(ctx, rawID)
	if err != nil || subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(in.Nonce)) != 1 {
		s.Logger.WarnContext(ctx, "ID token refused", "err", err)
		fail(w, r, refused)
		return
	}
	u, err := s.oidcUser(r, id, true)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if in.CLIRedirect != "" {
		s.handOverToCLI(w, r, in, u, fail)
		return
	}
	if err := s.startSession(w, r, u, orc.AuthOIDC, "browser"); err != nil {
		fail(w, r, err)
		return
	}
	http.Redirect(w, r, in.ReturnTo, http.StatusSeeOther)
}

// startSession stores a browser session for a user who just signed in,
// sets its cookie and records the sign-in.
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, u *orc.User, method, via string) error {
	session := newSecret(sessionPrefix)
	err := s.Users.StoreToken(r.Context(), &orc.Token{Hash: hashToken(session), UserID: u.ID, Method: method,
		Session: true, ExpiresAt: s.Clock.Now().Add(s.cfg.SessionTTL)})
	if err != nil {
		return err
	}
	s.setCookie(w, r, cookieSession, session, "/", s.cfg.SessionTTL)
	s.Logger.InfoContext(r.Context(), "signed in", "user_id", u.ID, "method", method, "via", via)
	s.Record(r, &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: method},
		&orc.AuditEvent{Action: orc.AuditSignIn, TargetType: "user", Target: itoa(u.ID)}, map[string]string{"via": via})
	return nil
}

// handOverToCLI sends the browser to the command line client's loopback
// listener with a one-time code.
func (s *Service) handOverToCLI(w http.ResponseWriter, r *http.Request, in *orc.SignIn, u *orc.User, fail ErrorWriter) {
	code := newSecret(codePrefix)
	err := s.SignIns.CreateSignInCode(r.Context(), &orc.SignInCode{Hash: hashToken(code), UserID: u.ID,
		RedirectURI: in.CLIRedirect, Challenge: in.CLIChallenge, ExpiresAt: s.Clock.Now().Add(codeTTL)})
	if err != nil {
		fail(w, r, err)
		return
	}
	target, _ := url.Parse(in.CLIRedirect) // checked at /auth/login
	v := target.Query()
	v.Set("code", code)
	if in.CLIState != "" {
		v.Set("state", in.CLIState)
	}
	target.RawQuery = v.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func (s *Service) logout(w http.ResponseWriter, r *http.Request, fail ErrorWriter) {
	var token string
	if c := sessionCookie(r); c != "" {
		if err := s.CheckCSRF(r); err != nil {
			fail(w, r, err)
			return
		}
		token = c
	} else if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "bearer") && strings.HasPrefix(t, tokenPrefix) {
		token = t
	}
	if token != "" {
		ctx := r.Context()
		p, err := s.Principal(r)
		if err == nil {
			if err := s.Users.DeleteToken(ctx, hashToken(token)); err != nil {
				fail(w, r, err)
				return
			}
			s.principals.Forget(string(hashToken(token)))
			s.Record(r, p, &orc.AuditEvent{Action: orc.AuditSignOut, TargetType: "user", Target: itoa(p.UserID)}, nil)
		}
	}
	s.setCookie(w, r, cookieSession, "", "/", -1)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// oidcUser finds the user a provider's token names, links an existing
// account with the same verified e-mail address, or creates one. Roles
// follow the provider's groups unless an admin pinned them. interactive is
// set for sign-ins (not for bearer tokens), which are recorded.
func (s *Service) oidcUser(r *http.Request, id *claims, interactive bool) (*orc.User, error) {
	ctx := r.Context()
	now := s.Clock.Now()
	role, fromGroups := s.OIDC.roleOf(id.Groups)
	u, err := s.Users.FindUserByOIDC(ctx, id.Issuer, id.Subject)
	switch orc.ErrorCode(err) {
	case "":
	case orc.ENOTFOUND:
		if u, err = s.newOIDCUser(r, id, role); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if u.Disabled {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "account disabled")
	}
	if fromGroups && !u.RolePinned && role != u.Role {
		if role == "" {
			return nil, orc.Errorf(orc.EUNAUTHORIZED, "your groups give you no role in Orc")
		}
		old := u.Role
		if u, err = s.Users.UpdateUser(ctx, u.ID, orc.UserUpdate{Role: &role}); err != nil {
			return nil, err
		}
		s.principals.Clear()
		s.Record(r, &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: orc.AuthOIDC}, &orc.AuditEvent{Action: orc.AuditUserUpdate, TargetType: "user", Target: itoa(u.ID)}, map[string]string{"role": string(role), "from": string(old), "by": "groups"})
	}
	if interactive {
		if err := s.Users.LinkOIDC(ctx, u.ID, id.Issuer, id.Subject, now); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// newOIDCUser creates the account of a provider's user seen for the first
// time, or links the local account with the same e-mail address when the
// provider vouches for that address.
func (s *Service) newOIDCUser(r *http.Request, id *claims, role orc.Role) (*orc.User, error) {
	ctx := r.Context()
	if id.Email == "" {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "the token has no e-mail address; sign in through /auth/login first")
	}
	u, err := s.Users.FindUserByEmail(ctx, id.Email)
	switch orc.ErrorCode(err) {
	case "":
		if !id.EmailVerified || u.OIDCSubject != "" {
			// An unverified address could be anyone's; an account linked
			// to another identity stays with it.
			return nil, orc.Errorf(orc.EUNAUTHORIZED, "an account with this e-mail address exists and cannot be linked")
		}
		if err := s.Users.LinkOIDC(ctx, u.ID, id.Issuer, id.Subject, s.Clock.Now()); err != nil {
			return nil, err
		}
		// The account's role was chosen before; the groups do not change it.
		pinned := true
		if u, err = s.Users.UpdateUser(ctx, u.ID, orc.UserUpdate{RolePinned: &pinned}); err != nil {
			return nil, err
		}
		s.Record(r, &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: orc.AuthOIDC}, &orc.AuditEvent{Action: orc.AuditUserUpdate, TargetType: "user", Target: itoa(u.ID)}, map[string]string{"linked": id.Issuer})
		return u, nil
	case orc.ENOTFOUND:
	default:
		return nil, err
	}
	if role == "" {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "your groups give you no role in Orc")
	}
	u = &orc.User{Email: id.Email, Name: id.Name, Role: role, OIDCIssuer: id.Issuer, OIDCSubject: id.Subject}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		if orc.ErrorCode(err) == orc.ECONFLICT {
			// Created by a concurrent request.
			return s.Users.FindUserByOIDC(ctx, id.Issuer, id.Subject)
		}
		return nil, err
	}
	s.Logger.InfoContext(ctx, "user created by single sign-on", "user_id", u.ID, "role", u.Role)
	s.Record(r, &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: orc.AuthOIDC}, &orc.AuditEvent{Action: orc.AuditUserCreate, TargetType: "user", Target: itoa(u.ID)}, map[string]string{"role": string(u.Role), "by": "sso"})
	return u, nil
}
