package identity

import (
	"fmt"
	"net/http"
	"time"

	"github.com/orc-gateway/orc"
)

// MaxKeyLifetime is the longest an API key may be made to last, and
// MaxKeyName the longest name it may have.
const (
	MaxKeyLifetime = 5 * 365 * 24 * time.Hour
	MaxKeyName     = 200
)

// KeyRequest asks for a new API key.
type KeyRequest struct {
	Name string
	// Role narrows the key; empty: the role of whoever asks (for a request
	// made with an API key, that key's role).
	Role orc.Role
	// ExpiresAt or ExpiresIn (seconds) end the key; neither: it lasts until
	// revoked, or until the key that made it expires.
	ExpiresAt *time.Time
	ExpiresIn int64
}

// CreateAPIKey mints a key of the principal's own, stores it (its prefix
// and hash) and records it in the audit log. It returns the key with the
// secret, which is shown only this once.
//
// A key is never wider than whoever made it: its role is at most the
// principal's, and a request made with an API key acts with that key's
// narrower role, which is also the new key's default; a key made with a
// key expires no later than that key.
//
// # Errors
//
// EINVALID for a bad name, role or expiry; EFORBIDDEN for a role wider
// than the principal's, or past the quota of API keys.
func (s *Service) CreateAPIKey(r *http.Request, p *orc.Principal, req KeyRequest) (*orc.APIKey, string, error) {
	ctx := r.Context()
	if len(req.Name) > MaxKeyName {
		return nil, "", orc.Errorf(orc.EINVALID, "name is longer than %d bytes", MaxKeyName)
	}
	if req.Role != "" && !req.Role.Valid() {
		return nil, "", orc.Errorf(orc.EINVALID, "role must be admin, developer, invoker or viewer")
	}
	if req.Role != "" && !p.Role.Covers(req.Role) {
		return nil, "", orc.Errorf(orc.EFORBIDDEN, "a key's role may not exceed yours (%s)", p.Role)
	}
	if req.ExpiresIn < 0 || (req.ExpiresIn > 0 && req.ExpiresAt != nil) {
		return nil, "", orc.Errorf(orc.EINVALID, "give expires_at or a positive expires_in, not both")
	}
	if req.ExpiresIn > int64(MaxKeyLifetime/time.Second) {
		return nil, "", orc.Errorf(orc.EINVALID, "expires_in may be at most %d seconds (5 years)", int64(MaxKeyLifetime/time.Second))
	}
	now := s.Clock.Now()
	k := &orc.APIKey{UserID: p.UserID, Name: req.Name, Role: req.Role, ExpiresAt: req.ExpiresAt}
	if req.ExpiresIn > 0 {
		at := now.Add(time.Duration(req.ExpiresIn) * time.Second)
		k.ExpiresAt = &at
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return nil, "", orc.Errorf(orc.EINVALID, "expires_at is in the past")
	}
	if k.ExpiresAt != nil && k.ExpiresAt.After(now.Add(MaxKeyLifetime)) {
		return nil, "", orc.Errorf(orc.EINVALID, "expires_at may be at most 5 years ahead")
	}
	if p.Method == orc.AuthAPIKey {
		if err := s.narrowToKey(r, p, k); err != nil {
			return nil, "", err
		}
	}
	if err := s.checkKeyQuota(r, p); err != nil {
		return nil, "", err
	}
	key, prefix, hash := NewAPIKey()
	k.Prefix, k.Hash = prefix, hash
	if err := s.Keys.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	details := map[string]any{"name": k.Name, "prefix": k.Prefix, "role": k.Role}
	if p.APIKeyID != 0 {
		details["by_api_key"] = p.APIKeyID
	}
	s.Record(r, p, &orc.AuditEvent{Action: orc.AuditKeyCreate, TargetType: "api_key", Target: itoa(k.ID)}, details)
	return k, key, nil
}

// narrowToKey makes a key that a request made with an API key asked for
// no wider than that key: its role (the principal's, already narrowed) and
// its expiry.
func (s *Service) narrowToKey(r *http.Request, p *orc.Principal, k *orc.APIKey) error {
	if k.Role == "" {
		k.Role = p.Role
	}
	parent, err := s.Keys.FindAPIKey(r.Context(), p.APIKeyID)
	if err != nil {
		return err
	}
	if parent.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*parent.ExpiresAt)) {
		at := *parent.ExpiresAt
		k.ExpiresAt = &at
	}
	return nil
}

// checkKeyQuota counts the principal's usable keys against its role's
// quota (admins have none).
func (s *Service) checkKeyQuota(r *http.Request, p *orc.Principal) error {
	if s.Policies == nil || p.IsAdmin() {
		return nil
	}
	policy, err := s.Policies.Policy(r.Context())
	if err != nil {
		return err
	}
	q := policy.Quotas[p.Role]
	if q.APIKeys == 0 {
		return nil
	}
	u, err := s.Policies.Usage(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	if u.APIKeys >= q.APIKeys {
		msg := fmt.Sprintf("you keep %d API keys, the most your role may; revoke one first", u.APIKeys)
		return &orc.Error{Code: orc.EFORBIDDEN, Message: "the policy does not allow it: " + msg,
			Details: []orc.Problem{{Message: msg, Rule: "quotas." + string(p.Role) + ".api_keys"}}}
	}
	return nil
}
