package registry

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/orc-gateway/orc"
)

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,62}$`)
	versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
	poolRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	envRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	imageRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$`)
)

// ValidateVersion checks a version as registered (after SetDefaults) and
// compiles its schemas, within ctx. It returns EINVALID listing every
// problem.
func ValidateVersion(ctx context.Context, v *orc.Version) error {
	var ps []orc.Problem
	bad := func(ptr, format string, args ...any) {
		ps = append(ps, orc.Problem{Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(v.Plugin) {
		bad("/name", "name must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter")
	}
	if !versionRE.MatchString(v.Version) {
		bad("/version", "version is required: up to 64 letters, digits, '.', '+', '_' or '-'")
	}
	if !imageRE.MatchString(v.Image) {
		bad("/docker_image", "docker_image is required and must be an image reference")
	}
	switch v.Protocol {
	case orc.ProtocolExec, orc.ProtocolHTTP:
	default:
		bad("/protocol", "protocol must be exec or http")
	}
	switch v.Execution {
	case orc.ExecutionPooled:
		if v.Pool == orc.RayJobPool {
			bad("/pool", "pool %q is reserved for execution ray-job", orc.RayJobPool)
		}
		if v.MinWorkers != nil && v.MaxWorkers != nil && (*v.MinWorkers < 0 || *v.MaxWorkers < 1 || *v.MinWorkers > *v.MaxWorkers || *v.MaxWorkers > orc.MaxWorkersBound) {
			bad("/max_workers", "max_workers must be between 1 and %d, min_workers between 0 and max_workers", orc.MaxWorkersBound)
		}
	case orc.ExecutionRayJob:
		if v.Protocol != orc.ProtocolExec {
			bad("/protocol", "execution ray-job runs the exec protocol: one container per invocation")
		}
		if v.Pool != orc.RayJobPool {
			bad("/pool", "execution ray-job has no pool: each invocation is placed by Ray on its own")
		}
		if v.MinWorkers != nil || v.MaxWorkers != nil {
			bad("/min_workers", "min_workers and max_workers are for execution pooled")
		}
	default:
		bad("/execution", "execution must be pooled or ray-job")
	}
	if v.Network != orc.NetworkNone && v.Network != orc.NetworkBridge {
		bad("/network", "network must be none or bridge")
	}
	if !poolRE.MatchString(v.Pool) {
		bad("/pool", "pool must be 1-63 lowercase letters, digits, '_' or '-'")
	}
	if v.TimeoutS < 1 || v.TimeoutS > orc.MaxTimeoutS {
		bad("/timeout_s", "timeout_s must be between 1 and %d", orc.MaxTimeoutS)
	}
	if v.QueueTimeoutS < 1 || v.QueueTimeoutS > orc.MaxQueueTimeoutS {
		bad("/queue_timeout_s", "queue_timeout_s must be between 1 and %d", orc.MaxQueueTimeoutS)
	}
	if v.Concurrency < 1 || v.Concurrency > orc.MaxConcurrency {
		bad("/concurrency", "concurrency must be between 1 and %d", orc.MaxConcurrency)
	}
	if v.MaxReplicas < 1 || v.MaxReplicas > orc.MaxReplicas || v.MinWarm < 0 || v.MinWarm > v.MaxReplicas {
		bad("/max_replicas", "max_replicas must be between 1 and %d, min_warm between 0 and max_replicas", orc.MaxReplicas)
	}
	checkResources(v.Resources, bad)
	if len(v.Env) > orc.MaxEnvVars {
		bad("/env", "a version may set at most %d environment variables", orc.MaxEnvVars)
	}
	for k, val := range v.Env {
		switch {
		case !envRE.MatchString(k):
			bad("/env/"+k, "environment variable names are letters, digits and '_'")
		case strings.HasPrefix(strings.ToUpper(k), "ORC_"):
			bad("/env/"+k, "ORC_ variables are reserved")
		case len(val) > orc.MaxEnvValue || strings.IndexByte(val, 0) >= 0:
			bad("/env/"+k, "environment values are at most %d bytes, without NUL", orc.MaxEnvValue)
		}
	}
	if len(v.Hooks.Pre) > orc.MaxHooksPerPhase || len(v.Hooks.Post) > orc.MaxHooksPerPhase {
		bad("/hooks", "a version may name at most %d hooks per phase", orc.MaxHooksPerPhase)
	}
	for _, ph := range hookPhases(v.Hooks) {
		for i, name := range ph.names {
			if !nameRE.MatchString(name) {
				bad(fmt.Sprintf("/hooks/%s/%d", ph.phase, i), "hook names are 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter")
			}
		}
	}
	if err := compileWithin(ctx, v.InputSchema); err != nil {
		bad("/input_schema", "invalid JSON Schema: %s", schemaErrorText(err))
	}
	if err := compileWithin(ctx, v.OutputSchema); err != nil {
		bad("/output_schema", "invalid JSON Schema: %s", schemaErrorText(err))
	}
	if len(ps) > 0 {
		return &orc.Error{Code: orc.EINVALID, Message: ps[0].Message, Details: ps}
	}
	return nil
}

// hookPhase is the hooks a version names for one phase.
type hookPhase struct {
	phase string
	names []string
}

// hookPhases lists a version's hooks by phase, in the order they run.
func hookPhases(h orc.HookRefs) []hookPhase {
	return []hookPhase{{"pre", h.Pre}, {"post", h.Post}}
}

// customRE is what a custom Ray resource's name looks like.
var customRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:/-]{0,62}$`)

// rayReserved are resource names Ray keeps for itself: a version asks for
// them through cpu, gpu and memory_mb.
var rayReserved = map[string]bool{"CPU": true, "GPU": true, "memory": true, "object_store_memory": true}

// checkResources checks a version's resources against their bounds. A zero
// cpu, memory or pids was filled in by SetDefaults.
func checkResources(r orc.Resources, bad func(ptr, format string, args ...any)) {
	if r.CPU < orc.MinCPU || r.CPU > orc.MaxCPU {
		bad("/resources/cpu", "cpu must be between %g and %g cores", orc.MinCPU, orc.MaxCPU)
	}
	if r.MemoryMB < orc.MinMemoryMB || r.MemoryMB > orc.MaxMemoryMB {
		bad("/resources/memory_mb", "memory_mb must be between %d and %d", orc.MinMemoryMB, orc.MaxMemoryMB)
	}
	if r.GPU < 0 || r.GPU > orc.MaxGPU {
		bad("/resources/gpu", "gpu must be between 0 and %d", orc.MaxGPU)
	}
	if r.Pids < orc.MinPids || r.Pids > orc.MaxPids {
		bad("/resources/pids", "pids must be between %d and %d", orc.MinPids, orc.MaxPids)
	}
	if len(r.Custom) > orc.MaxCustomResources {
		bad("/resources/custom", "at most %d custom resources", orc.MaxCustomResources)
	}
	for name, amount := range r.Custom {
		switch {
		case !customRE.MatchString(name) || rayReserved[name]:
			bad("/resources/custom", "custom resource %q: names are 1-63 letters, digits, '_', '.', ':', '/' or '-', starting with a letter, and not CPU, GPU, memory or object_store_memory", name)
		case amount < 0 || amount > orc.MaxCustomAmount:
			bad("/resources/custom/"+name, "custom resource amounts are between 0 and %d", orc.MaxCustomAmount)
		}
	}
}

// ValidHookName reports whether name can name a hook.
func ValidHookName(name string) bool { return nameRE.MatchString(name) }
