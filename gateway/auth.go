package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/password"
)

// Credential formats. Each kind is told apart by its shape, without a
// database look-up: Orc's tokens and keys by their prefixes, an OpenID
// provider's tokens by being JWTs (three base64url parts).
const (
	tokenPrefix   = "orc_t_" // a token from /api/v1/auth/token
	sessionPrefix = "orc_s_" // a browser session (the cookie's value)
	keyPrefix     = "orc_k_" // an API key: orc_k_<prefix>_<secret>
	codePrefix    = "orc_c_" // a one-time code of a command line sign-in
)

// headerCSRF is the header that a request authenticated by the session
// cookie must carry (any value) to change anything, unless its Origin is the
// gateway's own. Browsers send custom headers cross-site only after a CORS
// preflight, which the gateway never grants.
const headerCSRF = "X-Orc-Csrf"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// hashToken returns the hash under which a token is stored.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newSecret returns a random string with a prefix, for tokens and keys.
func newSecret(prefix string) string {
	raw := make([]byte, 32)
	rand.Read(raw) //nolint:errcheck // crypto/rand.Read never fails
	return prefix + base64.RawURLEncoding.EncodeToString(raw)
}

// authenticate puts the request's principal in its context, or answers 401.
// It then applies the CSRF check to session cookies and the principal's
// rate limit.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err == nil && p.Session {
			err = s.checkCSRF(r)
		}
		if err == nil {
			err = s.limits.allow(w, p, s.Clock.Now())
		}
		if err != nil {
			s.error(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(orc.NewContextWithPrincipal(r.Context(), p)))
	})
}

// authenticateMetrics lets the metrics token or an admin read /metrics.
func (s *Server) authenticateMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := s.cfg.MetricsToken; tok != "" {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		}
		p, err := s.principal(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if !s.require(w, r, p.IsAdmin(), "read metrics") {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errBadToken is the one answer for every credential that does not check
// out: the client learns nothing about why.
func errBadToken() error { return orc.Errorf(orc.EUNAUTHORIZED, "invalid or expired token") }

// principal finds who sent the request: a bearer token (Orc's token, an API
// key, or an OpenID provider's JWT), else the session cookie.
func (s *Server) principal(r *http.Request) (*orc.Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
			return nil, orc.Errorf(orc.EUNAUTHORIZED, "a bearer token is required")
		}
		switch {
		case strings.HasPrefix(token, tokenPrefix):
			return s.tokenPrincipal(ctx, token, false)
		case strings.HasPrefix(token, keyPrefix):
			return s.keyPrincipal(ctx, token)
		case looksLikeJWT(token) && s.OIDC != nil:
			return s.jwtPrincipal(r, token)
		}
		return nil, errBadToken()
	}
	if c := sessionCookie(r); c != "" {
		return s.tokenPrincipal(ctx, c, true)
	}
	return nil, orc.Errorf(orc.EUNAUTHORIZED, "a bearer token is required")
}

// looksLikeJWT reports whether a token has a JWS's compact shape.
func looksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && !strings.ContainsAny(token, " \t")
}

// tokenPrincipal checks a token from /api/v1/auth/token, or a session
// cookie's value. A session is good only as the cookie, and a token only as
// a bearer token.
func (s *Server) tokenPrincipal(ctx context.Context, token string, cookie bool) (*orc.Principal, error) {
	if cookie != strings.HasPrefix(token, sessionPrefix) {
		return nil, errBadToken()
	}
	hash := hashToken(token)
	now := s.Clock.Now()
	if p, ok := s.principals.Get(string(hash), now); ok {
		return p, nil
	}
	t, u, err := s.Users.LookupToken(ctx, hash, now)
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return nil, errBadToken()
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "account disabled")
	}
	if t.Session != cookie {
		return nil, errBadToken()
	}
	p := &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: t.Method, Session: cookie}
	s.principals.Put(string(hash), p, now)
	return p, nil
}

// parseAPIKey splits orc_k_<prefix>_<secret>; the prefix is what the key
// is found by, the hash of the whole key what it is checked against.
func parseAPIKey(key string) (prefix string, ok bool) {
	rest := strings.TrimPrefix(key, keyPrefix)
	prefix, secret, ok := strings.Cut(rest, "_")
	return prefix, ok && len(prefix) == apiKeyPrefixLen && len(secret) >= 32
}

// keyPrincipal checks an API key. A key acts with its owner's current role,
// or with its own role when that is narrower.
func (s *Server) keyPrincipal(ctx context.Context, key string) (*orc.Principal, error) {
	prefix, ok := parseAPIKey(key)
	if !ok || s.Keys == nil {
		return nil, errBadToken()
	}
	hash := hashToken(key)
	now := s.Clock.Now()
	if p, ok := s.principals.Get(string(hash), now); ok {
		return p, nil
	}
	k, u, err := s.Keys.FindAPIKeyByPrefix(ctx, prefix)
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return nil, errBadToken()
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(k.Hash, hash) != 1 || !k.Usable(now) {
		return nil, errBadToken()
	}
	if u.Disabled {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "account disabled")
	}
	p := &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role.Narrower(k.Role), Method: orc.AuthAPIKey, APIKeyID: k.ID}
	s.principals.Put(string(hash), p, now)
	go func() {
		if err := s.Keys.TouchAPIKey(context.WithoutCancel(ctx), k.ID, now); err != nil {
			s.Logger.WarnContext(ctx, "record API key use", "api_key_id", k.ID, "err", err)
		}
	}()
	return p, nil
}

// jwtPrincipal checks an OpenID provider's token and finds (or creates) its
// user.
func (s *Server) jwtPrincipal(r *http.Request, token string) (*orc.Principal, error) {
	ctx := r.Context()
	hash := hashToken(token)
	now := s.Clock.Now()
	if p, ok := s.principals.Get(string(hash), now); ok {
		return p, nil
	}
	id, err := s.OIDC.verifyBearer(ctx, token)
	if err != nil {
		s.Logger.DebugContext(ctx, "bearer token refused", "err", err)
		return nil, errBadToken()
	}
	u, err := s.oidcUser(r, id, false)
	if err != nil {
		return nil, err
	}
	p := &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: orc.AuthOIDC}
	if id.Expiry.Sub(now) > s.cfg.CacheTTL {
		// Only while the token lives longer than the cache entry.
		s.principals.Put(string(hash), p, now)
	}
	return p, nil
}

// checkCSRF refuses a cookie-authenticated request that changes something
// unless it carries the CSRF header or comes from the gateway's own origin.
func (s *Server) checkCSRF(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get(headerCSRF) != "" {
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" && o == s.origin(r) {
		return nil
	}
	return orc.Errorf(orc.EFORBIDDEN, "a request signed in by the session cookie needs the %s header or a same-origin Origin to change anything", headerCSRF)
}

// origin is the gateway's own origin: the configured public URL's, else the
// request's.
func (s *Server) origin(r *http.Request) string {
	if s.publicURL != nil {
		return s.publicURL.Scheme + "://" + s.publicURL.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// tokenResponse is the seed's OAuth2 password-flow answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleToken is the token endpoint: a local account's username and
// password (form or JSON, the seed's password grant), or a command line
// sign-in's one-time code and PKCE verifier (grant_type
// authorization_code), in; a bearer token out.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	var username, pw string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Username string `json:"username"`
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := s.decodeJSON(w, r, &body); err != nil {
			s.error(w, r, err)
			return
		}
		username, pw = body.Username, body.Password
		if username == "" {
			username = body.Email
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.error(w, r, orc.Errorf(orc.EINVALID, "malformed form body"))
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "", "password":
		case "authorization_code":
			s.exchangeCode(w, r)
			return
		default:
			s.error(w, r, orc.Errorf(orc.EINVALID, "grant_type must be password or authorization_code"))
			return
		}
		username, pw = r.PostForm.Get("username"), r.PostForm.Get("password")
	}
	if username == "" || pw == "" {
		s.error(w, r, orc.Errorf(orc.EINVALID, "username and password are required"))
		return
	}
	addr, now := clientAddr(r), s.Clock.Now()
	if d := s.signins.wait(addr, username, now); d > 0 {
		retryAfter(w, d)
		s.error(w, r, orc.Errorf(orc.ERATELIMIT, "too many failed sign-ins; try again later"))
		return
	}
	u, err := s.Users.FindUserByEmail(r.Context(), username)
	if err != nil && orc.ErrorCode(err) != orc.ENOTFOUND {
		s.error(w, r, err)
		return
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !password.Check(hash, pw) || u.Disabled {
		s.signins.failed(addr, username, now)
		s.error(w, r, orc.Errorf(orc.EUNAUTHORIZED, "incorrect username or password"))
		return
	}
	s.writeToken(w, r, u, orc.AuthToken, "password")
}

// writeToken issues a bearer token for a user who just signed in, records
// the sign-in, and answers with the token.
func (s *Server) writeToken(w http.ResponseWriter, r *http.Request, u *orc.User, method, via string) {
	token := newSecret(tokenPrefix)
	err := s.Users.StoreToken(r.Context(), &orc.Token{Hash: hashToken(token), UserID: u.ID, Method: method,
		ExpiresAt: s.Clock.Now().Add(s.cfg.TokenTTL)})
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "signed in", "user_id", u.ID, "method", method, "via", via)
	s.audit(r, &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: method},
		orc.AuditSignIn, "user", itoa(u.ID), map[string]string{"via": via})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "bearer", ExpiresIn: int64(s.cfg.TokenTTL.Seconds())})
}

// meResponse describes the principal, with the seed's field names beside
// Orc's.
type meResponse struct {
	ID          int64    `json:"id"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	FullName    string   `json:"full_name"`
	Role        orc.Role `json:"role"`
	AccountRole orc.Role `json:"account_role"`
	IsActive    bool     `json:"is_active"`
	IsSuperuser bool     `json:"is_superuser"`
	AuthMethod  string   `json:"auth_method"`
	Session     bool     `json:"session"`
	APIKeyID    int64    `json:"api_key_id,omitempty"`
	SSO         bool     `json:"sso"`
}

// handleMe shows the principal: its account, the role it acts with (an API
// key's may be narrower than the account's) and how it signed in.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	u, err := s.Users.FindUserByID(r.Context(), p.UserID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meResponse{
		ID: u.ID, Email: u.Email, Name: u.Name, FullName: u.Name, Role: p.Role, AccountRole: u.Role,
		IsActive: !u.Disabled, IsSuperuser: p.Role == orc.RoleAdmin, AuthMethod: p.Method,
		Session: p.Session, APIKeyID: p.APIKeyID, SSO: u.OIDCSubject != "",
	})
}

// require answers 403 unless ok.
func (s *Server) require(w http.ResponseWriter, r *http.Request, ok bool, what string) bool {
	if !ok {
		s.error(w, r, orc.Errorf(orc.EFORBIDDEN, "your role may not %s", what))
	}
	return ok
}

// requireAdmin is middleware for routes only admins may use.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.require(w, r, orc.PrincipalFromContext(r.Context()).IsAdmin(), "manage users or read the audit log") {
			next.ServeHTTP(w, r)
		}
	})
}

// retryAfter sets Retry-After in whole seconds, at least one.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}
