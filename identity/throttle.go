package identity

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Password sign-in failures allowed before the gateway answers 429: per
// client address (one machine guessing many accounts) and per account (many
// machines guessing one). Successful sign-ins cost nothing.
const (
	failuresPerAddr    = 10
	failuresPerAccount = 20
	failureRefill      = 6 * time.Second // one more try every so often
	// throttleEntries bounds each of the guard's tables. Only failures add
	// entries, and an address's failures are themselves limited, so a
	// client cannot flush others' counts by filling a table; when one is
	// full, the least recently used entry goes.
	throttleEntries = 100000
)

// limiterTable keeps a token bucket per key: burst tokens, one more every
// refill. When it holds throttleEntries, the least recently used goes. Its
// zero value is ready.
type limiterTable struct {
	burst  int
	refill time.Duration

	once sync.Once
	mu   sync.Mutex
	m    *lru.Cache[string, *rate.Limiter]
}

func (t *limiterTable) init() {
	t.once.Do(func() { t.m, _ = lru.New[string, *rate.Limiter](throttleEntries) })
}

// peek returns the bucket of key, if it has one, without adding one.
func (t *limiterTable) peek(key string) (*rate.Limiter, bool) {
	t.init()
	return t.m.Peek(key)
}

// get returns the bucket of key, adding a full one when it has none.
func (t *limiterTable) get(key string) *rate.Limiter {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.m.Get(key)
	if !ok {
		l = rate.NewLimiter(rate.Every(t.refill), t.burst)
		t.m.Add(key, l)
	}
	return l
}

// signinGuard slows password guessing down.
type signinGuard struct {
	byAddr, byAccount limiterTable
}

func newSigninGuard() *signinGuard {
	return &signinGuard{
		byAddr:    limiterTable{burst: failuresPerAddr, refill: failureRefill},
		byAccount: limiterTable{burst: failuresPerAccount, refill: failureRefill},
	}
}

// accountKey is the account a sign-in names, as the user look-up reads
// it: without surrounding spaces, in lower case.
func accountKey(account string) string { return strings.ToLower(strings.TrimSpace(account)) }

// addrKey is the throttle's key of a client address: the address, or its
// /64 for IPv6, since one client usually holds a whole /64.
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return addr
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// wait says how long a sign-in from addr to account must wait, or 0. It
// adds no entry: a refused request costs the guard nothing.
func (g *signinGuard) wait(addr, account string, now time.Time) time.Duration {
	var d time.Duration
	if l, ok := g.byAddr.peek(addrKey(addr)); ok {
		d = untilToken(l, now)
	}
	if l, ok := g.byAccount.peek(accountKey(account)); ok {
		d = max(d, untilToken(l, now))
	}
	return d
}

// failed spends a try of addr and of account.
func (g *signinGuard) failed(addr, account string, now time.Time) {
	g.byAddr.get(addrKey(addr)).AllowN(now, 1)
	g.byAccount.get(accountKey(account)).AllowN(now, 1)
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

// addrLimiter limits something per client address (an IPv6 client's /64).
type addrLimiter struct{ limiterTable }

// take spends one of addr's allowance at now, or says how long addr must
// wait for one.
func (a *addrLimiter) take(addr string, now time.Time) time.Duration {
	r := a.get(addrKey(addr)).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// clientAddr is the address a request came from: its peer, or, when the
// peer is a trusted proxy, the nearest address in X-Forwarded-For that is
// not one. Forwarding headers from anyone else are not trusted: a client
// could set them itself.
func (s *Service) clientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			break // a malformed hop: trust nothing before it
		}
		if !s.trusted(hop) {
			return hop
		}
		peer = hop
	}
	return peer
}

// trusted reports whether addr is one of the trusted proxies.
func (s *Service) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
