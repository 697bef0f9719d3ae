package identity

import (
	"net/mail"
	"unicode/utf8"

	"github.com/orc-gateway/orc"
)

// MaxEmailBytes is the longest e-mail address an account may have (RFC
// 5321's limit of a path), and MaxUserName the longest name.
const (
	MaxEmailBytes = 254
	MaxUserName   = 200
)

// CheckEmail returns EINVALID unless email is a bare e-mail address
// ("ada@example.com", not "Ada <ada@example.com>"): the account's user
// name, which single sign-on also links by.
func CheckEmail(email string) error {
	if len(email) > MaxEmailBytes {
		return orc.Errorf(orc.EINVALID, "email must be at most %d bytes", MaxEmailBytes)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return orc.Errorf(orc.EINVALID, "email must be an e-mail address, such as ada@example.com")
	}
	return nil
}

// CheckUserName returns EINVALID for a name longer than MaxUserName
// characters.
func CheckUserName(name string) error {
	if utf8.RuneCountInString(name) > MaxUserName {
		return orc.Errorf(orc.EINVALID, "name must be at most %d characters", MaxUserName)
	}
	return nil
}
