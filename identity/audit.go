package identity

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/orc-gateway/orc"
)

// Record appends e to the audit log: actor did e.Action to e.Target, from
// the request's address, with details (any JSON value, or nil). A failure
// to record is logged, not returned: the change itself is done.
func (s *Service) Record(r *http.Request, actor *orc.Principal, e *orc.AuditEvent, details any) {
	if s.AuditLog == nil {
		return
	}
	e.RemoteAddr = s.clientAddr(r)
	if actor != nil {
		e.ActorID, e.ActorEmail, e.Method = actor.UserID, actor.Email, actor.Method
	}
	if details != nil {
		e.Details, _ = json.Marshal(details)
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.AuditLog.RecordAudit(ctx, e); err != nil {
		s.Logger.ErrorContext(ctx, "record audit event", "action", e.Action, "target", e.Target, "err", err)
	}
}
