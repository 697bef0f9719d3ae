package identity

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orc-gateway/orc/internal/ttlcache"
)

// Password sign-in failures allowed before the gateway answers 429: per
// client address (one machine guessing many accounts) and per account (many
// machines guessing one). Successful sign-ins cost nothing.
const (
	failuresPerAddr    = 10
	failuresPerAccount = 20
	failureRefill      = 6 * time.Second // one more try every so often
)

// signinGuard slows password guessing down.
type signinGuard struct {
	mu        sync.Mutex
	byAddr    map[string]*rate.Limiter
	byAccount map[string]*rate.Limiter
}

// clientAddr is the request's peer address without its port. Headers such
// as X-Forwarded-For are not trusted: a client could set them itself.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (g *signinGuard) limiters(addr, account string) (*rate.Limiter, *rate.Limiter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	get := func(m *map[string]*rate.Limiter, key string, burst int) *rate.Limiter {
		if *m == nil || len(*m) >= ttlcache.Limit {
			*m = make(map[string]*rate.Limiter)
		}
		l := (*m)[key]
		if l == nil {
			l = rate.NewLimiter(rate.Every(failureRefill), burst)
			(*m)[key] = l
		}
		return l
	}
	return get(&g.byAddr, addr, failuresPerAddr), get(&g.byAccount, strings.ToLower(account), failuresPerAccount)
}

// wait says how long a sign-in from addr to account must wait, or 0.
func (g *signinGuard) wait(addr, account string, now time.Time) time.Duration {
	a, b := g.limiters(addr, account)
	return max(untilToken(a, now), untilToken(b, now))
}

// failed spends a try of addr and of account.
func (g *signinGuard) failed(addr, account string, now time.Time) {
	a, b := g.limiters(addr, account)
	a.AllowN(now, 1)
	b.AllowN(now, 1)
}

func untilToken(l *rate.Limiter, now time.Time) time.Duration {
	if l.TokensAt(now) >= 1 {
		return 0
	}
	r := l.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return d
}
