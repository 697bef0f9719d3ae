package identity

import (
	"golang.org/x/crypto/bcrypt"

	"github.com/orc-gateway/orc"
)

// PasswordCost is bcrypt's work factor: about 50 ms per check on a current core.
const PasswordCost = 11

// MinPasswordLength is the shortest password accepted, and
// MaxPasswordBytes the longest: bcrypt reads no more than 72 bytes, so a
// longer password would be cut without its owner knowing.
const (
	MinPasswordLength = 8
	MaxPasswordBytes  = 72
)

// ErrPasswordTooShort is returned for passwords under MinPasswordLength.
var ErrPasswordTooShort = orc.Errorf(orc.EINVALID, "password must be at least %d characters", MinPasswordLength)

// HashPassword returns the bcrypt hash of a password. Returns EINVALID for
// a password shorter than MinPasswordLength or longer than
// MaxPasswordBytes.
func HashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLength {
		return "", ErrPasswordTooShort
	}
	if len(pw) > MaxPasswordBytes {
		return "", orc.Errorf(orc.EINVALID, "password must be at most %d bytes (it is %d)", MaxPasswordBytes, len(pw))
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), PasswordCost)
	return string(h), err
}

// dummy is compared against when a user does not exist, so that an unknown
// e-mail takes as long to refuse as a wrong password.
var dummy, _ = bcrypt.GenerateFromPassword([]byte("orc-timing-equalizer"), PasswordCost)

// CheckPassword reports whether pw matches hash. An empty hash (no password set)
// never matches, and costs the same time as a real check.
func CheckPassword(hash, pw string) bool {
	if hash == "" {
		bcrypt.CompareHashAndPassword(dummy, []byte(pw)) //nolint:errcheck
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}
