package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/orc-gateway/orc"
)

// The sign-in form is posted before there is a session, so its token is
// a random value that must match a cookie of its own (a double submit):
// another site can make a browser post the form, but cannot read or set
// the cookie.
const loginCookie = "orc_console_login"

type loginData struct {
	Email, ReturnTo, LoginToken string
	SSO                         bool
	SSOURL                      string
}

// returnTo keeps a return address only when it is a console page.
func returnTo(v string) string {
	u, err := url.Parse(v)
	if v == "" || err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(v, "//") ||
		strings.ContainsAny(v, "\\\t\r\n") || (u.Path != Prefix+"/" && !strings.HasPrefix(u.Path, Prefix+"/")) {
		return Prefix + "/"
	}
	return u.RequestURI()
}

func (c *Console) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	c.loginPage(w, r, http.StatusOK, r.URL.Query().Get("return_to"), "", "")
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, status int, back, email, problem string) {
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: Prefix + "/login", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	back = returnTo(back)
	d := &loginData{Email: email, ReturnTo: back, LoginToken: token, SSO: c.cfg.Identity.SSOEnabled(),
		SSOURL: "/auth/login?return_to=" + url.QueryEscape(back)}
	c.render(w, r, status, "login", &page{Title: "Sign in", Problem: problem, Data: d})
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.loginPage(w, r, http.StatusBadRequest, "", "", "The form could not be read.")
		return
	}
	f := r.PostForm
	back, email := f.Get("return_to"), f.Get("email")
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(f.Get("login_token"))) != 1 {
		c.loginPage(w, r, http.StatusForbidden, back, email, "The sign-in form expired. Please try again.")
		return
	}
	if err := c.cfg.Identity.PasswordSession(w, r, email, f.Get("password")); err != nil {
		status, msg := http.StatusUnauthorized, "Incorrect e-mail address or password."
		switch orc.ErrorCode(err) {
		case orc.EINVALID:
			status, msg = http.StatusBadRequest, "Enter your e-mail address and password."
		case orc.ERATELIMIT:
			status, msg = http.StatusTooManyRequests, orc.ErrorMessage(err)
		case orc.EUNAUTHORIZED:
		default:
			c.fail(w, r, err)
			return
		}
		c.loginPage(w, r, status, back, email, msg)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: Prefix + "/login", MaxAge: -1})
	http.Redirect(w, r, returnTo(back), http.StatusSeeOther)
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	a, err := c.call(r, http.MethodPost, "/auth/logout", nil, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, ck := range a.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", ck)
	}
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}
