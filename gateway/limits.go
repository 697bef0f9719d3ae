package gateway

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/ttlcache"
)

// Limit is what one principal of a role may use. Zero fields are unlimited.
type Limit struct {
	// Rate is the sustained requests per second (a token bucket), Burst
	// its size.
	Rate  float64
	Burst int
	// InFlight caps the principal's queued and running invocations.
	InFlight int
}

// DefaultLimits are the limits of roles the configuration leaves out.
// Admins are not limited.
var DefaultLimits = map[orc.Role]Limit{
	orc.RoleAdmin:     {},
	orc.RoleDeveloper: {Rate: 50, Burst: 100, InFlight: 200},
	orc.RoleInvoker:   {Rate: 50, Burst: 100, InFlight: 200},
	orc.RoleViewer:    {Rate: 20, Burst: 40},
}

// limiters keeps one token bucket per user.
type limiters struct {
	byRole map[orc.Role]Limit
	mu     sync.Mutex
	m      map[int64]*userLimiter
}

type userLimiter struct {
	role orc.Role
	lim  *rate.Limiter
}

func newLimiters(byRole map[orc.Role]Limit) *limiters {
	l := &limiters{byRole: map[orc.Role]Limit{}}
	for r, lim := range DefaultLimits {
		l.byRole[r] = lim
	}
	for r, lim := range byRole {
		l.byRole[r] = lim
	}
	return l
}

func (l *limiters) of(role orc.Role) Limit { return l.byRole[role] }

// allow takes a token from the principal's bucket, or answers ERATELIMIT
// with Retry-After set to when one will be there.
func (l *limiters) allow(w http.ResponseWriter, p *orc.Principal, now time.Time) error {
	lim := l.of(p.Role)
	if lim.Rate <= 0 {
		return nil
	}
	l.mu.Lock()
	u := l.m[p.UserID]
	if u == nil || u.role != p.Role {
		if l.m == nil || len(l.m) >= ttlcache.Limit {
			l.m = make(map[int64]*userLimiter)
		}
		u = &userLimiter{role: p.Role, lim: rate.NewLimiter(rate.Limit(lim.Rate), max(lim.Burst, 1))}
		l.m[p.UserID] = u
	}
	l.mu.Unlock()
	res := u.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		retryAfter(w, time.Duration(math.Ceil(d.Seconds()))*time.Second)
		return orc.Errorf(orc.ERATELIMIT, "too many requests: your role may send %g a second", lim.Rate)
	}
	return nil
}

// inflightCounter is implemented by invocation stores that can count a
// user's unfinished invocations.
type inflightCounter interface {
	CountUnfinished(ctx context.Context, ownerID int64) (int, error)
}

// limitInFlight refuses a new invocation while the principal has as many
// queued or running ones as its role may. Concurrent requests may pass the
// count together, so the cap can be overshot by a burst's size.
func (s *Server) limitInFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := orc.PrincipalFromContext(r.Context())
		lim := s.limits.of(p.Role)
		counter, ok := s.Invocations.(inflightCounter)
		if lim.InFlight <= 0 || !ok {
			next.ServeHTTP(w, r)
			return
		}
		n, err := counter.CountUnfinished(r.Context(), p.UserID)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if n >= lim.InFlight {
			retryAfter(w, time.Second)
			s.error(w, r, orc.Errorf(orc.ERATELIMIT, "you have %d invocations queued or running, the most your role may have", n))
			return
		}
		next.ServeHTTP(w, r)
	})
}
