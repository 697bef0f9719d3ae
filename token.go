package orc

import "time"

// Token is a sign-in token or a browser session, stored only as a hash.
type Token struct {
	Hash   []byte
	UserID int64
	// Method is how its holder signed in (AuthToken, AuthOIDC).
	Method string
	// Session marks a browser session, sent as a cookie.
	Session   bool
	ExpiresAt time.Time
}
