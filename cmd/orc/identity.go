package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

// IdentityConfig configures how people and programs sign in to the
// gateway: single sign-on with an OpenID provider, browser sessions, and
// the limits of each role.
type IdentityConfig struct {
	// PublicURL is the gateway's address as browsers see it; the
	// provider redirects to PublicURL/auth/callback. Empty: the address
	// the gateway listens on.
	PublicURL  string
	SessionTTL time.Duration

	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCAudience     string
	OIDCScopes       string // comma-separated
	OIDCAlgorithms   string // comma-separated
	OIDCLeeway       time.Duration
	OIDCJWKSRefresh  time.Duration
	OIDCGroupsClaim  string
	OIDCRoleMap      roleMap
	OIDCDefaultRole  string

	Limits roleLimits
	// TrustedProxies lists the reverse proxies whose X-Forwarded-For
	// names the client: addresses or CIDRs, comma-separated.
	TrustedProxies string
}

// defaultIdentity returns the identity configuration's defaults.
func defaultIdentity() IdentityConfig {
	return IdentityConfig{
		SessionTTL:      12 * time.Hour,
		OIDCScopes:      "openid,email,profile",
		OIDCAlgorithms:  "RS256,ES256",
		OIDCLeeway:      30 * time.Second,
		OIDCJWKSRefresh: time.Minute,
		OIDCGroupsClaim: "groups",
		OIDCDefaultRole: string(orc.RoleViewer),
		Limits:          roleLimits{},
	}
}

// identityFlags registers the gateway's identity flags.
func identityFlags(fs *flag.FlagSet, c *IdentityConfig) {
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "the gateway's URL as browsers see it (default: its listening address)")
	fs.DurationVar(&c.SessionTTL, "session-ttl", c.SessionTTL, "lifetime of a browser's single sign-on session")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer, "OpenID provider's issuer URL; enables single sign-on and its bearer tokens")
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", c.OIDCClientID, "the gateway's client id at the provider")
	fs.StringVar(&c.OIDCClientSecret, "oidc-client-secret", c.OIDCClientSecret, "the gateway's client secret (prefer ORC_OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.OIDCAudience, "oidc-audience", c.OIDCAudience, "audience bearer tokens must carry (default: the client id)")
	fs.StringVar(&c.OIDCScopes, "oidc-scopes", c.OIDCScopes, "scopes asked for at sign-in, comma-separated")
	fs.StringVar(&c.OIDCAlgorithms, "oidc-algorithms", c.OIDCAlgorithms, "accepted token signature algorithms, comma-separated (asymmetric only)")
	fs.DurationVar(&c.OIDCLeeway, "oidc-leeway", c.OIDCLeeway, "clock skew allowed on token times")
	fs.DurationVar(&c.OIDCJWKSRefresh, "oidc-jwks-refresh", c.OIDCJWKSRefresh, "least time between key fetches caused by unknown key ids")
	fs.StringVar(&c.OIDCGroupsClaim, "oidc-groups-claim", c.OIDCGroupsClaim, "claim that lists a user's groups")
	fs.Var(&c.OIDCRoleMap, "oidc-role-map", "roles of groups: group=role,group=role (the most powerful wins)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "reverse proxies whose X-Forwarded-For names the client: addresses or CIDRs, comma-separated")
	fs.StringVar(&c.OIDCDefaultRole, "oidc-default-role", c.OIDCDefaultRole, "role of new users in no mapped group; none refuses them")
	for _, r := range []orc.Role{orc.RoleAdmin, orc.RoleDeveloper, orc.RoleInvoker, orc.RoleViewer} {
		fs.Var(roleLimitFlag{c.Limits, r}, "limit-"+string(r),
			fmt.Sprintf("limits of %ss: rate=R,burst=B,inflight=N (0 is unlimited; default %s)", r, formatLimit(identity.DefaultLimits[r])))
	}
}

// openIdentity discovers the OpenID provider when an issuer is configured.
// It runs once the gateway listens, since the callback URL defaults to its
// address.
func (m *Gateway) openIdentity(ctx context.Context) error {
	c := m.Config.Identity
	if c.OIDCIssuer == "" {
		return nil
	}
	base := strings.TrimSuffix(c.PublicURL, "/")
	if base == "" {
		base = m.URL()
	}
	role := c.OIDCDefaultRole
	if role == "none" {
		role = ""
	}
	o, err := identity.NewOIDC(ctx, identity.OIDCConfig{
		Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret, Audience: c.OIDCAudience,
		RedirectURL: base + "/auth/callback", Scopes: splitList(c.OIDCScopes), Algorithms: splitList(c.OIDCAlgorithms),
		Leeway: c.OIDCLeeway, JWKSRefreshInterval: c.OIDCJWKSRefresh, GroupsClaim: c.OIDCGroupsClaim,
		RoleMap: c.OIDCRoleMap, DefaultRole: orc.Role(role),
	})
	if err != nil {
		return err
	}
	m.Identity.OIDC = o
	m.Logger.Info("single sign-on enabled", "issuer", c.OIDCIssuer, "callback", base+"/auth/callback")
	return nil
}

// parsePrefixes reads a comma-separated list of addresses and CIDRs.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(list) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%w: --trusted-proxies: %q is neither an address nor a CIDR", errUsage, f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// roleMap is the flag value group=role,group=role.
type roleMap map[string]orc.Role

func (m *roleMap) String() string {
	if m == nil {
		return ""
	}
	var parts []string
	for g, r := range *m {
		parts = append(parts, g+"="+string(r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (m *roleMap) Set(s string) error {
	out := roleMap{}
	for _, pair := range splitList(s) {
		g, r, ok := strings.Cut(pair, "=")
		if !ok || g == "" || !orc.Role(r).Valid() {
			return fmt.Errorf("want group=role with role admin, developer, invoker or viewer, got %q", pair)
		}
		out[g] = orc.Role(r)
	}
	*m = out
	return nil
}

// roleLimits are the configured limits by role.
type roleLimits map[orc.Role]identity.Limit

// roleLimitFlag sets one role's limits: rate=R,burst=B,inflight=N.
type roleLimitFlag struct {
	m    roleLimits
	role orc.Role
}

func (f roleLimitFlag) String() string {
	if f.m == nil {
		return ""
	}
	if l, ok := f.m[f.role]; ok {
		return formatLimit(l)
	}
	return ""
}

func (f roleLimitFlag) Set(s string) error {
	l := identity.DefaultLimits[f.role]
	for _, pair := range splitList(s) {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("want rate=R,burst=B,inflight=N, got %q", pair)
		}
		var err error
		switch k {
		case "rate":
			l.Rate, err = strconv.ParseFloat(v, 64)
		case "burst":
			l.Burst, err = strconv.Atoi(v)
		case "inflight":
			l.InFlight, err = strconv.Atoi(v)
		default:
			return fmt.Errorf("unknown limit %q (rate, burst, inflight)", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if l.Rate < 0 || l.Burst < 0 || l.InFlight < 0 {
			return fmt.Errorf("limits cannot be negative")
		}
	}
	f.m[f.role] = l
	return nil
}

func formatLimit(l identity.Limit) string {
	return fmt.Sprintf("rate=%g,burst=%d,inflight=%d", l.Rate, l.Burst, l.InFlight)
}
