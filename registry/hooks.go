package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/orc-gateway/orc"
)

// HookHost runs hook modules (hooks.Host implements it).
type HookHost interface {
	Validate(ctx context.Context, module []byte) error
	Load(ctx context.Context, name string, module []byte) (string, error)
	Unload(name string)
	Loaded(name string) (string, bool)
	Call(ctx context.Context, name string, req *orc.HookRequest) (*orc.HookReply, []string, error)
}

var _ orc.HookRunner = (*Hooks)(nil)

// Hooks keeps the stored hooks loaded in a host and runs a version's hooks
// in order: the global ones (by name), then the version's own.
type Hooks struct {
	Store  orc.HookService
	Host   HookHost
	Logger *slog.Logger
	Clock  orc.Clock
	// Tracer records each hook call as a span; nil: none.
	Tracer trace.Tracer
	// Metrics, when set, times each call.
	Metrics *HookMetrics

	mu      sync.RWMutex
	globals []string
}

// Sync loads every stored hook the host lacks (or holds other bytes of) and
// unloads the ones no longer stored. Loading compiles, so it happens here,
// at start and when hooks change, never on the request path.
func (h *Hooks) Sync(ctx context.Context) error {
	list, err := h.Store.ListHooks(ctx)
	if err != nil {
		return fmt.Errorf("list hooks: %w", err)
	}
	stored := make(map[string]bool, len(list))
	var globals []string
	var errs []string
	for _, meta := range list {
		stored[meta.Name] = true
		if meta.Global {
			globals = append(globals, meta.Name)
		}
		if sha, ok := h.Host.Loaded(meta.Name); ok && sha == meta.SHA256 {
			continue
		}
		full, err := h.Store.FindHook(ctx, meta.Name)
		if err != nil {
			errs = append(errs, meta.Name+": "+err.Error())
			continue
		}
		if err := h.load(ctx, full); err != nil {
			errs = append(errs, meta.Name+": "+err.Error())
		}
	}
	h.mu.Lock()
	previous := h.globals
	h.globals = globals
	h.mu.Unlock()
	for _, name := range previous {
		if !stored[name] {
			h.Host.Unload(name)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("load hooks: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Start makes the stored hooks known, so that the global ones run from
// the first call, and loads them in the background: a slow module cannot
// keep the process from starting, nor a broken one from serving. A call
// that needs a hook not loaded yet loads it itself. Returns the store's
// error when the hooks cannot be listed: without the list, the global
// hooks would be skipped.
func (h *Hooks) Start(ctx context.Context) error {
	list, err := h.Store.ListHooks(ctx)
	if err != nil {
		return fmt.Errorf("list hooks: %w", err)
	}
	var globals []string
	for _, meta := range list {
		if meta.Global {
			globals = append(globals, meta.Name)
		}
	}
	h.mu.Lock()
	h.globals = globals
	h.mu.Unlock()
	go func() {
		if err := h.Sync(ctx); err != nil {
			// A hook that no longer loads fails its invocations clearly.
			h.Logger.Error("load hooks", "err", err)
		}
	}()
	return nil
}

// slowLoad is how long a hook may take to load before a warning says so.
const slowLoad = 30 * time.Second

func (h *Hooks) load(ctx context.Context, hook *orc.Hook) error {
	start := time.Now()
	slow := time.AfterFunc(slowLoad, func() {
		h.Logger.Warn("hook still loading", "hook", hook.Name, "sha256", hook.SHA256, "after", slowLoad)
	})
	defer slow.Stop()
	if _, err := h.Host.Load(ctx, hook.Name, hook.Module); err != nil {
		return err
	}
	h.Logger.Info("hook loaded", "hook", hook.Name, "sha256", hook.SHA256, "global", hook.Global,
		"ms", time.Since(start).Milliseconds())
	return nil
}

// isGlobal reports whether name is one of the global hooks.
func (h *Hooks) isGlobal(name string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.globals {
		if g == name {
			return true
		}
	}
	return false
}

// loadByName loads one stored hook the host lacks.
func (h *Hooks) loadByName(ctx context.Context, name string) error {
	hook, err := h.Store.FindHook(ctx, name)
	if err != nil {
		return err
	}
	h.Logger.Info("hook not loaded yet; loading it", "hook", name)
	return h.load(ctx, hook)
}

// Added loads a hook just stored, so that it is ready before its creation
// is answered.
func (h *Hooks) Added(ctx context.Context, hook *orc.Hook) error {
	if err := h.load(ctx, hook); err != nil {
		return err
	}
	if hook.Global {
		h.mu.Lock()
		h.globals = append(h.globals, hook.Name)
		sort.Strings(h.globals)
		h.mu.Unlock()
	}
	return nil
}

// Removed unloads a deleted hook.
func (h *Hooks) Removed(name string) {
	h.mu.Lock()
	for i, g := range h.globals {
		if g == name {
			h.globals = append(h.globals[:i:i], h.globals[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	h.Host.Unload(name)
}

// Keep syncs every interval until ctx ends, so that hooks registered
// through another gateway are loaded here too.
func (h *Hooks) Keep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := h.Sync(ctx); err != nil {
				h.Logger.Warn("sync hooks", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// chain returns the hooks of a phase for a version, in order.
func (h *Hooks) chain(phase orc.HookPhase, v *orc.Version) []string {
	h.mu.RLock()
	names := append([]string(nil), h.globals...)
	h.mu.RUnlock()
	if phase == orc.HookPre {
		return append(names, v.Hooks.Pre...)
	}
	return append(names, v.Hooks.Post...)
}

// hookResult names how a hook call ended, for its metrics.
func hookResult(reply *orc.HookReply, err error) string {
	switch {
	case err != nil:
		return "error"
	case !reply.Allow:
		return "deny"
	}
	return "allow"
}

// Run runs a phase's hooks for a version. A denial is an *orc.Error with
// code EDENIED and the hook's status; a hook that fails is EHOOK.
func (h *Hooks) Run(ctx context.Context, req *orc.HookRequest, v *orc.Version) (*orc.HookOutcome, error) {
	out := &orc.HookOutcome{Input: req.Input, Output: req.Output}
	if h == nil || h.Host == nil {
		return out, nil
	}
	for _, name := range h.chain(req.Phase, v) {
		req.Input, req.Output = out.Input, out.Output
		hctx, span := h.tracer().Start(ctx, "hook")
		began := time.Now()
		reply, lines, err := h.Host.Call(hctx, name, req)
		if orc.ErrorCode(err) == orc.ENOTFOUND {
			// Uploaded through another process since the last sync: load
			// it now rather than fail until the next one. A global hook
			// deleted through another process is dropped.
			lerr := h.loadByName(hctx, name)
			if lerr == nil {
				reply, lines, err = h.Host.Call(hctx, name, req)
			} else if orc.ErrorCode(lerr) == orc.ENOTFOUND && h.isGlobal(name) {
				h.Removed(name)
				span.End()
				continue
			}
		}
		h.Metrics.observe(name, req.Phase, hookResult(reply, err), time.Since(began))
		endHookSpan(span, name, req.Phase, reply, err)
		now := h.Clock.Now()
		for _, l := range lines {
			out.Logs = append(out.Logs, orc.LogLine{Stream: "hook:" + name, Time: now, Line: l})
		}
		if err != nil {
			if orc.ErrorCode(err) == orc.ENOTFOUND {
				err = orc.WrapError(orc.EHOOK, err, fmt.Sprintf("hook %q is not loaded", name))
			} else if orc.ErrorCode(err) != orc.EHOOK {
				err = orc.WrapError(orc.EHOOK, err, fmt.Sprintf("hook %q failed", name))
			}
			return out, err
		}
		if !reply.Allow {
			status := reply.Status
			if status == 0 {
				status = http.StatusForbidden
			}
			msg := reply.Message
			if msg == "" {
				msg = fmt.Sprintf("refused by hook %q", name)
			}
			return out, &orc.Error{Code: orc.EDENIED, Message: msg, Status: status}
		}
		if !utf8.Valid(reply.Input) || !utf8.Valid(reply.Output) {
			return out, orc.Errorf(orc.EHOOK, "hook %q returned a document that is not valid UTF-8", name)
		}
		if req.Phase == orc.HookPre && len(reply.Input) > 0 {
			out.Input = reply.Input
		}
		if req.Phase == orc.HookPost && len(reply.Output) > 0 {
			out.Output = reply.Output
		}
		if req.Phase == orc.HookPre && reply.Route != nil {
			if out.Route == nil {
				out.Route = &orc.HookRoute{}
			}
			if reply.Route.Version != "" {
				out.Route.Version = reply.Route.Version
			}
			if reply.Route.Pool != "" {
				out.Route.Pool = reply.Route.Pool
			}
			if reply.Route.Priority != 0 {
				out.Route.Priority = reply.Route.Priority
			}
		}
	}
	return out, nil
}

// HasHooks reports whether a phase has any hook to run for a version.
func (h *Hooks) HasHooks(phase orc.HookPhase, v *orc.Version) bool {
	return h != nil && h.Host != nil && len(h.chain(phase, v)) > 0
}

func (h *Hooks) tracer() trace.Tracer {
	if h.Tracer == nil {
		return noop.Tracer{}
	}
	return h.Tracer
}

// endHookSpan names a hook call's span after its hook and ends it: failed
// when the hook failed or refused the invocation.
func endHookSpan(span trace.Span, name string, phase orc.HookPhase, reply *orc.HookReply, err error) {
	if span.IsRecording() {
		span.SetName("hook " + name)
		span.SetAttributes(attribute.String("orc.hook.name", name), attribute.String("orc.hook.phase", string(phase)))
		if reply != nil {
			span.SetAttributes(attribute.Bool("orc.hook.allow", reply.Allow))
		}
	}
	switch {
	case err != nil:
		span.SetStatus(codes.Error, orc.ErrorMessage(err))
	case reply != nil && !reply.Allow:
		span.SetStatus(codes.Error, "refused")
	}
	span.End()
}
