package identity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

func TestSigninGuard(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		failures func(g *signinGuard)
		addr     string
		account  string
		after    time.Duration
		blocked  bool
	}{
		{"no failures", func(g *signinGuard) {}, "10.0.0.1", "ada@example.com", 0, false},
		{"nine failures from an address", fail("10.0.0.1", "x@example.com", 9), "10.0.0.1", "ada@example.com", 0, false},
		{"ten failures from an address block it for every account", fail("10.0.0.1", "x@example.com", 10), "10.0.0.1", "ada@example.com", 0, true},
		{"another address is not blocked", fail("10.0.0.1", "x@example.com", 10), "10.0.0.2", "ada@example.com", 0, false},
		{"a try comes back after the refill", fail("10.0.0.1", "x@example.com", 10), "10.0.0.1", "ada@example.com", failureRefill, false},
		{"twenty failures on an account block it from anywhere", spread("ada@example.com", 20), "10.9.9.9", "ADA@example.com", 0, true},
		{"nineteen do not", spread("ada@example.com", 19), "10.9.9.9", "ada@example.com", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newSigninGuard()
			tc.failures(g)
			d := g.wait(tc.addr, tc.account, now.Add(tc.after))
			if (d > 0) != tc.blocked {
				t.Fatalf("wait = %v, blocked want %v", d, tc.blocked)
			}
			if tc.blocked && (d > failureRefill || d <= 0) {
				t.Fatalf("wait = %v, want at most %v", d, failureRefill)
			}
		})
	}
}

var t0Guard = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// fail records n failures from one address.
func fail(addr, account string, n int) func(g *signinGuard) {
	return func(g *signinGuard) {
		for i := 0; i < n; i++ {
			g.failed(addr, account, t0Guard)
		}
	}
}

// spread records n failures on one account, each from its own address.
func spread(account string, n int) func(g *signinGuard) {
	return func(g *signinGuard) {
		for i := 0; i < n; i++ {
			g.failed("10.1.0."+string(rune('a'+i)), account, t0Guard)
		}
	}
}

// The throttle cannot be stepped around: the account is the one the
// look-up reads, an IPv6 client is one /64, a refused request adds
// nothing, and many other failures do not flush an account's count.
func TestSigninGuardBypasses(t *testing.T) {
	now := t0Guard
	t.Run("spaces and case name the same account", func(t *testing.T) {
		g := newSigninGuard()
		spread("ada@example.com", 20)(g)
		for _, name := range []string{" ada@example.com", "ADA@example.com ", "\tAda@Example.com"} {
			if g.wait("10.9.9.9", name, now) == 0 {
				t.Errorf("%q gets fresh tries", name)
			}
		}
	})
	t.Run("an IPv6 client is its /64", func(t *testing.T) {
		g := newSigninGuard()
		for i := 0; i < 10; i++ {
			g.failed("2001:db8:1:2::"+strconv.Itoa(i+1), "x"+strconv.Itoa(i)+"@example.com", now)
		}
		if g.wait("2001:db8:1:2:ffff::1", "ada@example.com", now) == 0 {
			t.Error("another address of the same /64 is not blocked")
		}
		if g.wait("2001:db8:1:3::1", "ada@example.com", now) != 0 {
			t.Error("another /64 is blocked")
		}
	})
	t.Run("a refused request adds nothing", func(t *testing.T) {
		g := newSigninGuard()
		for i := 0; i < 1000; i++ {
			g.wait("10.0.0.1", "user"+strconv.Itoa(i)+"@example.com", now)
		}
		if n := g.byAccount.m.Len() + g.byAddr.m.Len(); n != 0 {
			t.Errorf("%d entries after only waits", n)
		}
	})
	t.Run("other failures do not flush an account", func(t *testing.T) {
		g := newSigninGuard()
		spread("victim@example.com", 20)(g)
		for i := 0; i < 50000; i++ {
			g.failed("10.2."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), "u"+strconv.Itoa(i)+"@example.com", now)
		}
		if g.wait("10.9.9.9", "victim@example.com", now) == 0 {
			t.Error("the victim's count was flushed")
		}
	})
}

func TestClientAddr(t *testing.T) {
	s := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}})
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"direct", "203.0.113.5:1234", "", "203.0.113.5"},
		{"untrusted peer's header is ignored", "203.0.113.5:1234", "198.51.100.1", "203.0.113.5"},
		{"through a trusted proxy", "10.0.0.2:1234", "198.51.100.1", "198.51.100.1"},
		{"the nearest untrusted hop", "10.0.0.2:1234", "192.0.2.66, 198.51.100.1, 10.0.0.9", "198.51.100.1"},
		{"a forged hop past a malformed one", "10.0.0.2:1234", "192.0.2.66, junk", "10.0.0.2"},
		{"only proxies", "10.0.0.2:1234", "10.0.0.3", "10.0.0.3"},
		{"IPv6 proxy", "[fd00::1]:1234", "2001:db8::7", "2001:db8::7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/token", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := s.clientAddr(r); got != tc.want {
				t.Errorf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
	if got := New(Config{}).clientAddr(&http.Request{RemoteAddr: "10.0.0.2:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}); got != "10.0.0.2" {
		t.Errorf("without trusted proxies: %q", got)
	}
}

// Starting single sign-ons stores a row each: an address may start only so
// many, and the refusals store nothing.
func TestSignInStartsAreLimited(t *testing.T) {
	signIns := &countingSignIns{}
	s := New(Config{})
	s.OIDC, s.SignIns = &OIDC{}, signIns
	var refused int
	for i := 0; i < signInStarts+10; i++ {
		r := httptest.NewRequest("GET", "/auth/login", nil)
		r.RemoteAddr = "198.51.100.9:4000"
		w := httptest.NewRecorder()
		s.Login(func(w http.ResponseWriter, r *http.Request, err error) {
			if orc.ErrorCode(err) == orc.ERATELIMIT && orc.ErrorRetryAfter(err) > 0 {
				refused++
			} else {
				t.Errorf("unexpected error: %v", err)
			}
		})(w, r)
	}
	if refused != 10 || signIns.n != signInStarts {
		t.Fatalf("%d refused, %d stored; want 10 refused and %d stored", refused, signIns.n, signInStarts)
	}
	r := httptest.NewRequest("GET", "/auth/login", nil)
	r.RemoteAddr = "198.51.100.10:4000"
	s.Login(func(w http.ResponseWriter, r *http.Request, err error) { t.Errorf("another address: %v", err) })(httptest.NewRecorder(), r)
}

type countingSignIns struct {
	orc.SignInService
	n int
}

func (c *countingSignIns) CreateSignIn(ctx context.Context, in *orc.SignIn) error {
	c.n++
	return nil
}
