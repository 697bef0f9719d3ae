package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/orc-gateway/orc"
)

// Credential formats. Each kind is told apart by its shape, without a
// database look-up: Orc's tokens and keys by their prefixes, an OpenID
// provider's tokens by being JWTs (three base64url parts).
const (
	tokenPrefix   = "orc_t_" // a token from the token endpoint
	sessionPrefix = "orc_s_" // a browser session (the cookie's value)
	keyPrefix     = "orc_k_" // an API key: orc_k_<prefix>_<secret>
	codePrefix    = "orc_c_" // a one-time code of a command line sign-in
)

// apiKeyPrefixLen is the length of an API key's public prefix (hex).
const apiKeyPrefixLen = 12

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

// NewAPIKey mints an API key, orc_k_<prefix>_<secret>, and returns it with
// its prefix and the hash to store. The key itself is shown once and
// never stored.
func NewAPIKey() (key, prefix string, hash []byte) {
	b := make([]byte, apiKeyPrefixLen/2)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	prefix = hex.EncodeToString(b)
	key = newSecret(keyPrefix + prefix + "_")
	return key, prefix, hashToken(key)
}

// parseAPIKey splits orc_k_<prefix>_<secret>; the prefix is what the key
// is found by, the hash of the whole key what it is checked against.
func parseAPIKey(key string) (prefix string, ok bool) {
	rest := strings.TrimPrefix(key, keyPrefix)
	prefix, secret, ok := strings.Cut(rest, "_")
	return prefix, ok && len(prefix) == apiKeyPrefixLen && len(secret) >= 32
}

// errBadToken is the one answer for every credential that does not check
// out: the client learns nothing about why.
func errBadToken() error { return orc.Errorf(orc.EUNAUTHORIZED, "invalid or expired token") }

// Principal finds who sent the request: a bearer token (Orc's token, an
// API key, or an OpenID provider's JWT), else the session cookie. Returns
// EUNAUTHORIZED, or EUNAVAILABLE when the database cannot be reached.
func (s *Service) Principal(r *http.Request) (*orc.Principal, error) {
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

// tokenPrincipal checks a token from the token endpoint, or a session
// cookie's value. A session is good only as the cookie, and a token only as
// a bearer token.
func (s *Service) tokenPrincipal(ctx context.Context, token string, cookie bool) (*orc.Principal, error) {
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

// keyPrincipal checks an API key. A key acts with its owner's current role,
// or with its own role when that is narrower.
func (s *Service) keyPrincipal(ctx context.Context, key string) (*orc.Principal, error) {
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
func (s *Service) jwtPrincipal(r *http.Request, token string) (*orc.Principal, error) {
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
