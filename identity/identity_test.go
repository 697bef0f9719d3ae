package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/orc-gateway/orc"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "/console/x?y=1": "/console/x?y=1", "//evil.example": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "relative": "/", "/a\r\nSet-Cookie: x": "/",
		"/\t/evil.example/x": "/", "/\n/evil.example": "/", "/ /evil.example": "/", "/\x00/evil": "/",
		"/%09/evil.example/x":  "/%09/evil.example/x", // stays a path: browsers do not decode it
		"/\u3000/evil.example": "/", "/\x7f/evil": "/", "/console/\u00e9": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoopbackRedirect(t *testing.T) {
	for in, want := range map[string]bool{
		"http://127.0.0.1:5555/callback": true, "http://[::1]:80/cb": true, "http://localhost:1/cb": true,
		"http://127.0.0.1/callback": false, "https://127.0.0.1:5555/cb": false, "http://evil.example:80/cb": false,
		"http://127.0.0.1.evil.example:80/": false, "http://user@127.0.0.1:80/": false, "http://127.0.0.1:80/#f": false,
	} {
		if got := loopbackRedirect(in); got != want {
			t.Errorf("loopbackRedirect(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRoleOfGroups(t *testing.T) {
	o := &OIDC{cfg: OIDCConfig{RoleMap: map[string]orc.Role{"ops": orc.RoleAdmin, "dev": orc.RoleDeveloper, "run": orc.RoleInvoker},
		DefaultRole: orc.RoleViewer}}
	for _, c := range []struct {
		groups []string
		want   orc.Role
	}{
		{nil, orc.RoleViewer}, {[]string{"other"}, orc.RoleViewer}, {[]string{"run", "dev"}, orc.RoleDeveloper},
		{[]string{"dev", "ops", "run"}, orc.RoleAdmin},
	} {
		if got, ok := o.roleOf(c.groups); got != c.want || !ok {
			t.Errorf("roleOf(%v) = %s, %v; want %s", c.groups, got, ok, c.want)
		}
	}
	o.cfg.DefaultRole = ""
	if got, _ := o.roleOf([]string{"other"}); got != "" {
		t.Errorf("no default role: %s, want none", got)
	}
	o.cfg.RoleMap = nil
	if _, ok := o.roleOf([]string{"ops"}); ok {
		t.Errorf("without a map, roles do not come from groups")
	}
}

func TestParseAPIKey(t *testing.T) {
	key, prefix, hash := NewAPIKey()
	if !bytes.Equal(hash, hashToken(key)) {
		t.Errorf("NewAPIKey hash is not the hash of the key")
	}
	if got, ok := parseAPIKey(key); !ok || got != prefix {
		t.Errorf("parseAPIKey(%q) = %q, %v; want %q", key, got, ok, prefix)
	}
	for _, bad := range []string{"orc_k_", "orc_k_short_" + key[19:], "orc_k_abcdef012345_short", "orc_k_abcdef012345"} {
		if _, ok := parseAPIKey(bad); ok {
			t.Errorf("parseAPIKey(%q) accepted", bad)
		}
	}
}

type fakeClock struct{ t atomic.Pointer[time.Time] }

func (c *fakeClock) Now() time.Time      { return *c.t.Load() }
func (c *fakeClock) add(d time.Duration) { n := c.Now().Add(d); c.t.Store(&n) }

// TestKeySetRefreshIsRateLimited signs tokens with unknown key ids: the
// first makes the key set fetch the JWKS, the rest within the interval do
// not; after the interval one more may.
func TestKeySetRefreshIsRateLimited(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	defer jwks.Close()
	clock := &fakeClock{}
	now := time.Unix(1_700_000_000, 0)
	clock.t.Store(&now)
	ks := &keySet{url: jwks.URL, client: http.DefaultClient, algs: []jose.SignatureAlgorithm{jose.RS256},
		minInterval: time.Minute, maxAge: time.Hour, now: clock.Now}
	signed := func(kid string, k *rsa.PrivateKey) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		jws, _ := s.Sign([]byte(`{"sub":"x"}`))
		out, _ := jws.CompactSerialize()
		return out
	}
	ctx := context.Background()
	if _, err := ks.VerifySignature(ctx, signed("k1", key)); err != nil {
		t.Fatalf("known key: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for i := 0; i < 20; i++ {
		if _, err := ks.VerifySignature(ctx, signed("unknown", other)); err == nil {
			t.Fatal("unknown key id accepted")
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches within the interval, want 1", n)
	}
	if _, err := ks.VerifySignature(ctx, signed("k1", other)); err == nil {
		t.Error("a known key id with another key's signature accepted")
	}
	clock.add(2 * time.Minute)
	for i := 0; i < 5; i++ {
		ks.VerifySignature(ctx, signed("unknown", other)) //nolint:errcheck
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches after the interval, want 2", n)
	}
}
