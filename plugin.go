package orc

import (
	"context"
	"encoding/json"
	"time"
)

// Protocol is how a plugin container talks to the worker.
type Protocol string

// Plugin container protocols (see docs/plugins.md).
const (
	// ProtocolExec runs a fresh container per invocation: input JSON is the
	// last argument and on stdin, output is the last JSON line of stdout.
	ProtocolExec Protocol = "exec"
	// ProtocolHTTP keeps warm containers that serve POST /invoke.
	ProtocolHTTP Protocol = "http"
)

// Execution is where an invocation runs.
type Execution string

// Execution modes.
const (
	// ExecutionPooled runs on a long-lived worker consuming the pool's queue.
	ExecutionPooled Execution = "pooled"
	// ExecutionRayJob runs each invocation as its own Ray job.
	ExecutionRayJob Execution = "ray-job"
)

// Network is the network a plugin container gets.
type Network string

// Networks a plugin may ask for. Containers get none unless they ask.
const (
	NetworkNone   Network = "none"
	NetworkBridge Network = "bridge"
)

// DefaultPool is the pool of versions that name none.
const DefaultPool = "default"

// Plugin is a named function. Its behaviour lives in its versions.
type Plugin struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	OwnerID       int64     `json:"owner_id,omitempty"`
	Public        bool      `json:"public"`
	LatestVersion string    `json:"latest_version"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// Latest is the latest version, filled in where it is asked for.
	Latest *Version `json:"latest,omitempty"`
}

// Resources are the limits of one plugin container (and, for Ray, what a
// worker replica or Ray job reserves).
type Resources struct {
	CPU      float64            `json:"cpu,omitempty"`       // cores; default 1
	MemoryMB int64              `json:"memory_mb,omitempty"` // default 512
	GPU      int                `json:"gpu,omitempty"`
	Pids     int64              `json:"pids,omitempty"` // default 256
	Custom   map[string]float64 `json:"custom,omitempty"`
}

// Version is one immutable, runnable version of a plugin. Its JSON form is
// the seed's plugin.json (name, version, description, docker_image,
// input_schema, output_schema) plus Orc's own fields.
type Version struct {
	ID           int64           `json:"id,omitempty"`
	Plugin       string          `json:"name"`
	Version      string          `json:"version"`
	Description  string          `json:"description"`
	Image        string          `json:"docker_image"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Protocol     Protocol        `json:"protocol"`
	Resources    Resources       `json:"resources"`
	TimeoutS     int             `json:"timeout_s"`
	// QueueTimeoutS is the longest an invocation may wait in its queue
	// before a worker starts it; past it, it ends expired (default 1 h).
	QueueTimeoutS int       `json:"queue_timeout_s"`
	Concurrency   int       `json:"concurrency"`
	MinWarm       int       `json:"min_warm"`
	MaxReplicas   int       `json:"max_replicas"`
	Pool          string    `json:"pool"`
	Execution     Execution `json:"execution"`
	// MinWorkers and MaxWorkers bound the worker replicas the scheduler
	// keeps on Ray for the version's pool (defaults 1 and 4; pooled
	// execution only). A pool gets the largest bounds of its versions.
	MinWorkers *int              `json:"min_workers,omitempty"`
	MaxWorkers *int              `json:"max_workers,omitempty"`
	Hooks      HookRefs          `json:"hooks"`
	Network    Network           `json:"network"`
	Env        map[string]string `json:"env,omitempty"`
	Public     *bool             `json:"public,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

// HookRefs names the hooks a version runs before and after the plugin.
type HookRefs struct {
	Pre  []string `json:"pre,omitempty"`
	Post []string `json:"post,omitempty"`
}

// Version defaults.
const (
	DefaultTimeoutS = 60
	MaxTimeoutS     = 24 * 60 * 60
	// DefaultQueueTimeoutS and MaxQueueTimeoutS bound the wait in a queue.
	DefaultQueueTimeoutS = 60 * 60
	MaxQueueTimeoutS     = 24 * 60 * 60
	DefaultCPU           = 1.0
	DefaultMemoryMB      = 512
	DefaultPids          = 256
	// DefaultMinWorkers keeps one worker per pool in use ready, so that no
	// invocation waits for Ray to start one.
	DefaultMinWorkers = 1
	DefaultMaxWorkers = 4
)

// Bounds of a version's fields, checked when it is registered
// (docs/plugins.md). An operator's policy may narrow them.
const (
	MinCPU, MaxCPU           = 0.01, 1024 // cores: Docker's least share, and a node's most
	MinMemoryMB, MaxMemoryMB = 6, 1 << 20 // MB: Docker's least, 1 TiB
	MaxGPU                   = 64         // GPUs of one container
	MinPids, MaxPids         = 16, 32768  // processes and threads of one container
	MaxCustomResources       = 16         // custom Ray resources of a version
	MaxCustomAmount          = 1_000_000  // of one custom resource
	MaxConcurrency           = 1000       // calls at once per warm container
	MaxReplicas              = 100        // warm containers per version and worker
	MaxWorkersBound          = 100        // worker replicas of a pool
	MaxEnvVars               = 100        // environment variables of a version
	MaxEnvValue              = 32 << 10   // bytes of one environment value
	MaxHooksPerPhase         = 16         // hooks a version names per phase
	MaxSchemaBytes           = 256 << 10  // bytes of an input or output schema
	MaxSchemaDepth           = 64         // nesting of an input or output schema
)

// Timeout returns the version's time limit for one run.
func (v *Version) Timeout() time.Duration {
	return time.Duration(v.TimeoutS) * time.Second
}

// SetDefaults fills in the defaults of fields left empty.
func (v *Version) SetDefaults() {
	if v.Protocol == "" {
		v.Protocol = ProtocolExec
	}
	if v.TimeoutS == 0 {
		v.TimeoutS = DefaultTimeoutS
	}
	if v.QueueTimeoutS == 0 {
		v.QueueTimeoutS = DefaultQueueTimeoutS
	}
	if v.Concurrency == 0 {
		v.Concurrency = 1
	}
	if v.MaxReplicas == 0 {
		v.MaxReplicas = 1
	}
	if v.Execution == "" {
		v.Execution = ExecutionPooled
	}
	if v.Pool == "" {
		v.Pool = DefaultPool
		if v.Execution == ExecutionRayJob {
			v.Pool = RayJobPool
		}
	}
	if v.Execution == ExecutionPooled {
		if v.MinWorkers == nil {
			n := DefaultMinWorkers
			v.MinWorkers = &n
		}
		if v.MaxWorkers == nil {
			n := max(DefaultMaxWorkers, *v.MinWorkers)
			v.MaxWorkers = &n
		}
	}
	if v.Network == "" {
		v.Network = NetworkNone
	}
	if v.Resources.CPU == 0 {
		v.Resources.CPU = DefaultCPU
	}
	if v.Resources.MemoryMB == 0 {
		v.Resources.MemoryMB = DefaultMemoryMB
	}
	if v.Resources.Pids == 0 {
		v.Resources.Pids = DefaultPids
	}
}

// PluginFilter selects plugins.
type PluginFilter struct {
	// Viewer limits the result to plugins the principal may see.
	Viewer *Principal
}

// PluginService keeps plugins and their versions.
type PluginService interface {
	// CreateVersion stores a new version, creating its plugin when it is the
	// first. The version must have been validated. Returns ECONFLICT if the
	// version exists, EFORBIDDEN if the plugin belongs to someone else.
	CreateVersion(ctx context.Context, owner *Principal, v *Version) (*Version, error)

	// FindPlugin returns a plugin by name (or by numeric id, as the seed's API
	// allows), with its latest version. Returns ENOTFOUND.
	FindPlugin(ctx context.Context, name string) (*Plugin, error)

	// ListPlugins returns plugins ordered by name, with their latest versions.
	ListPlugins(ctx context.Context, filter PluginFilter) ([]*Plugin, error)

	// DeletePlugin removes a plugin and its versions; its invocations are
	// kept. Returns ENOTFOUND.
	DeletePlugin(ctx context.Context, name string) error

	// FindVersion returns one version of a plugin, the latest when version
	// is empty. Returns ENOTFOUND.
	FindVersion(ctx context.Context, plugin, version string) (*Version, error)

	// FindVersionByID returns a version by its id. Returns ENOTFOUND.
	FindVersionByID(ctx context.Context, id int64) (*Version, error)

	// ListVersions returns a plugin's versions, newest first. Returns
	// ENOTFOUND when the plugin does not exist.
	ListVersions(ctx context.Context, plugin string) ([]*Version, error)
}
