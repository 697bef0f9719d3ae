package gateway

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/orc-gateway/orc"
)

// audited records an action of a route once its handler succeeded (2xx).
// The target is the name in the Location the handler answered with (a new
// plugin's or hook's name; a plugin's name also when the path gave its
// id), or else the route's URL parameter.
func (s *Server) audited(action, targetType, param string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			if ww.Status() < 200 || ww.Status() > 299 {
				return
			}
			target := chi.URLParam(r, param)
			var details map[string]string
			if loc := ww.Header().Get("Location"); loc != "" {
				parts := strings.Split(strings.TrimPrefix(loc, "/api/v1/"), "/")
				if len(parts) > 1 {
					target = parts[1]
				}
				details = map[string]string{"location": loc}
			}
			s.Identity.Record(r, orc.PrincipalFromContext(r.Context()),
				&orc.AuditEvent{Action: action, TargetType: targetType, Target: target}, details)
		})
	}
}

// auditPage is one page of the audit log.
type auditPage struct {
	Items      []*orc.AuditEvent `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// handleListAudit is GET /api/v1/audit?actor_id=&action=&limit=&cursor=,
// for admins.
func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := orc.AuditFilter{Action: q.Get("action"), Cursor: q.Get("cursor")}
	var err error
	if f.ActorID, err = queryID(q, "actor_id"); err != nil {
		s.error(w, r, err)
		return
	}
	if f.Limit, err = queryLimit(q); err != nil {
		s.error(w, r, err)
		return
	}
	list, next, err := s.Audit.ListAudit(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if list == nil {
		list = []*orc.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, auditPage{Items: list, NextCursor: next})
}
