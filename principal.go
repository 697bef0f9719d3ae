package orc

import (
	"context"
	"time"
)

// Role is what a principal may do.
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin     Role = "admin"     // everything
	RoleDeveloper Role = "developer" // registers and manages own plugins, invokes
	RoleInvoker   Role = "invoker"   // invokes, sees own invocations
	RoleViewer    Role = "viewer"    // reads
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleDeveloper, RoleInvoker, RoleViewer:
		return true
	}
	return false
}

// CanInvoke reports whether the role may invoke plugins.
func (r Role) CanInvoke() bool {
	return r == RoleAdmin || r == RoleDeveloper || r == RoleInvoker
}

// CanPublish reports whether the role may register and delete plugins.
func (r Role) CanPublish() bool { return r == RoleAdmin || r == RoleDeveloper }

// User is a person or machine account.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Authentication methods.
const (
	AuthToken  = "token"   // a bearer token from POST /api/v1/auth/token
	AuthAPIKey = "api_key" // an API key
	AuthOIDC   = "oidc"    // an OpenID Connect bearer token or session
)

// Principal is who is making a request, and how they proved it.
type Principal struct {
	UserID int64  `json:"user_id"`
	Email  string `json:"email"`
	Role   Role   `json:"role"`
	Method string `json:"method"`
}

// IsAdmin reports whether the principal is an administrator.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleAdmin }

// CanSee reports whether the principal may see something owned by ownerID.
func (p *Principal) CanSee(ownerID int64) bool {
	return p != nil && (p.Role == RoleAdmin || p.UserID == ownerID)
}

// CanSeePlugin reports whether the principal may see (and so invoke or
// read) a plugin: a public one, or one it owns, or any as an admin.
func (p *Principal) CanSeePlugin(pl *Plugin) bool {
	return pl.Public || p.CanSee(pl.OwnerID)
}

type principalKey struct{}

// NewContextWithPrincipal returns a context that carries p.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal of ctx, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// UserService keeps users and their sign-in tokens.
type UserService interface {
	// CreateUser stores a new user. Returns ECONFLICT if the e-mail is taken.
	CreateUser(ctx context.Context, u *User) error

	// FindUserByEmail returns a user. Returns ENOTFOUND.
	FindUserByEmail(ctx context.Context, email string) (*User, error)

	// FindUserByID returns a user. Returns ENOTFOUND.
	FindUserByID(ctx context.Context, id int64) (*User, error)

	// UpdatePassword replaces a user's password hash. Returns ENOTFOUND.
	UpdatePassword(ctx context.Context, id int64, hash string) error

	// CreateToken stores the hash of a new sign-in token for a user.
	CreateToken(ctx context.Context, userID int64, hash []byte, expires time.Time) error

	// FindToken returns the user of an unexpired token by its hash. Returns
	// ENOTFOUND when there is none.
	FindToken(ctx context.Context, hash []byte, now time.Time) (*User, error)
}
