package gateway

import (
	"context"
	"math"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// visibleInvocation returns an invocation the principal may see. Another
// user's invocation is not found, never forbidden: its existence is private.
func (s *Server) visibleInvocation(ctx context.Context, id string) (*orc.Invocation, error) {
	inv, err := s.Invocations.FindInvocation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !orc.PrincipalFromContext(ctx).CanSee(inv.OwnerID) {
		return nil, orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	return inv, nil
}

// invocationFilter reads the list filters of a request; statuses reads
// its ?status=. Non-admins only ever list their own invocations.
func invocationFilter(r *http.Request, statuses func(string) ([]orc.Status, error)) (orc.InvocationFilter, error) {
	q := r.URL.Query()
	f := orc.InvocationFilter{Plugin: q.Get("plugin"), Cursor: q.Get("cursor")}
	var err error
	if f.Version, err = queryVersion(q); err != nil {
		return f, err
	}
	if f.Version != "" && f.Plugin == "" {
		// Versions are numbered per plugin: "1.0.0" alone names no one
		// thing, and a list of every plugin's 1.0.0 is not what anyone
		// means by it.
		return f, orc.Errorf(orc.EINVALID, "version needs plugin: versions are numbered per plugin")
	}
	if f.Since, f.Until, err = queryWindow(q); err != nil {
		return f, err
	}
	if st := q.Get("status"); st != "" {
		if f.Statuses, err = statuses(st); err != nil {
			return f, err
		}
	}
	if f.Limit, err = queryLimit(q); err != nil {
		return f, err
	}
	p := orc.PrincipalFromContext(r.Context())
	if !p.IsAdmin() {
		f.OwnerID = p.UserID
	} else if f.OwnerID, err = queryID(q, "owner_id"); err != nil {
		return f, err
	}
	return f, nil
}

// invocationPage is one page of a list.
type invocationPage struct {
	Items      []*orc.Invocation `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// invocationStatus reads an invocation status.
func invocationStatus(s string) ([]orc.Status, error) {
	if st := orc.Status(s); st.Valid() {
		return []orc.Status{st}, nil
	}
	return nil, orc.Errorf(orc.EINVALID, "unknown status %q: statuses are queued, running, succeeded, failed, timed_out, canceled, dead or rejected", s)
}

// listInvocations answers a list request's errors itself and reports
// whether it did.
func (s *Server) listInvocations(w http.ResponseWriter, r *http.Request, statuses func(string) ([]orc.Status, error)) ([]*orc.Invocation, string, bool) {
	f, err := invocationFilter(r, statuses)
	if err == nil {
		var list []*orc.Invocation
		var next string
		if list, next, err = s.Invocations.ListInvocations(r.Context(), f); err == nil {
			return list, next, true
		}
	}
	s.error(w, r, err)
	return nil, "", false
}

func (s *Server) handleListInvocations(w http.ResponseWriter, r *http.Request) {
	list, next, ok := s.listInvocations(w, r, invocationStatus)
	if !ok {
		return
	}
	if list == nil {
		list = []*orc.Invocation{}
	}
	writeJSON(w, http.StatusOK, invocationPage{Items: list, NextCursor: next})
}

func (s *Server) handleGetInvocation(w http.ResponseWriter, r *http.Request) {
	inv, err := s.visibleInvocation(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	inv.QueueReason = s.queueReason(r.Context(), inv)
	writeJSON(w, http.StatusOK, inv)
}

// logPage is an invocation's log lines after a sequence number.
type logPage struct {
	InvocationID string        `json:"invocation_id"`
	Status       orc.Status    `json:"status"`
	Lines        []orc.LogLine `json:"lines"`
}

func (s *Server) handleInvocationLogs(w http.ResponseWriter, r *http.Request) {
	inv, err := s.visibleInvocation(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	after := 0
	if a := r.URL.Query().Get("after"); a != "" {
		// Sequence numbers are PostgreSQL integers (32 bits).
		if after, err = strconv.Atoi(a); err != nil || after < 0 || after > math.MaxInt32 {
			s.error(w, r, orc.Errorf(orc.EINVALID, "after must be a sequence number from 0 to %d", math.MaxInt32))
			return
		}
	}
	lines, err := s.Invocations.InvocationLogs(r.Context(), inv.ID, after)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if lines == nil {
		lines = []orc.LogLine{}
	}
	writeJSON(w, http.StatusOK, logPage{InvocationID: inv.ID, Status: inv.Status, Lines: lines})
}

// handleCancelInvocation cancels a queued or running invocation: the
// database first (so no worker starts it), then a broadcast so that the
// worker running it kills its container.
func (s *Server) handleCancelInvocation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := orc.PrincipalFromContext(ctx)
	inv, err := s.visibleInvocation(ctx, chi.URLParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !s.require(w, r, p.Role.CanInvoke(), "cancel invocations") {
		return
	}
	inv, err = s.Invoke.Cancel(ctx, inv.ID)
	if err != nil {
		s.errorFor(w, r, err, chi.URLParam(r, "id"))
		return
	}
	s.Logger.InfoContext(ctx, "invocation canceled", "invocation_id", inv.ID, "user_id", p.UserID)
	writeJSON(w, http.StatusOK, inv)
}
