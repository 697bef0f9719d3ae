package identity

import (
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

// allow takes a token from the principal's bucket, or returns ERATELIMIT
// saying when one will be there.
func (l *limiters) allow(p *orc.Principal, now time.Time) error {
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
		return rateLimited(d, "too many requests: your role may send %g a second", lim.Rate)
	}
	return nil
}

// rateLimited is an ERATELIMIT error whose client may retry after d.
func rateLimited(d time.Duration, format string, args ...any) error {
	e := orc.Errorf(orc.ERATELIMIT, format, args...)
	e.RetryAfter = d
	return e
}
