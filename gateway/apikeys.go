package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
)

// apiKeyCreate is the body of POST /api/v1/api-keys.
type apiKeyCreate struct {
	Name string `json:"name"`
	// Role narrows the key; it may not exceed the creator's role
	// (identity.KeyRequest).
	Role orc.Role `json:"role"`
	// ExpiresAt or ExpiresIn (seconds) end the key; neither: it lasts
	// until revoked.
	ExpiresAt *time.Time `json:"expires_at"`
	ExpiresIn int64      `json:"expires_in"`
}

// createdKey is the answer to a created key: the only time the key itself
// is shown.
type createdKey struct {
	*orc.APIKey
	Key string `json:"key"`
}

// handleCreateAPIKey creates a key of the principal's own.
func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request) {
	var body apiKeyCreate
	if err := s.decodeJSON(w, r, &body); err != nil {
		s.error(w, r, err)
		return
	}
	k, key, err := s.Identity.CreateAPIKey(r, orc.PrincipalFromContext(r.Context()), identity.KeyRequest{
		Name: body.Name, Role: body.Role, ExpiresAt: body.ExpiresAt, ExpiresIn: body.ExpiresIn,
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/api-keys/"+itoa(k.ID))
	writeJSON(w, http.StatusCreated, createdKey{APIKey: k, Key: key})
}

// handleListAPIKeys lists the principal's keys; admins may ask for a
// user's (?user_id=) or everyone's (?all=true).
func (s *Server) handleListAPIKeys(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	q := r.URL.Query()
	owner := p.UserID
	if p.IsAdmin() {
		all, err := queryBool(q, "all")
		if err != nil {
			s.error(w, r, err)
			return
		}
		if all {
			owner = 0
		} else if n, err := queryID(q, "user_id"); err != nil {
			s.error(w, r, err)
			return
		} else if n != 0 {
			owner = n
		}
	}
	list, err := s.Keys.ListAPIKeys(r.Context(), owner)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if list == nil {
		list = []*orc.APIKey{}
	}
	writeJSON(w, http.StatusOK, list)
}

// visibleAPIKey returns a key of the principal's own (any, for admins);
// others' keys are not found.
func (s *Server) visibleAPIKey(r *http.Request) (*orc.APIKey, error) {
	notFound := orc.Errorf(orc.ENOTFOUND, "API key not found")
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return nil, notFound
	}
	k, err := s.Keys.FindAPIKey(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !orc.PrincipalFromContext(r.Context()).CanSee(k.UserID) {
		return nil, notFound
	}
	return k, nil
}

func (s *Server) handleGetAPIKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.visibleAPIKey(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, k)
}

// handleRevokeAPIKey revokes a key at once (on this gateway; within the
// principal cache's lifetime on others).
func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	k, err := s.visibleAPIKey(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if k, err = s.Keys.RevokeAPIKey(r.Context(), k.ID, s.Clock.Now()); err != nil {
		s.error(w, r, err)
		return
	}
	s.Identity.Changed()
	s.Identity.Record(r, p, &orc.AuditEvent{Action: orc.AuditKeyRevoke, TargetType: "api_key", Target: itoa(k.ID)}, map[string]any{"prefix": k.Prefix, "owner_id": k.UserID})
	writeJSON(w, http.StatusOK, k)
}
