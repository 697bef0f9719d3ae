package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/orc-gateway/orc"
)

// OIDCConfig configures an OpenID provider: single sign-on in the browser
// and the command line, and the provider's tokens as bearer tokens.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; discovery starts there.
	Issuer string
	// ClientID and ClientSecret are the gateway's client at the provider.
	ClientID     string
	ClientSecret string
	// RedirectURL is the gateway's /auth/callback as the provider knows it.
	RedirectURL string
	// Audience is what a bearer token's aud claim must hold (ClientID).
	Audience string
	// Scopes are asked for at sign-in (openid, email, profile).
	Scopes []string
	// Algorithms are the signature algorithms accepted (RS256, ES256).
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat (30s).
	Leeway time.Duration
	// JWKSRefreshInterval is the least time between two fetches of the
	// provider's keys caused by unknown key ids (1m).
	JWKSRefreshInterval time.Duration
	// GroupsClaim names the claim that lists the user's groups (groups).
	GroupsClaim string
	// RoleMap gives the role of members of a group; the most powerful of a
	// user's groups wins. Empty: roles are not taken from groups.
	RoleMap map[string]orc.Role
	// DefaultRole is the role of new users in no mapped group; empty
	// refuses them.
	DefaultRole orc.Role
	// HTTPClient talks to the provider (http.DefaultClient).
	HTTPClient *http.Client
	// Clock tells the time for token checks (the system's).
	Clock orc.Clock
}

func (c *OIDCConfig) setDefaults() {
	if c.Audience == "" {
		c.Audience = c.ClientID
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{oidc.RS256, oidc.ES256}
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if c.JWKSRefreshInterval == 0 {
		c.JWKSRefreshInterval = time.Minute
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.Clock == nil {
		c.Clock = orc.SystemClock{}
	}
}

// OIDC is an OpenID provider the gateway trusts.
type OIDC struct {
	cfg      OIDCConfig
	keys     *keySet
	bearer   *oidc.IDTokenVerifier // API bearer tokens: aud = Audience
	idTokens *oidc.IDTokenVerifier // ID tokens at sign-in: aud = ClientID
	oauth    oauth2.Config
}

// NewOIDC discovers the provider at cfg.Issuer and returns it.
//
// # Errors
//
// Discovery fails when the provider cannot be reached or its issuer is not
// cfg.Issuer.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	cfg.setDefaults()
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("oidc: the issuer and client id are required")
	}
	for _, alg := range cfg.Algorithms {
		if alg == "none" || strings.HasPrefix(alg, "HS") {
			// A symmetric algorithm would accept tokens signed with the
			// provider's public key as the secret.
			return nil, fmt.Errorf("oidc: algorithm %q is not allowed", alg)
		}
	}
	for g, r := range cfg.RoleMap {
		if !r.Valid() {
			return nil, fmt.Errorf("oidc: group %q maps to the unknown role %q", g, r)
		}
	}
	if cfg.DefaultRole != "" && !cfg.DefaultRole.Valid() {
		return nil, fmt.Errorf("oidc: unknown default role %q", cfg.DefaultRole)
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, cfg.HTTPClient), 15*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery: %w", err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("oidc: discovery document has no jwks_uri")
	}
	algs := make([]jose.SignatureAlgorithm, len(cfg.Algorithms))
	for i, a := range cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	o := &OIDC{cfg: cfg}
	o.keys = &keySet{url: meta.JWKS, client: cfg.HTTPClient, algs: algs,
		minInterval: cfg.JWKSRefreshInterval, maxAge: time.Hour, now: cfg.Clock.Now}
	// Expiry is checked in verify, with the configured leeway; go-oidc's
	// own check has none on exp and five minutes on nbf.
	o.bearer = oidc.NewVerifier(cfg.Issuer, o.keys, &oidc.Config{ClientID: cfg.Audience,
		SupportedSigningAlgs: cfg.Algorithms, SkipExpiryCheck: true})
	o.idTokens = oidc.NewVerifier(cfg.Issuer, o.keys, &oidc.Config{ClientID: cfg.ClientID,
		SupportedSigningAlgs: cfg.Algorithms, SkipExpiryCheck: true})
	o.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Endpoint: provider.Endpoint(), RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes}
	return o, nil
}

// Issuer returns the provider's issuer URL.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

// KeyFetches returns how many times the provider's keys were fetched.
func (o *OIDC) KeyFetches() int { return o.keys.Fetches() }

// claims are who a verified token names.
type claims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	Expiry        time.Time
	Nonce         string
}

// verifyBearer checks a bearer token: signature, issuer, audience, times.
func (o *OIDC) verifyBearer(ctx context.Context, raw string) (*claims, error) {
	return o.verify(ctx, o.bearer, raw)
}

// verifyIDToken checks an ID token from the token endpoint at sign-in.
func (o *OIDC) verifyIDToken(ctx context.Context, raw string) (*claims, error) {
	return o.verify(ctx, o.idTokens, raw)
}

func (o *OIDC) verify(ctx context.Context, v *oidc.IDTokenVerifier, token string) (*claims, error) {
	ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	tok, err := v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := tok.Claims(&raw); err != nil {
		return nil, err
	}
	now := o.cfg.Clock.Now()
	if tok.Expiry.IsZero() {
		return nil, errors.New("oidc: token has no exp")
	}
	if now.After(tok.Expiry.Add(o.cfg.Leeway)) {
		return nil, errors.New("oidc: token expired")
	}
	if nbf, ok := numericDate(raw["nbf"]); ok && now.Add(o.cfg.Leeway).Before(nbf) {
		return nil, errors.New("oidc: token not valid yet")
	}
	if !tok.IssuedAt.IsZero() && now.Add(o.cfg.Leeway).Before(tok.IssuedAt) {
		return nil, errors.New("oidc: token issued in the future")
	}
	if tok.Subject == "" {
		return nil, errors.New("oidc: token has no subject")
	}
	id := &claims{Issuer: tok.Issuer, Subject: tok.Subject, Expiry: tok.Expiry, Nonce: tok.Nonce}
	json.Unmarshal(raw["email"], &id.Email)            //nolint:errcheck // optional
	json.Unmarshal(raw["name"], &id.Name)              //nolint:errcheck // optional
	id.EmailVerified = jsonBool(raw["email_verified"]) // some providers send "true"
	id.Groups = stringList(raw[o.cfg.GroupsClaim])
	return id, nil
}

// numericDate reads a JWT NumericDate.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	var f float64
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func jsonBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "true"
}

// stringList reads a claim that is a list of strings or one string.
func stringList(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}

// roleOf maps groups to a role: the most powerful mapped group wins; with
// none, the default role ("" when new users without one are refused). ok is
// false when roles do not come from groups at all.
func (o *OIDC) roleOf(groups []string) (role orc.Role, ok bool) {
	if len(o.cfg.RoleMap) == 0 {
		return o.cfg.DefaultRole, false
	}
	for _, g := range groups {
		if r, found := o.cfg.RoleMap[g]; found && (role == "" || r.Covers(role)) {
			role = r
		}
	}
	if role == "" {
		role = o.cfg.DefaultRole
	}
	return role, true
}
