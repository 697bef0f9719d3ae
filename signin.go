package orc

import (
	"context"
	"time"
)

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
