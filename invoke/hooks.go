package invoke

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/orc-gateway/orc"
)

// hiddenHeaders are never shown to hooks.
var hiddenHeaders = map[string]bool{"authorization": true, "cookie": true, "proxy-authorization": true}

// preHooks runs the pre hooks of an invocation: they may rewrite its input
// and route it to another version, pool or priority, or refuse it. A
// refused invocation (or one whose hook failed) is recorded, final, with the
// hooks' log lines.
func (s *Service) preHooks(ctx context.Context, p *orc.Principal, inv *orc.Invocation, v *orc.Version, headers http.Header) (*orc.Version, error) {
	if s.Hooks == nil || !s.Hooks.HasHooks(orc.HookPre, v) {
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

// route applies a pre hook's routing decision.
func (s *Service) route(ctx context.Context, inv *orc.Invocation, v *orc.Version, r *orc.HookRoute) (*orc.Version, error) {
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
		// Only to a pool that some version runs in: a pool nobody serves
		// would keep the invocation queued for ever.
		exists, err := s.Plugins.PoolExists(ctx, r.Pool)
		if orc.ErrorCode(err) == orc.EINVALID {
			return v, orc.Errorf(orc.EHOOK, "a hook routed to the invalid pool %q", r.Pool)
		}
		if err != nil {
			return v, err
		}
		if !exists {
			return v, orc.Errorf(orc.EHOOK, "a hook routed to pool %q, which no plugin version runs in", r.Pool)
		}
		inv.Pool = r.Pool
	}
	if r.Priority < 0 || r.Priority > 9 {
		return v, orc.Errorf(orc.EHOOK, "a hook set priority %d; priorities are 0 to 9", r.Priority)
	}
	inv.Priority = r.Priority
	return v, nil
}
