// Package registry keeps what can be invoked and registers it: plugins and
// their versions (checked, with their JSON Schemas compiled once and cached
// by version), and the WebAssembly hooks (checked, loaded into a host, and
// run in order for each phase). The gateway and the console register
// through it; the invoke path and the workers find versions, check
// documents and run hooks through it, never compiling on the request path.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/ttlcache"
)

// Registry registers plugin versions and hooks, and finds plugins through a
// short-lived cache on the invoke path.
type Registry struct {
	Plugins   orc.PluginService
	HookStore orc.HookService
	// Hooks loads and runs hook modules; nil disables hooks.
	Hooks  *Hooks
	Logger *slog.Logger
	Clock  orc.Clock
	// Schemas holds the compiled schemas of versions.
	Schemas Schemas
	// Policies keeps the installation's policy, which registrations must
	// follow; nil: none (tests).
	Policies orc.PolicyService

	plugins *ttlcache.Cache[*orc.Plugin]
}

// New returns a Registry whose plugin look-ups are cached for cacheTTL (a
// new version takes up to this long to show on other gateways; zero or
// less disables the cache). Set its service fields before use.
func New(cacheTTL time.Duration) *Registry {
	return &Registry{Logger: slog.Default(), Clock: orc.SystemClock{}, plugins: ttlcache.New[*orc.Plugin](cacheTTL)}
}

// FindPlugin returns a plugin by name (or numeric id) with its latest
// version, through the cache. Returns ENOTFOUND.
func (r *Registry) FindPlugin(ctx context.Context, name string) (*orc.Plugin, error) {
	now := r.Clock.Now()
	if p, ok := r.plugins.Get(name, now); ok {
		return p, nil
	}
	p, err := r.Plugins.FindPlugin(ctx, name)
	if err == nil {
		r.plugins.Put(name, p, now)
	}
	return p, err
}

// FindVersion returns one version of a plugin, the latest when version is
// empty. Returns ENOTFOUND.
func (r *Registry) FindVersion(ctx context.Context, plugin, version string) (*orc.Version, error) {
	return r.Plugins.FindVersion(ctx, plugin, version)
}

// poolChecker is implemented by plugin stores that know which pools are in
// use.
type poolChecker interface {
	PoolExists(ctx context.Context, pool string) (bool, error)
}

// PoolExists reports whether some plugin version runs in pool: only such a
// pool has workers. Returns EINVALID for a name no pool can have.
func (r *Registry) PoolExists(ctx context.Context, pool string) (bool, error) {
	if !poolRE.MatchString(pool) {
		return false, orc.Errorf(orc.EINVALID, "%q is not a pool name", pool)
	}
	pc, ok := r.Plugins.(poolChecker)
	if !ok {
		return true, nil
	}
	return pc.PoolExists(ctx, pool)
}

// Register checks a version from a plugin.json, fills in its defaults and
// stores it, creating its plugin when it is the first. Fields the server
// owns (id, creation time) are never taken from v. Returns EFORBIDDEN when
// the principal may not register plugins or the plugin is someone else's
// public one, ENOTFOUND when it is someone else's private one, EINVALID
// listing every problem, ECONFLICT when the version exists.
func (r *Registry) Register(ctx context.Context, p *orc.Principal, v *orc.Version) (*orc.Version, error) {
	if !p.Role.CanPublish() {
		return nil, orc.Errorf(orc.EFORBIDDEN, "your role may not register plugins")
	}
	v.ID = 0
	v.CreatedAt = r.Clock.Now()
	v.SetDefaults()
	if err := ValidateVersion(ctx, v); err != nil {
		return nil, err
	}
	if err := r.checkHooks(ctx, p, v); err != nil {
		return nil, err
	}
	if err := r.admit(ctx, p, v); err != nil {
		return nil, err
	}
	created, err := r.Plugins.CreateVersion(ctx, p, v)
	if orc.ErrorCode(err) == orc.EFORBIDDEN {
		// Another user's plugin: its existence is theirs to know, unless
		// it is public.
		if existing, ferr := r.Plugins.FindPlugin(ctx, v.Plugin); ferr == nil && !p.CanSeePlugin(existing) {
			return nil, orc.Errorf(orc.ENOTFOUND, "plugin %q not found", v.Plugin)
		}
	}
	if err != nil {
		return nil, err
	}
	r.plugins.Forget(created.Plugin)
	r.Logger.InfoContext(ctx, "plugin version registered", "plugin", created.Plugin, "version", created.Version, "user_id", p.UserID)
	return created, nil
}

// checkHooks makes sure every hook a version names exists and is the
// principal's (an admin may name anyone's): naming another's hook would
// keep its owner from deleting it.
func (r *Registry) checkHooks(ctx context.Context, p *orc.Principal, v *orc.Version) error {
	var ps []orc.Problem
	for _, ph := range hookPhases(v.Hooks) {
		for i, name := range ph.names {
			h, err := r.HookStore.FindHook(ctx, name)
			if orc.ErrorCode(err) == orc.ENOTFOUND || (err == nil && !p.CanSee(h.OwnerID)) {
				ps = append(ps, orc.Problem{Pointer: fmt.Sprintf("/hooks/%s/%d", ph.phase, i), Message: fmt.Sprintf("no hook named %q", name)})
			} else if err != nil {
				return err
			}
		}
	}
	if len(ps) > 0 {
		return &orc.Error{Code: orc.EINVALID, Message: ps[0].Message, Details: ps}
	}
	return nil
}

// DeletePlugin removes a plugin the principal may see, with its versions;
// its owner or an admin may. Returns ENOTFOUND (also for another's private
// plugin), EFORBIDDEN.
func (r *Registry) DeletePlugin(ctx context.Context, p *orc.Principal, name string) error {
	plugin, err := r.Plugins.FindPlugin(ctx, name)
	if err != nil {
		return err
	}
	if !p.CanSeePlugin(plugin) {
		return orc.Errorf(orc.ENOTFOUND, "plugin %q not found", name)
	}
	if !p.IsAdmin() && !(p.Role.CanPublish() && plugin.OwnerID == p.UserID) {
		return orc.Errorf(orc.EFORBIDDEN, "your role may not delete this plugin")
	}
	if err := r.Plugins.DeletePlugin(ctx, plugin.Name); err != nil {
		return err
	}
	r.plugins.Forget(plugin.Name)
	r.plugins.Forget(strconv.FormatInt(plugin.ID, 10))
	r.Logger.InfoContext(ctx, "plugin deleted", "plugin", plugin.Name, "user_id", p.UserID)
	return nil
}

// AddHook checks a hook module (it must compile and start: one whose
// _initialize traps is refused, not stored), stores it under h.Name and
// loads it, so that it is ready when AddHook returns. It sets h's digest and owner (the store its size and creation
// time). Developers may add hooks (within their quota), only admins global
// ones.
//
// # Errors
//
// EFORBIDDEN (the role, a global hook, the quota), EINVALID (a bad name,
// or a module that does not compile, lacks the ABI or does not start),
// ECONFLICT when the name is taken, EUNAVAILABLE when hooks are disabled.
func (r *Registry) AddHook(ctx context.Context, p *orc.Principal, h *orc.Hook) error {
	if !p.Role.CanPublish() {
		return orc.Errorf(orc.EFORBIDDEN, "your role may not upload hooks")
	}
	if !ValidHookName(h.Name) {
		return orc.Errorf(orc.EINVALID, "name must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter")
	}
	if h.Global && !p.IsAdmin() {
		return orc.Errorf(orc.EFORBIDDEN, "your role may not upload global hooks")
	}
	if r.Hooks == nil {
		return orc.Errorf(orc.EUNAVAILABLE, "hooks are not enabled on this gateway")
	}
	if err := r.checkHookQuota(ctx, p); err != nil {
		return err
	}
	if err := r.Hooks.Host.Validate(ctx, h.Module); err != nil {
		return err
	}
	sum := sha256.Sum256(h.Module)
	h.SHA256, h.OwnerID = hex.EncodeToString(sum[:]), p.UserID
	if err := r.HookStore.CreateHook(ctx, h); err != nil {
		return err
	}
	if err := r.Hooks.Added(ctx, h); err != nil {
		return err
	}
	r.Logger.InfoContext(ctx, "hook uploaded", "hook", h.Name, "sha256", h.SHA256, "global", h.Global, "user_id", p.UserID)
	return nil
}

// DeleteHook removes a hook that no plugin version names; its owner or an
// admin may. Returns ENOTFOUND, EFORBIDDEN, ECONFLICT while a version names
// it.
func (r *Registry) DeleteHook(ctx context.Context, p *orc.Principal, name string) error {
	h, err := r.HookStore.FindHook(ctx, name)
	if err != nil {
		return err
	}
	if !h.Global && !p.CanSee(h.OwnerID) {
		// Another user's hook is not there for this caller (as on GET).
		return orc.Errorf(orc.ENOTFOUND, "hook %q not found", h.Name)
	}
	if !p.IsAdmin() && !(p.Role.CanPublish() && h.OwnerID == p.UserID) {
		return orc.Errorf(orc.EFORBIDDEN, "your role may not delete this hook")
	}
	if err := r.HookStore.DeleteHook(ctx, h.Name); err != nil {
		return err
	}
	if r.Hooks != nil {
		r.Hooks.Removed(h.Name)
	}
	r.Logger.InfoContext(ctx, "hook deleted", "hook", h.Name, "user_id", p.UserID)
	return nil
}
