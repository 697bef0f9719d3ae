package identity

import (
	"testing"
	"time"
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
			g := &signinGuard{}
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
