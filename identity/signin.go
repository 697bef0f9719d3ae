package identity

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Issued is a bearer token just issued to a user who signed in.
type Issued struct {
	Token     string
	ExpiresIn time.Duration
}

// PasswordSignIn checks a local account's e-mail address and password and
// issues a bearer token. Failed tries are limited per client address and
// per account.
//
// # Errors
//
// EINVALID when either is empty, EUNAUTHORIZED for a wrong password, an
// unknown or disabled account (the same answer), ERATELIMIT after too many
// failures, with when to retry.
func (s *Service) PasswordSignIn(r *http.Request, username, pw string) (*Issued, error) {
	u, err := s.checkPassword(r, username, pw)
	if err != nil {
		return nil, err
	}
	return s.issue(r, u, orc.AuthToken, "password")
}

// PasswordSession checks a local account's e-mail address and password as
// PasswordSignIn does and starts a browser session: the web console's
// sign-in form. The errors are PasswordSignIn's.
func (s *Service) PasswordSession(w http.ResponseWriter, r *http.Request, username, pw string) error {
	u, err := s.checkPassword(r, username, pw)
	if err != nil {
		return err
	}
	return s.startSession(w, r, u, orc.AuthPassword, "console")
}

// checkPassword finds the enabled local account that the e-mail address
// and password name, within the failed-sign-in limits.
func (s *Service) checkPassword(r *http.Request, username, pw string) (*orc.User, error) {
	if username == "" || pw == "" {
		return nil, orc.Errorf(orc.EINVALID, "username and password are required")
	}
	addr, now := s.clientAddr(r), s.Clock.Now()
	if d := s.throttle.wait(addr, username, now); d > 0 {
		return nil, rateLimited(d, "too many failed sign-ins; try again later")
	}
	u, err := s.Users.FindUserByEmail(r.Context(), username)
	if err != nil && orc.ErrorCode(err) != orc.ENOTFOUND {
		return nil, err
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !CheckPassword(hash, pw) || u.Disabled {
		s.throttle.failed(addr, username, now)
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "incorrect username or password")
	}
	if err := s.Users.RecordSignIn(r.Context(), u.ID, now); err != nil {
		return nil, err
	}
	return u, nil
}

// ExchangeCode is the token endpoint's authorization_code grant: a command
// line client's one-time code, its PKCE verifier and its redirect URI in,
// a bearer token out. Returns EUNAUTHORIZED for anything that does not
// check out.
func (s *Service) ExchangeCode(r *http.Request, code, verifier, redirectURI string) (*Issued, error) {
	bad := orc.Errorf(orc.EUNAUTHORIZED, "invalid or expired code")
	if !strings.HasPrefix(code, codePrefix) || verifier == "" || s.SignIns == nil {
		return nil, bad
	}
	c, err := s.SignIns.TakeSignInCode(r.Context(), hashToken(code), s.Clock.Now())
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.Challenge)) != 1 || redirectURI != c.RedirectURI {
		return nil, bad
	}
	u, err := s.Users.FindUserByID(r.Context(), c.UserID)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "account disabled")
	}
	return s.issue(r, u, orc.AuthOIDC, "cli")
}

// issue issues a bearer token for a user who just signed in and records
// the sign-in.
func (s *Service) issue(r *http.Request, u *orc.User, method, via string) (*Issued, error) {
	token := newSecret(tokenPrefix)
	err := s.Users.StoreToken(r.Context(), &orc.Token{Hash: hashToken(token), UserID: u.ID, Method: method,
		ExpiresAt: s.Clock.Now().Add(s.cfg.TokenTTL)})
	if err != nil {
		return nil, err
	}
	s.Logger.InfoContext(r.Context(), "signed in", "user_id", u.ID, "method", method, "via", via)
	s.Record(r, &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: method},
		&orc.AuditEvent{Action: orc.AuditSignIn, TargetType: "user", Target: itoa(u.ID)}, map[string]string{"via": via})
	return &Issued{Token: token, ExpiresIn: s.cfg.TokenTTL}, nil
}
