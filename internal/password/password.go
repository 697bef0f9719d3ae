// Package password hashes and checks local account passwords with bcrypt.
package password

import (
	"errors"

	"golang.org/x/crypto/bcrypt"
)

// Cost is bcrypt's work factor: about 50 ms per check on a current core.
const Cost = 11

// MinLength is the shortest password accepted.
const MinLength = 8

// ErrTooShort is returned for passwords under MinLength.
var ErrTooShort = errors.New("password must be at least 8 characters")

// Hash returns the bcrypt hash of a password.
func Hash(pw string) (string, error) {
	if len(pw) < MinLength {
		return "", ErrTooShort
	}
	if len(pw) > 72 {
		return "", errors.New("password must be at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), Cost)
	return string(h), err
}

// dummy is compared against when a user does not exist, so that an unknown
// e-mail takes as long to refuse as a wrong password.
var dummy, _ = bcrypt.GenerateFromPassword([]byte("orc-timing-equalizer"), Cost)

// Check reports whether pw matches hash. An empty hash (no password set)
// never matches, and costs the same time as a real check.
func Check(hash, pw string) bool {
	if hash == "" {
		bcrypt.CompareHashAndPassword(dummy, []byte(pw)) //nolint:errcheck
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}
