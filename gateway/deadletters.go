package gateway

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/invoke"
)

// deadLetterFilter reads the filters of a dead-letter list or bulk
// redrive. Non-admins only ever select their own.
func deadLetterFilter(r *http.Request) (orc.DeadLetterFilter, error) {
	q := r.URL.Query()
	f := orc.DeadLetterFilter{Plugin: q.Get("plugin"), Version: q.Get("version"), Reason: q.Get("reason"), Cursor: q.Get("cursor")}
	var err error
	if f.Since, f.Until, err = queryWindow(q); err != nil {
		return f, err
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

// deadLetterPage is one page of the dead-letter list.
type deadLetterPage struct {
	Items      []*orc.DeadLetter `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (s *Server) handleListDeadLetters(w http.ResponseWriter, r *http.Request) {
	f, err := deadLetterFilter(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	list, next, err := s.DeadLetters.ListDeadLetters(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if list == nil {
		list = []*orc.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, deadLetterPage{Items: list, NextCursor: next})
}

// visibleDeadLetter returns a dead letter the principal may see; another
// user's is not found, as their invocations are.
func (s *Server) visibleDeadLetter(r *http.Request) (*orc.DeadLetter, error) {
	d, err := s.DeadLetters.FindDeadLetter(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return nil, err
	}
	if !orc.PrincipalFromContext(r.Context()).CanSee(d.OwnerID) {
		return nil, orc.Errorf(orc.ENOTFOUND, "dead letter not found")
	}
	return d, nil
}

func (s *Server) handleGetDeadLetter(w http.ResponseWriter, r *http.Request) {
	d, err := s.visibleDeadLetter(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// handleRedriveDeadLetter queues a dead letter again: the same invocation,
// answered 202 like an asynchronous invoke.
func (s *Server) handleRedriveDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	inv, err := s.Invoke.Redrive(r.Context(), id)
	if err != nil {
		s.errorFor(w, r, err, "")
		return
	}
	w.Header().Set(headerInvocationID, inv.ID)
	w.Header().Set("Location", "/api/v1/invocations/"+inv.ID)
	writeJSON(w, http.StatusAccepted, inv)
}

// bulkRedrive is the answer of a bulk redrive.
type bulkRedrive struct {
	// Redriven are the invocations queued again.
	Redriven []string `json:"redriven"`
	// Skipped counts the dead letters that matched but were not queued:
	// redriven or discarded meanwhile, or their plugin is gone.
	Skipped int `json:"skipped"`
	// More is true when more dead letters match than one call takes.
	More bool `json:"more"`
}

// handleBulkRedrive redrives the dead letters a filter selects, in the
// list's order (most recently dead first), at most orc.MaxBulkRedrive (or
// limit) per call; those redriven leave the list, so the next call takes
// the next ones. Each goes through the same conditional redrive as a
// single one, so that redrives racing each other queue every invocation
// once.
func (s *Server) handleBulkRedrive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.require(w, r, orc.PrincipalFromContext(ctx).Role.CanInvoke(), "redrive invocations") {
		return
	}
	f, err := deadLetterFilter(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if f.Cursor != "" {
		s.error(w, r, orc.Errorf(orc.EINVALID, "cursor: a bulk redrive always starts at the top of the list"))
		return
	}
	if f.Limit == 0 || f.Limit > orc.MaxBulkRedrive {
		f.Limit = orc.MaxBulkRedrive
	}
	list, next, err := s.DeadLetters.ListDeadLetters(ctx, f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := bulkRedrive{Redriven: []string{}, More: next != ""}
	for _, d := range list {
		inv, err := s.Invoke.Redrive(ctx, d.ID)
		switch orc.ErrorCode(err) {
		case "":
			out.Redriven = append(out.Redriven, inv.ID)
		case orc.ECONFLICT, orc.ENOTFOUND:
			out.Skipped++
		default:
			if len(out.Redriven) == 0 {
				s.error(w, r, err)
				return
			}
			// What was queued stays queued; the rest waits for the
			// next call.
			s.Logger.WarnContext(ctx, "bulk redrive stopped", "err", err, "redriven", len(out.Redriven))
			out.More = true
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDiscardDeadLetter takes a dead letter off the list; the
// invocation stays dead and readable.
func (s *Server) handleDiscardDeadLetter(w http.ResponseWriter, r *http.Request) {
	d, err := s.visibleDeadLetter(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !s.require(w, r, orc.PrincipalFromContext(r.Context()).Role.CanInvoke(), "discard dead letters") {
		return
	}
	if err := s.DeadLetters.DiscardDeadLetter(r.Context(), d.ID); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRetryInvocation submits a new invocation with the plugin, version
// and input of one that did not succeed, as POST /invoke would with
// Prefer: respond-async.
func (s *Server) handleRetryInvocation(w http.ResponseWriter, r *http.Request) {
	t, err := s.Invoke.Retry(r.Context(), chi.URLParam(r, "id"), invoke.Request{
		IdempotencyKey: r.Header.Get(headerIdempotency), Headers: r.Header,
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer t.Close()
	inv := t.Invocation
	w.Header().Set(headerInvocationID, inv.ID)
	w.Header().Set(headerVersion, inv.Version)
	w.Header().Set("Location", "/api/v1/invocations/"+inv.ID)
	writeJSON(w, http.StatusAccepted, inv)
}

// attemptPage is the attempts at an invocation.
type attemptPage struct {
	InvocationID string        `json:"invocation_id"`
	Attempts     []orc.Attempt `json:"attempts"`
}

func (s *Server) handleInvocationAttempts(w http.ResponseWriter, r *http.Request) {
	inv, err := s.visibleInvocation(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	list, err := s.DeadLetters.InvocationAttempts(r.Context(), inv.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if list == nil {
		list = []orc.Attempt{}
	}
	writeJSON(w, http.StatusOK, attemptPage{InvocationID: inv.ID, Attempts: list})
}
