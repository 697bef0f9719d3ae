// Package identity knows who is calling and what they may do: it finds the
// principal of a request (an Orc token, an API key, an OpenID provider's
// bearer token, or a browser's session cookie), applies the CSRF rule to
// session cookies, limits each role's rate and invocations in flight,
// signs local accounts in (with a throttle on guessing), runs single
// sign-on in the browser and for the command line, mints API keys, hashes
// passwords, and records the audit log.
//
// It is HTTP middleware and handlers, but it writes no response body of its
// own: every error goes to the ErrorWriter its caller passes, so the API
// answers in its JSON shape and the console with a page, on the same
// sessions and rules.
package identity

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/ttlcache"
)

// Config tunes identity. The zero value of each field means its default.
type Config struct {
	// TokenTTL is how long a token from the token endpoint lives (24h).
	TokenTTL time.Duration
	// SessionTTL is how long a browser's single sign-on session lasts (12h).
	SessionTTL time.Duration
	// CacheTTL is how long a credential's principal is cached (2s;
	// negative disables). A disabled account or a revoked key takes up to
	// this long to show on another gateway.
	CacheTTL time.Duration
	// PublicURL is the gateway's address as browsers see it (for the
	// session cookie's Secure flag and the CSRF origin check); empty: the
	// request's own.
	PublicURL string
	// Limits are the rate and in-flight limits of each role; roles left
	// out get DefaultLimits.
	Limits map[orc.Role]Limit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (for the sign-in throttle and the audit log); none: the
	// peer is the client.
	TrustedProxies []netip.Prefix
}

func (c *Config) setDefaults() {
	if c.TokenTTL == 0 {
		c.TokenTTL = 24 * time.Hour
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 2 * time.Second
	}
}

// ErrorWriter answers a request with an error. Errors carry Orc's codes;
// an ERATELIMIT error carries when to retry.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// InFlightCounter counts a user's queued and running invocations.
type InFlightCounter interface {
	CountUnfinished(ctx context.Context, ownerID int64) (int, error)
}

// Service is identity. Set its service fields before use.
type Service struct {
	Users    orc.UserService
	Keys     orc.APIKeyService
	SignIns  orc.SignInService
	AuditLog orc.AuditService
	// InFlight counts invocations for the in-flight limit; nil: none.
	InFlight InFlightCounter
	// Policies holds the quotas of API keys; nil: none.
	Policies orc.PolicyService
	// OIDC is the trusted OpenID provider; nil disables single sign-on
	// and its bearer tokens.
	OIDC   *OIDC
	Logger *slog.Logger
	Clock  orc.Clock

	cfg        Config
	publicURL  *url.URL
	limits     *limiters
	throttle   *signinGuard
	starts     *addrLimiter // single sign-ons started, per address
	principals *ttlcache.Cache[*orc.Principal]
}

// New returns a Service.
func New(cfg Config) *Service {
	cfg.setDefaults()
	s := &Service{cfg: cfg, Logger: slog.Default(), Clock: orc.SystemClock{},
		limits: newLimiters(cfg.Limits), principals: ttlcache.New[*orc.Principal](cfg.CacheTTL),
		throttle: newSigninGuard(),
		starts:   &addrLimiter{limiterTable{burst: signInStarts, refill: signInStartRefill}}}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
		s.publicURL = u
	}
	return s
}

// Changed forgets every cached principal: call it after an account or a
// key changed, so that the change shows at once on this gateway.
func (s *Service) Changed() { s.principals.Clear() }

// Limit returns the limits of a role.
func (s *Service) Limit(role orc.Role) Limit { return s.limits.of(role) }
