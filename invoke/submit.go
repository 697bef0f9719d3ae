package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/jsondepth"
)

// MaxIdempotencyKey is the longest idempotency key accepted, in bytes.
const MaxIdempotencyKey = 255

// Request is one request to run a plugin, by the principal of its context.
type Request struct {
	Plugin string
	// Version is the version asked for; empty: the latest.
	Version string
	Input   []byte
	// IdempotencyKey makes a retry return the invocation recorded first.
	IdempotencyKey string
	// Async asks for no result: Await is not called.
	Async bool
	// Headers are the request's headers; the pre hooks see them, without
	// credentials.
	Headers http.Header
	// RetryOf names the invocation this one retries (Retry sets it).
	RetryOf string
}

// Ticket is a submitted invocation. Close it when done with it.
type Ticket struct {
	// Invocation is as recorded; for a retry with an idempotency key, the
	// one recorded first, maybe final already.
	Invocation *orc.Invocation
	// Version is the version it runs.
	Version *orc.Version
	// Created is false for a retry with an idempotency key: nothing was
	// queued.
	Created bool

	start   time.Time
	replies <-chan *orc.Reply
	release func()
}

// Close stops waiting for the invocation's reply. The invocation goes on.
func (t *Ticket) Close() {
	if t.release != nil {
		t.release()
		t.release = nil
	}
}

// wait starts waiting for the invocation's reply. It must happen before
// the task is published: the reply can come faster than the confirm.
func (t *Ticket) wait(ws *waiters) {
	t.replies, t.release = ws.add(t.Invocation.ID)
}

// Refused is the error of an invocation that a pre hook refused, or whose
// hook failed: it is recorded, final, so that its id and the hooks' log
// lines can be looked at.
type Refused struct {
	InvocationID string
	Err          error
}

func (e *Refused) Error() string { return e.Err.Error() }

// Unwrap returns the refusal's reason.
func (e *Refused) Unwrap() error { return e.Err }

// Submit runs steps 2 to 7 of the invoke path: it finds the version the
// principal may run, runs the pre hooks, validates the input, records the
// invocation and queues its task. A synchronous request's ticket is already
// waiting for the reply when Submit returns.
//
// # Errors
//
// EFORBIDDEN (the role may not invoke), ENOTFOUND (no such plugin or
// version, or not visible), EINVALID (malformed input, a schema violation
// with every problem in the details, a bad idempotency key), ECONFLICT (an
// idempotency key used for another request, or still being queued),
// EDENIED or EHOOK wrapped in *Refused, and EUNAVAILABLE (the broker or the
// database).
func (s *Service) Submit(ctx context.Context, req Request) (*Ticket, error) {
	start := time.Now()
	inv, v, err := s.prepare(ctx, req)
	if err != nil {
		s.metrics.reject(v, err)
		if inv != nil && inv.Status.Terminal() {
			err = &Refused{InvocationID: inv.ID, Err: err}
		}
		return nil, err
	}
	t := &Ticket{Invocation: inv, Version: v, start: start}
	if err := s.enqueue(ctx, t, req); err != nil {
		t.Close()
		s.metrics.reject(v, err)
		return nil, err
	}
	if t.Created {
		s.metrics.accepted.WithLabelValues(t.Version.Plugin, mode(req.Async)).Inc()
		s.Logger.DebugContext(ctx, "invocation queued", "invocation_id", t.Invocation.ID,
			"plugin", t.Invocation.Plugin, "version", t.Invocation.Version, "async", req.Async)
	}
	return t, nil
}

// Reject counts a request refused before Submit could see it (its body
// could not be read) and returns err.
func (s *Service) Reject(err error) error {
	s.metrics.reject(nil, err)
	return err
}

// prepare runs steps 2 to 5: the invocation to record and its version. An
// invocation refused by a hook comes back recorded, final, with the error.
// The version is returned with an error once the principal may see it.
func (s *Service) prepare(ctx context.Context, req Request) (*orc.Invocation, *orc.Version, error) {
	p := orc.PrincipalFromContext(ctx)
	if !p.Role.CanInvoke() {
		return nil, nil, orc.Errorf(orc.EFORBIDDEN, "your role may not invoke plugins")
	}
	plugin, err := s.Plugins.FindPlugin(ctx, req.Plugin)
	if err == nil && !p.CanSeePlugin(plugin) {
		err = orc.Errorf(orc.ENOTFOUND, "plugin %q not found", req.Plugin)
	}
	if err != nil {
		return nil, nil, err
	}
	v := plugin.Latest
	if req.Version != "" || v == nil {
		if v, err = s.Plugins.FindVersion(ctx, plugin.Name, req.Version); err != nil {
			return nil, nil, err
		}
	}
	// Depth first: a decoder stops at its own limit and calls the body
	// malformed, which does not tell the client what to change.
	if jsondepth.Of(req.Input, orc.MaxDocumentDepth) > orc.MaxDocumentDepth {
		return nil, v, orc.Errorf(orc.EINVALID, "malformed JSON body: nesting too deep (limit %d)", orc.MaxDocumentDepth)
	}
	if !json.Valid(req.Input) {
		return nil, v, orc.Errorf(orc.EINVALID, "malformed JSON body")
	}
	if !utf8.Valid(req.Input) {
		return nil, v, orc.Errorf(orc.EINVALID, "the body is not valid UTF-8")
	}
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, v, err
	}
	inv := &orc.Invocation{
		ID: uuid.NewString(), Plugin: plugin.Name, Version: v.Version, VersionID: v.ID, Input: req.Input,
		IdempotencyKey: req.IdempotencyKey, OwnerID: p.UserID, Async: req.Async, Pool: v.Pool,
		RetryOf: req.RetryOf,
	}
	if v, err = s.preHooks(ctx, p, inv, v, req.Headers); err != nil {
		return inv, v, err
	}
	if err := s.validate(ctx, v, inv.Input); err != nil {
		return nil, v, err
	}
	// Refuse quickly while the broker is down, before anything is recorded;
	// a retry with an idempotency key may still get its stored result.
	if req.IdempotencyKey == "" {
		if err := s.Broker.Ready(); err != nil {
			return nil, v, err
		}
	}
	return inv, v, nil
}

// checkIdempotencyKey returns EINVALID for a key that cannot be stored.
func checkIdempotencyKey(key string) error {
	switch {
	case len(key) > MaxIdempotencyKey:
		return orc.Errorf(orc.EINVALID, "Idempotency-Key is longer than %d bytes", MaxIdempotencyKey)
	case !utf8.ValidString(key):
		return orc.Errorf(orc.EINVALID, "Idempotency-Key is not valid UTF-8")
	case strings.IndexByte(key, 0) >= 0:
		return orc.Errorf(orc.EINVALID, "Idempotency-Key contains a NUL character")
	}
	return nil
}

// enqueue runs steps 6 and 7: it records the ticket's invocation and
// queues its task in one of the three orders (see the package comment).
func (s *Service) enqueue(ctx context.Context, t *Ticket, req Request) error {
	inv, v := t.Invocation, t.Version
	// An asynchronous call with an idempotency key asks for the reply too:
	// a synchronous retry with the key, while it runs, waits for it here.
	replyTo := ""
	if !req.Async || req.IdempotencyKey != "" {
		replyTo = s.Broker.ReplyQueue()
	}
	if !req.Async && req.IdempotencyKey == "" && len(inv.Logs) == 0 {
		inv.Status, inv.CreatedAt = orc.StatusQueued, s.Clock.Now()
		t.wait(&s.waiters)
		if err := s.recordAndQueue(ctx, inv, v, replyTo); err != nil {
			return err
		}
		t.Created = true
		return nil
	}
	input := inv.Input
	stored, created, err := s.insert(ctx, inv)
	if err != nil {
		return err
	}
	t.Invocation, t.Created = stored, created
	if !created {
		return s.replay(ctx, t, inv.Plugin, input, req.Async)
	}
	if !req.Async {
		t.wait(&s.waiters)
	}
	return s.publish(ctx, stored, v, replyTo)
}

// replay checks a retry with an idempotency key against the invocation
// recorded first, which the ticket now holds, and finds its version.
func (s *Service) replay(ctx context.Context, t *Ticket, plugin string, input []byte, async bool) error {
	inv := t.Invocation
	if inv.Plugin != plugin || !bytes.Equal(inv.Input, input) {
		return orc.Errorf(orc.ECONFLICT, "Idempotency-Key was used for another request")
	}
	if !inv.Published && inv.Status == orc.StatusQueued {
		// The first request with this key is still queueing it (or died
		// doing so; a worker queues it within a minute).
		return orc.Errorf(orc.ECONFLICT, "a request with this Idempotency-Key is in progress; retry shortly")
	}
	if inv.Version != t.Version.Version {
		v, err := s.Plugins.FindVersion(ctx, inv.Plugin, inv.Version)
		if err != nil {
			return err
		}
		t.Version = v
	}
	if !async && !inv.Status.Terminal() {
		t.wait(&s.waiters)
	}
	return nil
}
