package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// Headers of the invoke API.
const (
	headerInvocationID = "X-Orc-Invocation-Id"
	headerVersion      = "X-Orc-Version"
	headerIdempotency  = "Idempotency-Key"
	maxIdempotencyKey  = 255
)

// submission is one request to run a plugin.
type submission struct {
	plugin, version string
	input           []byte
	idempotencyKey  string
	async           bool
}

// submit runs steps 2 to 7 of the invoke path: find the version the
// principal may run, validate the input, record the invocation and queue
// it. A retried idempotency key returns the earlier invocation and false.
func (s *Server) submit(ctx context.Context, sub submission) (*orc.Invocation, *orc.Version, bool, error) {
	p := orc.PrincipalFromContext(ctx)
	if !p.Role.CanInvoke() {
		return nil, nil, false, orc.Errorf(orc.EFORBIDDEN, "your role may not invoke plugins")
	}
	plugin, err := s.Plugins.FindPlugin(ctx, sub.plugin)
	if err == nil && !plugin.Public && !p.CanSee(plugin.OwnerID) {
		err = orc.Errorf(orc.ENOTFOUND, "plugin %q not found", sub.plugin)
	}
	if err != nil {
		return nil, nil, false, err
	}
	v := plugin.Latest
	if sub.version != "" || v == nil {
		if v, err = s.Plugins.FindVersion(ctx, plugin.Name, sub.version); err != nil {
			return nil, nil, false, err
		}
	}
	if !json.Valid(sub.input) {
		return nil, v, false, orc.Errorf(orc.EINVALID, "malformed JSON body")
	}
	if !utf8.Valid(sub.input) {
		return nil, v, false, orc.Errorf(orc.EINVALID, "the body is not valid UTF-8")
	}
	if err := s.schemas.ValidateInput(v, sub.input); err != nil {
		return nil, v, false, err
	}
	if len(sub.idempotencyKey) > maxIdempotencyKey {
		return nil, v, false, orc.Errorf(orc.EINVALID, "Idempotency-Key is longer than %d bytes", maxIdempotencyKey)
	}
	// Refuse quickly while the broker is down, before anything is recorded;
	// a retry with an idempotency key may still get its stored result.
	if sub.idempotencyKey == "" {
		if err := s.Broker.Ready(); err != nil {
			return nil, v, false, err
		}
	}
	inv, created, err := s.Invocations.CreateInvocation(ctx, &orc.Invocation{
		Plugin: plugin.Name, Version: v.Version, VersionID: v.ID, Input: sub.input,
		IdempotencyKey: sub.idempotencyKey, OwnerID: p.UserID, Async: sub.async, Pool: v.Pool,
	})
	if err != nil {
		return nil, v, false, err
	}
	if !created {
		if inv.Plugin != plugin.Name || !bytes.Equal(inv.Input, sub.input) {
			return nil, v, false, orc.Errorf(orc.ECONFLICT, "Idempotency-Key was used for another request")
		}
		if !inv.Published && inv.Status == orc.StatusQueued {
			// The first request with this key is still queueing it (or
			// died doing so; a worker queues it within a minute).
			return nil, v, false, orc.Errorf(orc.ECONFLICT, "a request with this Idempotency-Key is in progress; retry shortly")
		}
		if inv.Version != v.Version {
			if v, err = s.Plugins.FindVersion(ctx, inv.Plugin, inv.Version); err != nil {
				return nil, nil, false, err
			}
		}
		return inv, v, false, nil
	}
	return inv, v, true, nil
}

// publish queues an invocation. When the broker refuses it, the invocation
// is withdrawn again: the client is told 503 and nothing was accepted. An
// invocation that cannot be withdrawn because a worker started it after all
// (the refusal was only a lost confirm) counts as queued.
func (s *Server) publish(ctx context.Context, inv *orc.Invocation, replyTo string) error {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not leave it half queued
	err := s.Broker.Publish(ctx, &orc.Task{InvocationID: inv.ID, VersionID: inv.VersionID, Pool: inv.Pool, ReplyTo: replyTo})
	if err == nil {
		if err := s.Invocations.MarkPublished(ctx, inv.ID); err != nil {
			// Harmless: a worker may queue it once more, and the copy finds
			// it started or finished.
			s.Logger.WarnContext(ctx, "mark invocation queued", "invocation_id", inv.ID, "err", err)
		}
		return nil
	}
	derr := s.Invocations.DeleteInvocation(ctx, inv.ID)
	switch orc.ErrorCode(derr) {
	case "":
	case orc.ECONFLICT:
		s.Logger.WarnContext(ctx, "publish reported failure but the invocation was queued", "invocation_id", inv.ID, "err", err)
		return nil
	default:
		// It stays recorded and unqueued; a worker queues it within a
		// minute, so it still reaches a final state.
		s.Logger.ErrorContext(ctx, "withdraw unqueued invocation", "invocation_id", inv.ID, "err", derr)
	}
	if orc.ErrorCode(err) == orc.EUNAVAILABLE {
		return err
	}
	return orc.WrapError(orc.EUNAVAILABLE, err, "the queue is unavailable")
}

// handleInvoke is POST /invoke/{plugin}: synchronous by default,
// asynchronous with Prefer: respond-async.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	plugin := chi.URLParam(r, "plugin")
	input, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.rejected(w, r, nil, err)
		return
	}
	sub := submission{
		plugin: plugin, version: r.URL.Query().Get("version"), input: input,
		idempotencyKey: r.Header.Get(headerIdempotency), async: preferAsync(r),
	}
	ctx := r.Context()
	inv, v, created, err := s.submit(ctx, sub)
	if err != nil {
		s.rejected(w, r, v, err)
		return
	}
	w.Header().Set(headerInvocationID, inv.ID)
	w.Header().Set(headerVersion, inv.Version)

	var replies <-chan *orc.Reply
	if !sub.async && !inv.Status.Terminal() {
		// Wait before publishing: the reply can be faster than Publish.
		var done func()
		replies, done = s.waiters.add(inv.ID)
		defer done()
	}
	if created {
		replyTo := ""
		if !sub.async {
			replyTo = s.Broker.ReplyQueue()
		}
		if err := s.publish(ctx, inv, replyTo); err != nil {
			s.rejected(w, r, v, err)
			return
		}
		s.metrics.accepted.WithLabelValues(v.Plugin, mode(sub.async)).Inc()
		s.Logger.DebugContext(ctx, "invocation queued", "invocation_id", inv.ID, "plugin", plugin, "version", inv.Version, "async", sub.async)
	}
	if sub.async {
		w.Header().Set("Location", "/api/v1/invocations/"+inv.ID)
		w.Header().Set("Preference-Applied", "respond-async")
		writeJSON(w, http.StatusAccepted, inv)
		return
	}

	reply := replyOf(inv)
	if !inv.Status.Terminal() {
		deadline := v.Timeout() + s.cfg.SyncGrace
		if reply, err = s.await(ctx, inv.ID, replies, deadline); err != nil {
			if ctx.Err() != nil {
				return // the client went away; the invocation goes on
			}
			w.Header().Set("Location", "/api/v1/invocations/"+inv.ID)
			s.errorFor(w, r, err, inv.ID)
			s.metrics.observe(v.Plugin, "sync", "waiting", start)
			return
		}
	}
	s.metrics.observe(v.Plugin, "sync", string(reply.Status), start)
	s.writeReply(w, r, reply)
}

// rejected answers an invocation that was not accepted. Its metric names
// the plugin only when it was found and visible (v is not nil), so that
// requests for arbitrary names cannot grow the label set.
func (s *Server) rejected(w http.ResponseWriter, r *http.Request, v *orc.Version, err error) {
	plugin := "_unknown"
	if v != nil {
		plugin = v.Plugin
	}
	s.metrics.rejected.WithLabelValues(plugin, orc.ErrorCode(err)).Inc()
	s.error(w, r, err)
}

// await waits for the result of an invocation: a reply from the worker, or
// the database when replies do not come (a lost reply, or a call that
// waits for an invocation another gateway queued).
func (s *Server) await(ctx context.Context, id string, replies <-chan *orc.Reply, limit time.Duration) (*orc.Reply, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case reply := <-replies:
			return reply, nil
		case <-poll.C:
			inv, err := s.Invocations.FindInvocation(ctx, id)
			if err != nil {
				s.Logger.WarnContext(ctx, "poll invocation", "invocation_id", id, "err", err)
				continue
			}
			if inv.Status.Terminal() {
				return replyOf(inv), nil
			}
		case <-timer.C:
			return nil, orc.Errorf(orc.ETIMEOUT, "the invocation did not finish within %s; it goes on, and its result will be at its Location", limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// replyOf turns a stored invocation into a reply.
func replyOf(inv *orc.Invocation) *orc.Reply {
	return &orc.Reply{InvocationID: inv.ID, Status: inv.Status, Output: inv.Output, Error: inv.Error,
		Version: inv.Version, Timing: inv.Timing, ColdStart: inv.ColdStart}
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
	return &orc.Error{Code: code, Message: msg}
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

func mode(async bool) string {
	if async {
		return "async"
	}
	return "sync"
}
