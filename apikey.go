package orc

import (
	"context"
	"time"
)

// APIKey is a long-lived credential of a user for scripts and services.
// Only its prefix and a hash of the whole key are stored; the key itself is
// shown once, when it is created.
type APIKey struct {
	ID     int64  `json:"id"`
	UserID int64  `json:"user_id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	Hash   []byte `json:"-"`
	// Role, when set, narrows the owner's role for requests with this key;
	// empty means the owner's role.
	Role       Role       `json:"role,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Usable reports whether the key may be used at now.
func (k *APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// APIKeyService keeps API keys.
type APIKeyService interface {
	// CreateAPIKey stores a new key and sets its id and creation time.
	CreateAPIKey(ctx context.Context, k *APIKey) error

	// FindAPIKeyByPrefix returns a key (revoked and expired ones too) and
	// its owner. Returns ENOTFOUND.
	FindAPIKeyByPrefix(ctx context.Context, prefix string) (*APIKey, *User, error)

	// FindAPIKey returns a key by id. Returns ENOTFOUND.
	FindAPIKey(ctx context.Context, id int64) (*APIKey, error)

	// ListAPIKeys returns the keys of a user (of everyone for 0), newest
	// first.
	ListAPIKeys(ctx context.Context, userID int64) ([]*APIKey, error)

	// RevokeAPIKey marks a key revoked. Returns ENOTFOUND, ECONFLICT when
	// it already is.
	RevokeAPIKey(ctx context.Context, id int64, at time.Time) (*APIKey, error)

	// TouchAPIKey records that a key was used.
	TouchAPIKey(ctx context.Context, id int64, at time.Time) error
}
