package gateway

import (
	"net/http"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/registry"
)

// handleGetPolicy is GET /api/v1/policy: the policy in force, for every
// signed-in user (its caps and quotas are what their registrations meet).
func (s *Server) handleGetPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.Policies.Policy(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handlePutPolicy is PUT /api/v1/policy: an admin replaces the policy
// whole. It applies to registrations from then on; what is registered
// stays.
func (s *Server) handlePutPolicy(w http.ResponseWriter, r *http.Request) {
	var p orc.Policy
	if err := s.decodeJSON(w, r, &p); err != nil {
		s.error(w, r, err)
		return
	}
	if err := registry.CheckPolicy(&p); err != nil {
		s.error(w, r, err)
		return
	}
	p.UpdatedBy = orc.PrincipalFromContext(r.Context()).UserID
	if err := s.Policies.SetPolicy(r.Context(), &p); err != nil {
		s.error(w, r, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "policy set", "user_id", p.UpdatedBy)
	writeJSON(w, http.StatusOK, &p)
}
