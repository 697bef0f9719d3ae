package orc

import (
	"context"
	"encoding/json"
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

// Token is a sign-in token or a browser session, stored only as a hash.
type Token struct {
	Hash   []byte
	UserID int64
	// Method is how its holder signed in (AuthToken, AuthOIDC).
	Method string
	// Session marks a browser session, sent as a cookie.
	Session   bool
	ExpiresAt time.Time
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

	// LinkOIDC links a user to an OpenID provider's subject and records a
	// sign-in. Returns ENOTFOUND, ECONFLICT when the subject is linked to
	// another user.
	LinkOIDC(ctx context.Context, id int64, issuer, subject string, at time.Time) error

	// UpdatePassword replaces a user's password hash. Returns ENOTFOUND.
	UpdatePassword(ctx context.Context, id int64, hash string) error

	// CreateToken stores the hash of a new sign-in token for a user.
	CreateToken(ctx context.Context, userID int64, hash []byte, expires time.Time) error

	// FindToken returns the user of an unexpired token by its hash. Returns
	// ENOTFOUND when there is none.
	FindToken(ctx context.Context, hash []byte, now time.Time) (*User, error)

	// StoreToken stores a sign-in token or session (its hash).
	StoreToken(ctx context.Context, t *Token) error

	// LookupToken returns an unexpired token and its user. Returns
	// ENOTFOUND.
	LookupToken(ctx context.Context, hash []byte, now time.Time) (*Token, *User, error)

	// DeleteToken removes a token or session; a missing one is no error.
	DeleteToken(ctx context.Context, hash []byte) error
}

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

// AuditEvent is one entry of the audit log: who did what to what.
type AuditEvent struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id,omitempty"`
	ActorEmail string          `json:"actor_email,omitempty"`
	Method     string          `json:"method,omitempty"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type,omitempty"`
	Target     string          `json:"target,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
}

// Audited actions.
const (
	AuditSignIn        = "auth.sign_in"
	AuditSignOut       = "auth.sign_out"
	AuditUserCreate    = "user.create"
	AuditUserUpdate    = "user.update"
	AuditKeyCreate     = "api_key.create"
	AuditKeyRevoke     = "api_key.revoke"
	AuditPluginCreate  = "plugin.create"
	AuditVersionCreate = "plugin.version.create"
	AuditPluginDelete  = "plugin.delete"
	AuditHookCreate    = "hook.create"
	AuditHookDelete    = "hook.delete"
)

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	ActorID int64
	Action  string
	Cursor  string
	Limit   int
}

// AuditService keeps the audit log.
type AuditService interface {
	// RecordAudit appends an event and sets its id and time.
	RecordAudit(ctx context.Context, e *AuditEvent) error

	// ListAudit returns a page of events and the cursor of the next page.
	// Returns EINVALID for a bad cursor.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, string, error)
}

// SignIn is a single sign-on under way, between the redirect to the
// identity provider and its callback.
type SignIn struct {
	State string
	// BindingHash is the hash of a cookie set in the browser that started
	// the sign-in, so that a callback from another browser is refused.
	BindingHash []byte
	Nonce       string
	// Verifier is the PKCE code verifier towards the provider.
	Verifier string
	// ReturnTo is the local path a browser goes to once signed in.
	ReturnTo string
	// CLIRedirect, CLIChallenge and CLIState are set when a command line
	// client started the sign-in: it gets a one-time code at its loopback
	// redirect, which only its PKCE verifier can exchange.
	CLIRedirect  string
	CLIChallenge string
	CLIState     string
	ExpiresAt    time.Time
}

// SignInCode is a one-time code for a command line client's sign-in.
type SignInCode struct {
	Hash        []byte
	UserID      int64
	RedirectURI string
	Challenge   string
	ExpiresAt   time.Time
}

// SignInService keeps single sign-ons under way.
type SignInService interface {
	// CreateSignIn stores a sign-in under way.
	CreateSignIn(ctx context.Context, s *SignIn) error

	// TakeSignIn removes and returns an unexpired sign-in. Returns
	// ENOTFOUND.
	TakeSignIn(ctx context.Context, state string, now time.Time) (*SignIn, error)

	// CreateSignInCode stores a one-time code.
	CreateSignInCode(ctx context.Context, c *SignInCode) error

	// TakeSignInCode removes and returns an unexpired code. Returns
	// ENOTFOUND.
	TakeSignInCode(ctx context.Context, hash []byte, now time.Time) (*SignInCode, error)
}
