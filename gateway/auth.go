package gateway

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// tokenResponse is the seed's OAuth2 password-flow answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleToken is the token endpoint: a local account's username and
// password (form or JSON, the seed's password grant), or a command line
// sign-in's one-time code and PKCE verifier (grant_type
// authorization_code), in; a bearer token out.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	var username, pw string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Username string `json:"username"`
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := s.decodeJSON(w, r, &body); err != nil {
			s.error(w, r, err)
			return
		}
		username, pw = body.Username, body.Password
		if username == "" {
			username = body.Email
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.error(w, r, orc.Errorf(orc.EINVALID, "malformed form body"))
			return
		}
		if err := checkForm(r.Form); err != nil {
			s.error(w, r, err)
			return
		}
		switch f := r.PostForm; f.Get("grant_type") {
		case "", "password":
			username, pw = f.Get("username"), f.Get("password")
		case "authorization_code":
			issued, err := s.Identity.ExchangeCode(r, f.Get("code"), f.Get("code_verifier"), f.Get("redirect_uri"))
			s.writeToken(w, r, issued, err)
			return
		default:
			s.error(w, r, orc.Errorf(orc.EINVALID, "grant_type must be password or authorization_code"))
			return
		}
	}
	issued, err := s.Identity.PasswordSignIn(r, username, pw)
	s.writeToken(w, r, issued, err)
}

// writeToken answers the token endpoint.
func (s *Server) writeToken(w http.ResponseWriter, r *http.Request, issued *identity.Issued, err error) {
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: issued.Token, TokenType: "bearer", ExpiresIn: int64(issued.ExpiresIn.Seconds())})
}

// meResponse describes the principal, with the seed's field names beside
// Orc's.
type meResponse struct {
	ID          int64    `json:"id"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	FullName    string   `json:"full_name"`
	Role        orc.Role `json:"role"`
	AccountRole orc.Role `json:"account_role"`
	IsActive    bool     `json:"is_active"`
	IsSuperuser bool     `json:"is_superuser"`
	AuthMethod  string   `json:"auth_method"`
	Session     bool     `json:"session"`
	APIKeyID    int64    `json:"api_key_id,omitempty"`
	SSO         bool     `json:"sso"`
}

// handleMe shows the principal: its account, the role it acts with (an API
// key's may be narrower than the account's) and how it signed in.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	u, err := s.Users.FindUserByID(r.Context(), p.UserID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meResponse{
		ID: u.ID, Email: u.Email, Name: u.Name, FullName: u.Name, Role: p.Role, AccountRole: u.Role,
		IsActive: !u.Disabled, IsSuperuser: p.Role == orc.RoleAdmin, AuthMethod: p.Method,
		Session: p.Session, APIKeyID: p.APIKeyID, SSO: u.OIDCSubject != "",
	})
}

// require answers 403 unless ok.
func (s *Server) require(w http.ResponseWriter, r *http.Request, ok bool, what string) bool {
	if !ok {
		s.error(w, r, orc.Errorf(orc.EFORBIDDEN, "your role may not %s", what))
	}
	return ok
}

// authenticateMetrics lets the metrics token or an admin read /metrics.
func (s *Server) authenticateMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := s.cfg.MetricsToken; tok != "" {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		}
		p, err := s.Identity.Principal(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if !s.require(w, r, p.IsAdmin(), "read metrics") {
			return
		}
		next.ServeHTTP(w, r)
	})
}
