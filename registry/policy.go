package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/orc-gateway/orc"
)

// CheckPolicy checks a policy an admin sets. It returns EINVALID listing
// every problem.
func CheckPolicy(p *orc.Policy) error {
	var ps []orc.Problem
	bad := func(ptr, format string, args ...any) {
		ps = append(ps, orc.Problem{Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	for role, caps := range p.Roles {
		at := "/roles/" + string(role)
		switch {
		case !role.Valid():
			bad(at, "roles are admin, developer, invoker or viewer")
			continue
		case role == orc.RoleAdmin:
			bad(at, "admins are bound by the versions' bounds only; the policy has no caps for them")
			continue
		}
		// Zero caps are allowed (none of it); the floors apply above zero.
		r := orc.Resources{CPU: max(caps.CPU, orc.MinCPU), MemoryMB: max(caps.MemoryMB, orc.MinMemoryMB),
			GPU: caps.GPU, Pids: orc.MinPids, Custom: caps.Custom}
		checkResources(r, func(ptr, format string, args ...any) { bad(at+ptr[len("/resources"):], format, args...) })
		if caps.TimeoutS < 0 || caps.TimeoutS > orc.MaxTimeoutS {
			bad(at+"/timeout_s", "timeout_s must be between 0 and %d", orc.MaxTimeoutS)
		}
		if caps.MinWorkers < 0 || caps.MaxWorkers < 0 || caps.MaxWorkers > orc.MaxWorkersBound || caps.MaxReplicas < 0 || caps.MaxReplicas > orc.MaxReplicas {
			bad(at+"/max_workers", "min_workers, max_workers and max_replicas must be between 0 and their bounds (%d, %d)", orc.MaxWorkersBound, orc.MaxReplicas)
		}
		for _, n := range caps.Networks {
			if n != orc.NetworkNone && n != orc.NetworkBridge {
				bad(at+"/networks", "networks are none or bridge")
			}
		}
	}
	for field, patterns := range map[string][]string{"images": p.Images, "shared_images": p.SharedImages} {
		for i, pattern := range patterns {
			if pattern == "" || !doublestar.ValidatePattern(pattern) {
				bad(fmt.Sprintf("/%s/%d", field, i), "%q is not an image pattern", pattern)
			}
		}
	}
	for name, size := range p.SharedPools {
		at := "/shared_pools/" + name
		if !poolRE.MatchString(name) || name == orc.RayJobPool {
			bad(at, "shared pools are pool names (not %s)", orc.RayJobPool)
			continue
		}
		r := size.Resources
		if r.Pids == 0 {
			r.Pids = orc.MinPids
		}
		checkResources(r, func(ptr, format string, args ...any) { bad(at+ptr, format, args...) })
		if size.MinWorkers < 0 || size.MaxWorkers < 1 || size.MinWorkers > size.MaxWorkers || size.MaxWorkers > orc.MaxWorkersBound {
			bad(at+"/max_workers", "max_workers must be between 1 and %d, min_workers between 0 and max_workers", orc.MaxWorkersBound)
		}
	}
	for role, q := range p.Quotas {
		if !role.Valid() {
			bad("/quotas/"+string(role), "roles are admin, developer, invoker or viewer")
		}
		if q.Plugins < 0 || q.Versions < 0 || q.Hooks < 0 || q.APIKeys < 0 {
			bad("/quotas/"+string(role), "quotas are 0 (unlimited) or more")
		}
	}
	if len(ps) > 0 {
		return &orc.Error{Code: orc.EINVALID, Message: ps[0].Message, Details: ps}
	}
	return nil
}

// refusal gathers what a policy refuses of a registration.
type refusal []orc.Problem

func (r *refusal) add(ptr, rule, format string, args ...any) {
	*r = append(*r, orc.Problem{Pointer: ptr, Message: fmt.Sprintf(format, args...), Rule: rule})
}

func (r refusal) err() error {
	if len(r) == 0 {
		return nil
	}
	return &orc.Error{Code: orc.EFORBIDDEN, Message: "the policy does not allow it: " + r[0].Message, Details: []orc.Problem(r)}
}

// admit applies the installation's policy to a version that p registers:
// the caps of p's role, the images, the pools and p's quota. A pool nobody
// owns yet becomes p's. Returns EFORBIDDEN listing every rule broken.
func (r *Registry) admit(ctx context.Context, p *orc.Principal, v *orc.Version) error {
	if r.Policies == nil {
		return nil
	}
	policy, err := r.Policies.Policy(ctx)
	if err != nil {
		return err
	}
	var no refusal
	if !p.IsAdmin() {
		caps, ok := policy.Roles[p.Role]
		if !ok {
			no.add("", "roles."+string(p.Role), "the policy lets no %s register versions", p.Role)
			return no.err()
		}
		capVersion(&no, "roles."+string(p.Role), caps, v)
		if !imageAllowed(policy.Images, v.Image) {
			no.add("/docker_image", "images", "image %q matches none of the images the policy allows", v.Image)
		}
		users, err := r.Policies.ImageUsers(ctx, v.Image)
		if err != nil {
			return err
		}
		if !imageAllowed(policy.SharedImages, v.Image) && slices.ContainsFunc(users, func(id int64) bool { return id != p.UserID }) {
			no.add("/docker_image", "images.owner", "image %q runs another user's plugin", v.Image)
		}
	}
	size, shared := policy.SharedPools[v.Pool]
	if shared && v.Execution == orc.ExecutionPooled && !size.Fits(v.Resources) {
		no.add("/resources", "shared_pools."+v.Pool, "pool %s is shared and its workers have %s; ask for less, or use a pool of your own",
			v.Pool, describe(size.Resources))
	}
	if err := r.checkQuota(ctx, p, v, policy, &no); err != nil {
		return err
	}
	if len(no) > 0 {
		return no.err()
	}
	if !shared && v.Execution == orc.ExecutionPooled {
		owner, err := r.Policies.ClaimPool(ctx, v.Pool, p.UserID)
		if err != nil {
			return err
		}
		if owner != p.UserID && !p.IsAdmin() {
			no.add("/pool", "pools.owner", "pool %s belongs to another user", v.Pool)
		}
	}
	return no.err()
}

// capVersion checks a version against its registrant's role caps.
func capVersion(no *refusal, rule string, caps orc.RoleCaps, v *orc.Version) {
	res := v.Resources
	if res.CPU > caps.CPU {
		no.add("/resources/cpu", rule+".cpu", "your role may ask at most %g cpu", caps.CPU)
	}
	if res.MemoryMB > caps.MemoryMB {
		no.add("/resources/memory_mb", rule+".memory_mb", "your role may ask at most %d memory_mb", caps.MemoryMB)
	}
	if res.GPU > caps.GPU {
		no.add("/resources/gpu", rule+".gpu", "your role may ask at most %d gpu", caps.GPU)
	}
	for name, amount := range res.Custom {
		most, ok := caps.Custom[name]
		switch {
		case !ok:
			no.add("/resources/custom/"+name, rule+".custom", "your role may not ask custom resource %q", name)
		case amount > most:
			no.add("/resources/custom/"+name, rule+".custom", "your role may ask at most %g of custom resource %q", most, name)
		}
	}
	if v.TimeoutS > caps.TimeoutS {
		no.add("/timeout_s", rule+".timeout_s", "your role may ask at most %d timeout_s", caps.TimeoutS)
	}
	if v.MinWorkers != nil && *v.MinWorkers > caps.MinWorkers {
		no.add("/min_workers", rule+".min_workers", "your role may ask at most %d min_workers", caps.MinWorkers)
	}
	if v.MaxWorkers != nil && *v.MaxWorkers > caps.MaxWorkers {
		no.add("/max_workers", rule+".max_workers", "your role may ask at most %d max_workers", caps.MaxWorkers)
	}
	if v.MaxReplicas > caps.MaxReplicas {
		no.add("/max_replicas", rule+".max_replicas", "your role may ask at most %d max_replicas", caps.MaxReplicas)
	}
	if !slices.Contains(caps.Networks, v.Network) {
		no.add("/network", rule+".networks", "your role may not ask network %s", v.Network)
	}
	if v.Execution == orc.ExecutionRayJob && !caps.RayJobs {
		no.add("/execution", rule+".ray_jobs", "your role may not run execution ray-job")
	}
}

// checkQuota counts what p keeps against its role's quota.
func (r *Registry) checkQuota(ctx context.Context, p *orc.Principal, v *orc.Version, policy *orc.Policy, no *refusal) error {
	q, ok := policy.Quotas[p.Role]
	if p.IsAdmin() || !ok || (q.Plugins == 0 && q.Versions == 0) {
		return nil
	}
	u, err := r.Policies.Usage(ctx, p.UserID)
	if err != nil {
		return err
	}
	rule := "quotas." + string(p.Role)
	if q.Versions > 0 && u.Versions >= q.Versions {
		no.add("", rule+".versions", "you keep %d versions, the most your role may", u.Versions)
	}
	if q.Plugins > 0 && u.Plugins >= q.Plugins {
		if _, err := r.Plugins.FindPlugin(ctx, v.Plugin); orc.ErrorCode(err) == orc.ENOTFOUND {
			no.add("/name", rule+".plugins", "you keep %d plugins, the most your role may", u.Plugins)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// imageAllowed reports whether an image reference matches one of the
// policy's patterns.
func imageAllowed(patterns []string, image string) bool {
	for _, p := range patterns {
		if ok, err := doublestar.Match(p, image); err == nil && ok {
			return true
		}
	}
	return false
}

// describe renders resources for a message: cpu=1, memory=1024MB, ….
func describe(r orc.Resources) string {
	parts := []string{fmt.Sprintf("cpu=%g", r.CPU), fmt.Sprintf("memory_mb=%d", r.MemoryMB)}
	if r.GPU > 0 {
		parts = append(parts, fmt.Sprintf("gpu=%d", r.GPU))
	}
	for name, amount := range r.Custom {
		parts = append(parts, fmt.Sprintf("%s=%g", name, amount))
	}
	return strings.Join(parts, ", ")
}

// checkHookQuota counts p's hooks against its role's quota.
func (r *Registry) checkHookQuota(ctx context.Context, p *orc.Principal) error {
	if r.Policies == nil || p.IsAdmin() {
		return nil
	}
	policy, err := r.Policies.Policy(ctx)
	if err != nil {
		return err
	}
	q := policy.Quotas[p.Role]
	if q.Hooks == 0 {
		return nil
	}
	u, err := r.Policies.Usage(ctx, p.UserID)
	if err != nil {
		return err
	}
	var no refusal
	if u.Hooks >= q.Hooks {
		no.add("", "quotas."+string(p.Role)+".hooks", "you keep %d hooks, the most your role may", u.Hooks)
	}
	return no.err()
}
