package orc

import (
	"context"
	"time"
)

// User is a person or machine account.
type User struct {
	ID           int64  `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	Disabled     bool   `json:"disabled"`
	PasswordHash string `json:"-"`
	// OIDCIssuer and OIDCSubject link the account to an OpenID provider's
	// user; both are empty for local accounts.
	OIDCIssuer  string `json:"oidc_issuer,omitempty"`
	OIDCSubject string `json:"oidc_subject,omitempty"`
	// RolePinned is set when an admin chose the role: single sign-on no
	// longer changes it from the provider's groups.
	RolePinned  bool       `json:"role_pinned"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// UserUpdate is a change of an account; nil fields stay as they are.
type UserUpdate struct {
	Name     *string
	Role     *Role
	Disabled *bool
	// RolePinned, when set, records whether the role was chosen by an
	// admin (true) or follows the identity provider's groups (false).
	RolePinned *bool
}

// UserFilter selects users. Results are ordered by id.
type UserFilter struct {
	AfterID int64
	Limit   int
}

// UserService keeps users and their sign-in tokens.
type UserService interface {
	// CreateUser stores a new user. Returns ECONFLICT if the e-mail (or the
	// OpenID issuer and subject) is taken.
	CreateUser(ctx context.Context, u *User) error

	// FindUserByEmail returns a user. Returns ENOTFOUND.
	FindUserByEmail(ctx context.Context, email string) (*User, error)

	// FindUserByID returns a user. Returns ENOTFOUND.
	FindUserByID(ctx context.Context, id int64) (*User, error)

	// FindUserByOIDC returns the user linked to an OpenID provider's
	// subject. Returns ENOTFOUND.
	FindUserByOIDC(ctx context.Context, issuer, subject string) (*User, error)

	// ListUsers returns a page of users.
	ListUsers(ctx context.Context, f UserFilter) ([]*User, error)

	// UpdateUser changes a user and returns it. Returns ENOTFOUND,
	// EINVALID for an unknown role.
	UpdateUser(ctx context.Context, id int64, up UserUpdate) (*User, error)

	// RecordSignIn records that a user signed in at a time.
	RecordSignIn(ctx context.Context, id int64, at time.Time) error

	// LinkOIDC links a user to an OpenID provider's subject and records a
	// sign-in. Returns ENOTFOUND, ECONFLICT when the subject is linked to
	// another user.
	LinkOIDC(ctx context.Context, id int64, issuer, subject string, at time.Time) error

	// UpdatePassword replaces a user's password hash. Returns ENOTFOUND.
	UpdatePassword(ctx context.Context, id int64, hash string) error

	// StoreToken stores a sign-in token or session (its hash).
	StoreToken(ctx context.Context, t *Token) error

	// LookupToken returns an unexpired token and its user. Returns
	// ENOTFOUND.
	LookupToken(ctx context.Context, hash []byte, now time.Time) (*Token, *User, error)

	// DeleteToken removes a token or session; a missing one is no error.
	DeleteToken(ctx context.Context, hash []byte) error
}
