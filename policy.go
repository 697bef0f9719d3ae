package orc

import (
	"context"
	"time"
)

// Policy is what an installation's admins allow its users: caps on what
// the versions of each role may ask, the images versions may run, the
// pools everyone shares, and how much each user may keep. DefaultPolicy is
// in force until an admin sets another (docs/policy.md). Admins' own
// versions are bound by the pools' sizes and the versions' bounds
// (plugin.go) only.
type Policy struct {
	// Roles caps the versions registered by users of each role other than
	// admin. A role left out may register nothing beyond the bounds.
	Roles map[Role]RoleCaps `json:"roles"`
	// Images are patterns of the images versions may run: * matches any
	// characters but '/', ** any characters, ? one (doublestar syntax).
	// An image that another user's versions run is refused unless it
	// matches SharedImages: images sit on a shared engine.
	Images []string `json:"images"`
	// SharedImages are patterns of images that any user's versions may run
	// although another user's plugin runs them (base images an admin
	// publishes for everyone); every other image belongs to the users whose
	// plugins run it.
	SharedImages []string `json:"shared_images,omitempty"`
	// SharedPools are the pools whose workers every user's versions may
	// use, with the size of one worker replica: a version that asks for
	// more than that size does not fit, and the replicas reserve that size
	// on Ray whatever the versions ask. Every other pool belongs to whoever
	// registered its first version.
	SharedPools map[string]PoolSize `json:"shared_pools"`
	// Quotas bound what each user of a role may keep. A role left out,
	// and a zero field, are unlimited.
	Quotas map[Role]Quota `json:"quotas"`
	// UpdatedAt and UpdatedBy say who set the policy last; zero for the
	// default.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	UpdatedBy int64     `json:"updated_by,omitempty"`
}

// RoleCaps are the most a version of a role's user may ask.
type RoleCaps struct {
	CPU      float64 `json:"cpu"`
	MemoryMB int64   `json:"memory_mb"`
	GPU      int     `json:"gpu"`
	// Custom lists the custom Ray resources a version may ask, each with
	// its most; others are refused.
	Custom      map[string]float64 `json:"custom,omitempty"`
	TimeoutS    int                `json:"timeout_s"`
	MinWorkers  int                `json:"min_workers"`
	MaxWorkers  int                `json:"max_workers"`
	MaxReplicas int                `json:"max_replicas"`
	Networks    []Network          `json:"networks"`
	// RayJobs allows execution ray-job: each invocation a Ray job of its
	// own, placed by the version's resources.
	RayJobs bool `json:"ray_jobs"`
}

// PoolSize is one worker replica of a shared pool, and the bounds of the
// replicas.
type PoolSize struct {
	Resources  Resources `json:"resources"`
	MinWorkers int       `json:"min_workers"`
	MaxWorkers int       `json:"max_workers"`
}

// Quota is what one user may keep; zero is unlimited.
type Quota struct {
	Plugins  int `json:"plugins"`
	Versions int `json:"versions"`
	Hooks    int `json:"hooks"`
	APIKeys  int `json:"api_keys"`
}

// Usage is what one user keeps, for their quota.
type Usage struct {
	Plugins, Versions, Hooks, APIKeys int
}

// DefaultPolicy returns the policy of an installation whose admins set
// none: developers may ask up to 4 CPUs, 16 GiB, no GPU and no custom
// resource, an hour per run, 4 worker replicas and 8 warm containers; any
// image not another user's; the pool default is shared with replicas of 1
// CPU and 1 GiB; and each developer keeps at most 50 plugins, 500 versions,
// 20 hooks and 50 API keys.
func DefaultPolicy() *Policy {
	return &Policy{
		Roles: map[Role]RoleCaps{
			RoleDeveloper: {CPU: 4, MemoryMB: 16 << 10, TimeoutS: 3600, MinWorkers: 1, MaxWorkers: 4, MaxReplicas: 8,
				Networks: []Network{NetworkNone, NetworkBridge}, RayJobs: true},
		},
		Images: []string{"**"},
		SharedPools: map[string]PoolSize{
			DefaultPool: {Resources: Resources{CPU: 1, MemoryMB: 1024}, MinWorkers: DefaultMinWorkers, MaxWorkers: DefaultMaxWorkers},
		},
		Quotas: map[Role]Quota{
			RoleDeveloper: {Plugins: 50, Versions: 500, Hooks: 20, APIKeys: 50},
			RoleInvoker:   {APIKeys: 20},
			RoleViewer:    {APIKeys: 20},
		},
	}
}

// Fits reports whether a version's resources fit in a replica of size.
func (size PoolSize) Fits(r Resources) bool {
	if r.CPU > size.Resources.CPU || r.MemoryMB > size.Resources.MemoryMB || r.GPU > size.Resources.GPU {
		return false
	}
	for name, amount := range r.Custom {
		if amount > size.Resources.Custom[name] {
			return false
		}
	}
	return true
}

// PolicyService keeps the policy and what it needs to know of the users'
// things.
type PolicyService interface {
	// Policy returns the policy in force (DefaultPolicy when none was set).
	Policy(ctx context.Context) (*Policy, error)

	// SetPolicy replaces the policy; it must have been checked.
	SetPolicy(ctx context.Context, p *Policy) error

	// ClaimPool makes ownerID the owner of pool unless it has one, and
	// returns its owner.
	ClaimPool(ctx context.Context, pool string, ownerID int64) (int64, error)

	// Usage returns what a user keeps.
	Usage(ctx context.Context, userID int64) (*Usage, error)

	// ImageUsers returns the users whose plugins' versions run image.
	ImageUsers(ctx context.Context, image string) ([]int64, error)
}
