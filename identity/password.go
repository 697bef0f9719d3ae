package identity

import (
	"errors"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is bcrypt's work factor: about 50 ms per check on a current core.
const PasswordCost = 11

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// ErrPasswordTooShort is returned for passwords under MinPasswordLength.
var ErrPasswordTooShort = errors.New("password must be at least 8 characters")

// HashPassword returns the bcrypt hash of a password.
func HashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLength {
		return "", ErrPasswordTooShort
	}
	if len(pw) > 72 {
		return "", errors.New("password must be at most 72 bytes")
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
