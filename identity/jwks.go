package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

var _ oidc.KeySet = (*keySet)(nil)

// errUnknownKey is a token signed with a key the provider does not publish.
var errUnknownKey = errors.New("jwks: unknown key id")

// keySet is an OpenID provider's signing keys (its JWKS). A token whose key
// id is unknown makes it fetch the keys again, since the provider may have
// rotated them — but at most once per minInterval, so that tokens with made
// up key ids cannot make the gateway hammer the provider.
type keySet struct {
	url         string
	client      *http.Client
	algs        []jose.SignatureAlgorithm
	minInterval time.Duration
	maxAge      time.Duration
	now         func() time.Time

	fetchMu sync.Mutex // one fetch at a time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // of the last attempt, successful or not
	fetches int
}

// VerifySignature verifies a compact JWS and returns its payload.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("jwks: want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	alg := jws.Signatures[0].Header.Algorithm
	keys, stale := k.cached()
	if stale || !hasKey(keys, kid) {
		// A rotation, or keys never fetched: fetch (rate-limited) and look
		// again.
		if err := k.refresh(ctx); err != nil && len(keys) == 0 {
			return nil, err
		}
		keys, _ = k.cached()
	}
	if !hasKey(keys, kid) {
		return nil, errUnknownKey
	}
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("jwks: bad signature")
}

// hasKey reports whether keys has the key id (any key when kid is empty).
func hasKey(keys []jose.JSONWebKey, kid string) bool {
	for _, key := range keys {
		if kid == "" || key.KeyID == kid {
			return true
		}
	}
	return false
}

func (k *keySet) cached() ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.fetched.IsZero() || k.now().Sub(k.fetched) > k.maxAge
}

// Fetches returns how many times the keys were fetched.
func (k *keySet) Fetches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

// refresh fetches the keys unless that was tried less than minInterval ago.
func (k *keySet) refresh(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.Lock()
	recent := !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.minInterval
	if !recent {
		k.fetched = k.now()
		k.fetches++
	}
	k.mu.Unlock()
	if recent {
		return nil
	}
	keys, err := k.fetch(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: fetch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("jwks: fetch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: fetch: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: decode: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		// Only public keys: a symmetric key in a JWKS would let anyone who
		// read it sign tokens.
		if key.IsPublic() && key.Valid() {
			keys = append(keys, key)
		}
	}
	return keys, nil
}
