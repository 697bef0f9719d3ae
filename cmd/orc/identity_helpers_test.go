package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/testenv/oidcprovider"
)

// The provider's accounts in the identity tests, and what their groups
// map to.
var (
	ssoAlice = oidcprovider.User{Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true,
		Name: "Alice", Groups: []string{"staff", "orc-devs"}}
	ssoBob = oidcprovider.User{Username: "bob", Password: "bob-pw", Email: "bob@example.com", EmailVerified: true,
		Name: "Bob", Groups: []string{"orc-invokers"}}
	ssoDave = oidcprovider.User{Username: "dave", Password: "dave-pw", Email: "dave@example.com", EmailVerified: true,
		Name: "Dave"}
	ssoRoleMap = roleMap{"orc-admins": orc.RoleAdmin, "orc-devs": orc.RoleDeveloper, "orc-invokers": orc.RoleInvoker}
)

// newIdentityStack starts a provider with alice, bob and dave, and a
// gateway (no worker) that trusts it.
func newIdentityStack(t *testing.T, change func(*Config)) (*stack, *oidcprovider.Provider) {
	t.Helper()
	p := oidcprovider.Start(t, ssoAlice, ssoBob, ssoDave)
	s := newStack(t, func(c *Config) {
		c.Identity.OIDCIssuer, c.Identity.OIDCClientID, c.Identity.OIDCClientSecret = p.Issuer, p.ClientID, p.ClientSecret
		c.Identity.OIDCRoleMap = ssoRoleMap
		if change != nil {
			change(c)
		}
	}, true)
	return s, p
}

// browser is an HTTP client with cookies.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// claims are a token's claims, for minting tokens in the tests.
type claims map[string]any

// goodClaims are claims the gateway accepts, for the provider's user.
func goodClaims(p *oidcprovider.Provider, u oidcprovider.User) claims {
	now := time.Now()
	return claims{"iss": p.Issuer, "sub": u.Subject, "aud": []string{p.ClientID}, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "nbf": now.Unix(), "email": u.Email, "email_verified": true, "groups": u.Groups}
}

// with returns a copy of c with changes; a nil value removes the claim.
func (c claims) with(kv ...any) claims {
	out := claims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// sign signs claims as a JWS with the key and algorithm given.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, c claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned returns a token with alg none.
func unsigned(kid string, c claims) string {
	enc := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	payload, _ := json.Marshal(c)
	return enc(header) + "." + enc(payload) + "."
}

// publicKeyPEM is the PEM text of a public key, the secret an HS256
// confusion attack signs with.
func publicKeyPEM(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bearer returns the headers for a request with a bearer token.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// me reads /api/v1/auth/me with a token.
func (s *stack) me(token string) (*response, meForTest) {
	s.t.Helper()
	resp := s.do("GET", "/api/v1/auth/me", nil, bearer(token)...)
	var m meForTest
	if resp.status == http.StatusOK {
		resp.json(s.t, &m)
	}
	return resp, m
}

type meForTest struct {
	ID          int64    `json:"id"`
	Email       string   `json:"email"`
	Role        orc.Role `json:"role"`
	AccountRole orc.Role `json:"account_role"`
	AuthMethod  string   `json:"auth_method"`
	Session     bool     `json:"session"`
	APIKeyID    int64    `json:"api_key_id"`
	SSO         bool     `json:"sso"`
}

// userID returns the id of a user by e-mail.
func (s *stack) userID(email string) int64 {
	s.t.Helper()
	u, err := s.db.FindUserByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatalf("find %s: %v", email, err)
	}
	return u.ID
}

func idPath(prefix string, id int64) string { return prefix + strconv.FormatInt(id, 10) }

// want fails the test unless the response has the status (and, for
// errors, the API's error shape with the code).
func want(t testing.TB, what string, resp *response, status int, code string) {
	t.Helper()
	if resp.status != status {
		t.Errorf("%s: %d %s, want %d", what, resp.status, resp.body, status)
		return
	}
	if code != "" {
		if e := resp.apiError(t); e.Error.Code != code {
			t.Errorf("%s: code %q, want %q", what, e.Error.Code, code)
		}
	}
}
