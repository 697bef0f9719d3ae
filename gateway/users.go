package gateway

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

// Admins manage accounts at /api/v1/users: list them, create local ones,
// change roles, disable them. Every change is audited, and takes effect at
// once on this gateway (within the principal cache's lifetime on others).

// userID reads the {id} of a users route.
func userID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, orc.Errorf(orc.ENOTFOUND, "user not found")
	}
	return id, nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f orc.UserFilter
	var err error
	if f.AfterID, err = queryID(q, "after_id"); err != nil {
		s.error(w, r, err)
		return
	}
	if f.Limit, err = queryLimit(q); err != nil {
		s.error(w, r, err)
		return
	}
	list, err := s.Users.ListUsers(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if list == nil {
		list = []*orc.User{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err == nil {
		var u *orc.User
		if u, err = s.Users.FindUserByID(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, u)
			return
		}
	}
	s.error(w, r, err)
}

// userCreate is the body of POST /api/v1/users. A user without a password
// can sign in only by single sign-on (linked by the e-mail address).
type userCreate struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Role     orc.Role `json:"role"`
	Password string   `json:"password"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var body userCreate
	if err := s.decodeJSON(w, r, &body); err != nil {
		s.error(w, r, err)
		return
	}
	if err := identity.CheckEmail(body.Email); err != nil {
		s.error(w, r, err)
		return
	}
	if err := identity.CheckUserName(body.Name); err != nil {
		s.error(w, r, err)
		return
	}
	if !body.Role.Valid() {
		s.error(w, r, orc.Errorf(orc.EINVALID, "role must be admin, developer, invoker or viewer"))
		return
	}
	u := &orc.User{Email: body.Email, Name: body.Name, Role: body.Role, RolePinned: true}
	if body.Password != "" {
		hash, err := identity.HashPassword(body.Password)
		if err != nil {
			s.error(w, r, err)
			return
		}
		u.PasswordHash = hash
	}
	if err := s.Users.CreateUser(r.Context(), u); err != nil {
		s.error(w, r, err)
		return
	}
	s.Identity.Record(r, orc.PrincipalFromContext(r.Context()), &orc.AuditEvent{Action: orc.AuditUserCreate, TargetType: "user", Target: itoa(u.ID)},
		map[string]string{"email": u.Email, "role": string(u.Role)})
	w.Header().Set("Location", "/api/v1/users/"+itoa(u.ID))
	writeJSON(w, http.StatusCreated, u)
}

// userPatch is the body of PATCH /api/v1/users/{id}. Setting a role pins
// it: single sign-on no longer changes it from the provider's groups,
// unless role_pinned is set false again.
type userPatch struct {
	Name       *string   `json:"name"`
	Role       *orc.Role `json:"role"`
	Disabled   *bool     `json:"disabled"`
	RolePinned *bool     `json:"role_pinned"`
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	id, err := userID(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var body userPatch
	if err := s.decodeJSON(w, r, &body); err != nil {
		s.error(w, r, err)
		return
	}
	if body.Role != nil && !body.Role.Valid() {
		s.error(w, r, orc.Errorf(orc.EINVALID, "role must be admin, developer, invoker or viewer"))
		return
	}
	if body.Name != nil {
		if err := identity.CheckUserName(*body.Name); err != nil {
			s.error(w, r, err)
			return
		}
	}
	if id == p.UserID && ((body.Role != nil && *body.Role != orc.RoleAdmin) || (body.Disabled != nil && *body.Disabled)) {
		// Else the last admin could lock everyone out.
		s.error(w, r, orc.Errorf(orc.ECONFLICT, "you cannot demote or disable your own account"))
		return
	}
	up := orc.UserUpdate{Name: body.Name, Role: body.Role, Disabled: body.Disabled, RolePinned: body.RolePinned}
	if body.Role != nil && body.RolePinned == nil {
		pinned := true
		up.RolePinned = &pinned
	}
	u, err := s.Users.UpdateUser(r.Context(), id, up)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.Identity.Changed()
	changes := map[string]any{}
	if body.Role != nil {
		changes["role"] = *body.Role
	}
	if body.Disabled != nil {
		changes["disabled"] = *body.Disabled
	}
	if body.Name != nil {
		changes["name"] = *body.Name
	}
	if up.RolePinned != nil {
		changes["role_pinned"] = *up.RolePinned
	}
	s.Identity.Record(r, p, &orc.AuditEvent{Action: orc.AuditUserUpdate, TargetType: "user", Target: itoa(u.ID)}, changes)
	writeJSON(w, http.StatusOK, u)
}
