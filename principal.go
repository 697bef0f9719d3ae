package orc

import "context"

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
func (r Role) Valid() bool { return r.rank() > 0 }

// rank orders the roles: a higher rank may do everything a lower one may.
func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 4
	case RoleDeveloper:
		return 3
	case RoleInvoker:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Covers reports whether r may do everything other may.
func (r Role) Covers(other Role) bool { return r.rank() >= other.rank() && other.Valid() }

// Narrower returns the less powerful of r and other.
func (r Role) Narrower(other Role) Role {
	if other.Valid() && other.rank() < r.rank() {
		return other
	}
	return r
}

// CanInvoke reports whether the role may invoke plugins.
func (r Role) CanInvoke() bool {
	return r == RoleAdmin || r == RoleDeveloper || r == RoleInvoker
}

// CanPublish reports whether the role may register and delete plugins.
func (r Role) CanPublish() bool { return r == RoleAdmin || r == RoleDeveloper }

// Authentication methods.
const (
	AuthToken  = "token"   // a bearer token from POST /api/v1/auth/token
	AuthAPIKey = "api_key" // an API key
	AuthOIDC   = "oidc"    // an OpenID Connect bearer token or session
	// AuthPassword is a browser session started with a local password
	// (the web console's sign-in form).
	AuthPassword = "password"
)

// Principal is who is making a request, and how they proved it.
type Principal struct {
	UserID int64  `json:"user_id"`
	Email  string `json:"email"`
	Role   Role   `json:"role"`
	Method string `json:"method"`
	// APIKeyID is the key the request was made with (Method api_key).
	APIKeyID int64 `json:"api_key_id,omitempty"`
	// Session is set when the credential was a browser's session cookie,
	// whose mutating requests need a CSRF check.
	Session bool `json:"session,omitempty"`
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
