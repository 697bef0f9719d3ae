package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/password"
)

// tokenPrefix marks Orc's own bearer tokens, so that they can be told apart
// from API keys and OIDC tokens without a database look-up.
const tokenPrefix = "orc_t_"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// hashToken returns the hash under which a token is stored.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// authenticate puts the request's principal in its context, or answers 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(orc.NewContextWithPrincipal(r.Context(), p)))
	})
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
		p, err := s.principal(r)
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

func (s *Server) principal(r *http.Request) (*orc.Principal, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "a bearer token is required")
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "invalid or expired token")
	}
	hash := hashToken(token)
	now := s.Clock.Now()
	if p, ok := s.principals.get(string(hash), now); ok {
		return p, nil
	}
	u, err := s.Users.FindToken(r.Context(), hash, now)
	if orc.ErrorCode(err) == orc.ENOTFOUND {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "invalid or expired token")
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, orc.Errorf(orc.EUNAUTHORIZED, "account disabled")
	}
	p := &orc.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Method: orc.AuthToken}
	s.principals.put(string(hash), p, now)
	return p, nil
}

// tokenResponse is the seed's OAuth2 password-flow answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleToken signs a local account in: form (or JSON) username and
// password in, a bearer token out.
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
		username, pw = r.PostForm.Get("username"), r.PostForm.Get("password")
	}
	if username == "" || pw == "" {
		s.error(w, r, orc.Errorf(orc.EINVALID, "username and password are required"))
		return
	}
	u, err := s.Users.FindUserByEmail(r.Context(), username)
	if err != nil && orc.ErrorCode(err) != orc.ENOTFOUND {
		s.error(w, r, err)
		return
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !password.Check(hash, pw) || u.Disabled {
		s.error(w, r, orc.Errorf(orc.EUNAUTHORIZED, "incorrect username or password"))
		return
	}
	raw := make([]byte, 32)
	rand.Read(raw) //nolint:errcheck // crypto/rand.Read never fails
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	if err := s.Users.CreateToken(r.Context(), u.ID, hashToken(token), s.Clock.Now().Add(s.cfg.TokenTTL)); err != nil {
		s.error(w, r, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "signed in", "user_id", u.ID, "method", orc.AuthToken)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "bearer", ExpiresIn: int64(s.cfg.TokenTTL.Seconds())})
}

// meResponse describes the principal, with the seed's field names beside
// Orc's.
type meResponse struct {
	ID          int64    `json:"id"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	FullName    string   `json:"full_name"`
	Role        orc.Role `json:"role"`
	IsActive    bool     `json:"is_active"`
	IsSuperuser bool     `json:"is_superuser"`
	AuthMethod  string   `json:"auth_method"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	u, err := s.Users.FindUserByID(r.Context(), p.UserID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meResponse{
		ID: u.ID, Email: u.Email, Name: u.Name, FullName: u.Name, Role: u.Role,
		IsActive: !u.Disabled, IsSuperuser: u.Role == orc.RoleAdmin, AuthMethod: p.Method,
	})
}

// require answers 403 unless ok.
func (s *Server) require(w http.ResponseWriter, r *http.Request, ok bool, what string) bool {
	if !ok {
		s.error(w, r, orc.Errorf(orc.EFORBIDDEN, "your role may not %s", what))
	}
	return ok
}
