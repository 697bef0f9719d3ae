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
	"github.com/google/uuid"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/registry"
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
	headers         http.Header
	// recordAndQueue, when set, records and queues a new invocation that
	// has no idempotency key at once (a synchronous call); submit records
	// it otherwise, and the caller queues it.
	recordAndQueue func(inv *orc.Invocation, v *orc.Version) error
}

// submit runs steps 2 to 7 of the invoke path: find the version the
// principal may run, run the pre hooks, validate the input, record the
// invocation and queue it. A retried idempotency key returns the earlier
// invocation and false. An invocation the hooks refused is returned with
// the error, so that the client learns its id.
func (s *Server) submit(ctx context.Context, sub submission) (*orc.Invocation, *orc.Version, bool, error) {
	p := orc.PrincipalFromContext(ctx)
	if !p.Role.CanInvoke() {
		return nil, nil, false, orc.Errorf(orc.EFORBIDDEN, "your role may not invoke plugins")
	}
	plugin, err := s.findPlugin(sub.plugin, func() (*orc.Plugin, error) { return s.Plugins.FindPlugin(ctx, sub.plugin) })
	if err == nil && !p.CanSeePlugin(plugin) {
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
	if len(sub.idempotencyKey) > maxIdempotencyKey {
		return nil, v, false, orc.Errorf(orc.EINVALID, "Idempotency-Key is longer than %d bytes", maxIdempotencyKey)
	}
	inv := &orc.Invocation{
		ID: uuid.NewString(), Plugin: plugin.Name, Version: v.Version, VersionID: v.ID, Input: sub.input,
		IdempotencyKey: sub.idempotencyKey, OwnerID: p.UserID, Async: sub.async, Pool: v.Pool,
	}
	if v, err = s.preHooks(ctx, p, inv, v, sub.headers); err != nil {
		return inv, v, false, err
	}
	if err := s.schemas.ValidateInput(v, inv.Input); err != nil {
		return nil, v, false, err
	}
	// Refuse quickly while the broker is down, before anything is recorded;
	// a retry with an idempotency key may still get its stored result.
	if sub.idempotencyKey == "" {
		if err := s.Broker.Ready(); err != nil {
			return nil, v, false, err
		}
	}
	if sub.recordAndQueue != nil && sub.idempotencyKey == "" && len(inv.Logs) == 0 {
		inv.Status, inv.CreatedAt = orc.StatusQueued, s.Clock.Now()
		if err := sub.recordAndQueue(inv, v); err != nil {
			return nil, v, false, err
		}
		return inv, v, true, nil
	}
	input := inv.Input
	inv, created, err := s.Invocations.CreateInvocation(ctx, inv)
	if err != nil {
		return nil, v, false, err
	}
	if !created {
		if inv.Plugin != plugin.Name || !bytes.Equal(inv.Input, input) {
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

// hiddenHeaders are never shown to hooks.
var hiddenHeaders = map[string]bool{"authorization": true, "cookie": true, "proxy-authorization": true}

// preHooks runs the pre hooks of an invocation: they may rewrite its input
// and route it to another version, pool or priority, or refuse it. A
// refused invocation (or one whose hook failed) is recorded, final, with the
// hooks' log lines.
func (s *Server) preHooks(ctx context.Context, p *orc.Principal, inv *orc.Invocation, v *orc.Version, headers http.Header) (*orc.Version, error) {
	if !s.Hooks.HasHooks(orc.HookPre, v) {
		return v, nil
	}
	hh := make(map[string]string, len(headers))
	for k, vals := range headers {
		if k = strings.ToLower(k); !hiddenHeaders[k] && len(vals) > 0 {
			hh[k] = vals[0]
		}
	}
	req := &orc.HookRequest{
		Phase: orc.HookPre, InvocationID: inv.ID,
		Plugin:    orc.HookPlugin{Name: inv.Plugin, Version: v.Version},
		Principal: orc.HookPrincipal{Subject: p.Email, Roles: []string{string(p.Role)}},
		Headers:   hh, Input: inv.Input,
	}
	out, err := s.Hooks.Run(ctx, req, v)
	if err == nil && out.Route != nil {
		v, err = s.route(ctx, inv, v, out.Route)
	}
	if code := orc.ErrorCode(err); code == orc.EUNAVAILABLE || ctx.Err() != nil {
		// Not the hook's doing: nothing is recorded, the client may retry.
		return v, err
	}
	if err != nil {
		inv.Status = orc.StatusRejected
		if orc.ErrorCode(err) != orc.EDENIED {
			inv.Status = orc.StatusFailed
		}
		inv.Error = &orc.InvocationError{Code: orc.ErrorCode(err), Message: orc.ErrorMessage(err)}
		inv.IdempotencyKey = ""
		if rerr := s.Invocations.RecordRejected(context.WithoutCancel(ctx), inv, out.Logs); rerr != nil {
			s.Logger.ErrorContext(ctx, "record refused invocation", "invocation_id", inv.ID, "err", rerr)
		}
		s.Logger.InfoContext(ctx, "invocation refused by a pre hook", "invocation_id", inv.ID, "plugin", inv.Plugin, "err", err)
		return v, err
	}
	inv.Input = out.Input
	inv.Logs = out.Logs
	return v, nil
}

// poolChecker is implemented by plugin stores that know which pools are in
// use.
type poolChecker interface {
	PoolExists(ctx context.Context, pool string) (bool, error)
}

// route applies a pre hook's routing decision.
func (s *Server) route(ctx context.Context, inv *orc.Invocation, v *orc.Version, r *orc.HookRoute) (*orc.Version, error) {
	if r.Version != "" && r.Version != v.Version {
		routed, err := s.Plugins.FindVersion(ctx, inv.Plugin, r.Version)
		if orc.ErrorCode(err) == orc.ENOTFOUND {
			return v, orc.WrapError(orc.EHOOK, err, fmt.Sprintf("a hook routed to version %s of %q, which does not exist", r.Version, inv.Plugin))
		}
		if err != nil {
			return v, err
		}
		v = routed
		inv.Version, inv.VersionID, inv.Pool = v.Version, v.ID, v.Pool
	}
	if r.Pool != "" && r.Pool != inv.Pool {
		if !registry.PoolRE.MatchString(r.Pool) {
			return v, orc.Errorf(orc.EHOOK, "a hook routed to the invalid pool %q", r.Pool)
		}
		// Only to a pool that some version runs in: a pool nobody serves
		// would keep the invocation queued for ever.
		if pe, ok := s.Plugins.(poolChecker); ok {
			exists, err := pe.PoolExists(ctx, r.Pool)
			if err != nil {
				return v, err
			}
			if !exists {
				return v, orc.Errorf(orc.EHOOK, "a hook routed to pool %q, which no plugin version runs in", r.Pool)
			}
		}
		inv.Pool = r.Pool
	}
	if r.Priority < 0 || r.Priority > 9 {
		return v, orc.Errorf(orc.EHOOK, "a hook set priority %d; priorities are 0 to 9", r.Priority)
	}
	inv.Priority = r.Priority
	return v, nil
}

// publish queues an invocation. When the broker refuses it, the invocation
// is withdrawn again: the client is told 503 and nothing was accepted. An
// invocation that cannot be withdrawn because a worker started it after all
// (the refusal was only a lost confirm) counts as queued.
func (s *Server) publish(ctx context.Context, inv *orc.Invocation, v *orc.Version, replyTo string) error {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not leave it half queued
	err := s.Broker.Publish(ctx, taskOf(inv, v, replyTo))
	return s.published(ctx, inv, err)
}

// taskOf is the message of an invocation. A small input of an http
// version travels with it, so that a worker can call a warm container
// before it reads the store.
func taskOf(inv *orc.Invocation, v *orc.Version, replyTo string) *orc.Task {
	t := &orc.Task{InvocationID: inv.ID, VersionID: inv.VersionID, Pool: inv.Pool,
		Priority: inv.Priority, ReplyTo: replyTo, CreatedAt: inv.CreatedAt}
	if v != nil && v.Protocol == orc.ProtocolHTTP && v.ID == inv.VersionID && len(inv.Input) <= orc.MaxTaskInput {
		t.Input = inv.Input
	}
	return t
}

// recordAndQueue records a new invocation and queues it at the same time,
// to take the insert off a synchronous call's path. A worker that gets
// the task first waits for the row. When the insert fails, the client is
// told (503) and the task finds no row to run; when the publish fails, the
// row is withdrawn as publish does.
func (s *Server) recordAndQueue(ctx context.Context, inv *orc.Invocation, v *orc.Version, replyTo string) error {
	ctx = context.WithoutCancel(ctx)
	inserted := make(chan error, 1)
	go func() {
		_, _, err := s.Invocations.CreateInvocation(ctx, inv)
		inserted <- err
	}()
	perr := s.Broker.Publish(ctx, taskOf(inv, v, replyTo))
	if err := <-inserted; err != nil {
		return err
	}
	return s.published(ctx, inv, perr)
}

// published finishes queueing an invocation whose task the broker took
// (err nil) or refused.
func (s *Server) published(ctx context.Context, inv *orc.Invocation, err error) error {
	if err == nil {
		if inv.IdempotencyKey != "" {
			// A retry with the key tells "in progress" from "queued" by
			// the mark: write it now, still off the answer's path.
			go s.writeMarks(ctx, []string{inv.ID})
			return nil
		}
		s.markPublished(inv.ID)
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
		s.rejected(w, r, nil, nil, err)
		return
	}
	sub := submission{
		plugin: plugin, version: r.URL.Query().Get("version"), input: input,
		idempotencyKey: r.Header.Get(headerIdempotency), async: preferAsync(r), headers: r.Header,
	}
	ctx := r.Context()
	var (
		queued   bool // recorded and queued by submit
		replies  <-chan *orc.Reply
		waitDone func()
	)
	if !sub.async {
		sub.recordAndQueue = func(inv *orc.Invocation, v *orc.Version) error {
			// Wait before publishing: the reply can be faster than Publish.
			replies, waitDone = s.waiters.add(inv.ID)
			err := s.recordAndQueue(ctx, inv, v, s.Broker.ReplyQueue())
			queued = err == nil
			return err
		}
	}
	inv, v, created, err := s.submit(ctx, sub)
	if waitDone != nil {
		defer waitDone()
	}
	if err != nil {
		s.rejected(w, r, v, inv, err)
		return
	}
	w.Header().Set(headerInvocationID, inv.ID)
	w.Header().Set(headerVersion, inv.Version)

	if !sub.async && !inv.Status.Terminal() && !queued {
		// Wait before publishing: the reply can be faster than Publish.
		var done func()
		replies, done = s.waiters.add(inv.ID)
		defer done()
	}
	if created {
		if !queued {
			replyTo := ""
			if !sub.async {
				replyTo = s.Broker.ReplyQueue()
			}
			if err := s.publish(ctx, inv, v, replyTo); err != nil {
				s.rejected(w, r, v, nil, err)
				return
			}
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
func (s *Server) rejected(w http.ResponseWriter, r *http.Request, v *orc.Version, inv *orc.Invocation, err error) {
	plugin := "_unknown"
	if v != nil {
		plugin = v.Plugin
	}
	s.metrics.rejected.WithLabelValues(plugin, orc.ErrorCode(err)).Inc()
	id := ""
	if inv != nil && inv.Status.Terminal() {
		id = inv.ID // recorded, refused by a hook
	}
	s.errorFor(w, r, err, id)
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

func mode(async bool) string {
	if async {
		return "async"
	}
	return "sync"
}
