package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/invoke"
)

// Headers of the invoke API.
const (
	headerInvocationID = "X-Orc-Invocation-Id"
	headerVersion      = "X-Orc-Version"
	headerIdempotency  = "Idempotency-Key"
)

// handleInvoke is POST /invoke/{plugin}: synchronous by default,
// asynchronous with Prefer: respond-async.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	input, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.error(w, r, s.Invoke.Reject(bodyError(err)))
		return
	}
	version, err := queryVersion(r.URL.Query())
	if err != nil {
		s.error(w, r, s.Invoke.Reject(err))
		return
	}
	req := invoke.Request{
		Plugin: chi.URLParam(r, "plugin"), Version: version, Input: input,
		IdempotencyKey: r.Header.Get(headerIdempotency), Async: preferAsync(r), Headers: r.Header,
	}
	ctx := r.Context()
	t, err := s.Invoke.Submit(ctx, req)
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer t.Close()
	inv := t.Invocation
	w.Header().Set(headerInvocationID, inv.ID)
	w.Header().Set(headerVersion, inv.Version)
	if req.Async {
		w.Header().Set("Location", "/api/v1/invocations/"+inv.ID)
		w.Header().Set("Preference-Applied", "respond-async")
		writeJSON(w, http.StatusAccepted, inv)
		return
	}
	reply, err := s.Invoke.Await(ctx, t)
	if err != nil {
		if ctx.Err() != nil {
			return // the client went away; the invocation goes on
		}
		w.Header().Set("Location", "/api/v1/invocations/"+inv.ID)
		s.errorFor(w, r, err, inv.ID)
		return
	}
	s.writeReply(w, r, reply)
}

// writeReply answers a synchronous call with its final result: the plugin's
// output on success, the API's error shape otherwise.
func (s *Server) writeReply(w http.ResponseWriter, r *http.Request, reply *orc.Reply) {
	w.Header().Set("Server-Timing", serverTiming(reply))
	if reply.Version != "" {
		w.Header().Set(headerVersion, reply.Version)
	}
	if reply.Status == orc.StatusSucceeded {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(headerInvocationID, reply.InvocationID)
		w.WriteHeader(http.StatusOK)
		w.Write(reply.Output) //nolint:errcheck // the client may have gone
		return
	}
	s.errorFor(w, r, replyError(reply), reply.InvocationID)
}

// replyError is the error a failed invocation answers with.
func replyError(reply *orc.Reply) error {
	code, msg := orc.EPLUGIN, "the plugin failed"
	if reply.Error != nil {
		code, msg = reply.Error.Code, reply.Error.Message
	}
	switch reply.Status {
	case orc.StatusTimedOut:
		code = orc.ETIMEOUT
	case orc.StatusCanceled:
		code = orc.ECANCELED
	case orc.StatusDead:
		code = orc.EPLUGIN
	}
	e := &orc.Error{Code: code, Message: msg}
	if code == orc.EDENIED {
		e.Status = http.StatusBadGateway // a post hook withheld the output
	}
	return e
}

// serverTiming renders an invocation's timing as a Server-Timing header.
func serverTiming(reply *orc.Reply) string {
	t := reply.Timing
	return fmt.Sprintf("queue;dur=%.1f, cold;dur=%.1f, run;dur=%.1f", t.QueueMS, t.ColdMS, t.RunMS)
}

// preferAsync reports whether the client asked for an asynchronous answer.
func preferAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "respond-async") {
				return true
			}
		}
	}
	return false
}
