package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/orc-gateway/orc"
)

// HeaderCSRF is the header that a request authenticated by the session
// cookie must carry (any value) to change anything, unless its Origin is
// the gateway's own. Browsers send custom headers cross-site only after a
// CORS preflight, which the gateway never grants.
const HeaderCSRF = "X-Orc-Csrf"

// Authenticate is middleware that puts the request's principal in its
// context, applies the CSRF rule to session cookies and the principal's
// rate limit, or answers through fail (EUNAUTHORIZED, EFORBIDDEN,
// ERATELIMIT, EUNAVAILABLE).
func (s *Service) Authenticate(fail ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := s.Principal(r)
			if err == nil && p.Session {
				err = s.CheckCSRF(r)
			}
			if err == nil {
				err = s.limits.allow(p, s.Clock.Now())
			}
			if err != nil {
				fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(orc.NewContextWithPrincipal(r.Context(), p)))
		})
	}
}

// CheckCSRF refuses (EFORBIDDEN) a cookie-authenticated request that
// changes something unless it carries HeaderCSRF or comes from the
// gateway's own origin.
func (s *Service) CheckCSRF(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get(HeaderCSRF) != "" {
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" && o == s.origin(r) {
		return nil
	}
	return orc.Errorf(orc.EFORBIDDEN, "a request signed in by the session cookie needs the %s header or a same-origin Origin to change anything", HeaderCSRF)
}

// origin is the gateway's own origin: the configured public URL's, else the
// request's.
func (s *Service) origin(r *http.Request) string {
	if s.publicURL != nil {
		return s.publicURL.Scheme + "://" + s.publicURL.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// LimitInFlight is middleware that refuses (ERATELIMIT) a new invocation
// while the principal has as many queued or running ones as its role may.
// Concurrent requests may pass the count together, so the cap can be
// overshot by a burst's size.
func (s *Service) LimitInFlight(fail ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := orc.PrincipalFromContext(r.Context())
			lim := s.limits.of(p.Role)
			if lim.InFlight <= 0 || s.InFlight == nil {
				next.ServeHTTP(w, r)
				return
			}
			n, err := s.InFlight.CountUnfinished(r.Context(), p.UserID)
			if err != nil {
				fail(w, r, err)
				return
			}
			if n >= lim.InFlight {
				fail(w, r, rateLimited(time.Second, "you have %d invocations queued or running, the most your role may have", n))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireAdmin is middleware for routes only admins may use; what says
// what they do, for the EFORBIDDEN message.
func RequireAdmin(what string, fail ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !orc.PrincipalFromContext(r.Context()).IsAdmin() {
				fail(w, r, orc.Errorf(orc.EFORBIDDEN, "your role may not %s", what))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// FormToken is the token a form of the web console carries to prove it
// was served to the browser that holds the session: a hash of the
// session cookie's value, which only that browser can read. "" when the
// request has no session.
func (s *Service) FormToken(r *http.Request) string {
	c := sessionCookie(r)
	if c == "" {
		return ""
	}
	h := sha256.Sum256([]byte("orc console form\x00" + c))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// CheckFormToken refuses (EFORBIDDEN) a form whose token is not the
// session's FormToken.
func (s *Service) CheckFormToken(r *http.Request, token string) error {
	want := s.FormToken(r)
	if want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		return orc.Errorf(orc.EFORBIDDEN, "the form expired or came from another site; reload the page and try again")
	}
	return nil
}

// SSOEnabled reports whether single sign-on is configured.
func (s *Service) SSOEnabled() bool { return s.OIDC != nil && s.SignIns != nil }
