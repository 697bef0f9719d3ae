package registry

import (
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
// compiles its schemas. It returns EINVALID listing every problem.
func ValidateVersion(v *orc.Version) error {
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
		if v.MinWorkers != nil && v.MaxWorkers != nil && (*v.MinWorkers < 0 || *v.MaxWorkers < 1 || *v.MinWorkers > *v.MaxWorkers || *v.MaxWorkers > 1000) {
			bad("/max_workers", "max_workers must be between 1 and 1000, min_workers between 0 and max_workers")
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
	if v.Concurrency < 1 || v.MaxReplicas < 1 || v.MinWarm < 0 || v.MinWarm > v.MaxReplicas {
		bad("/concurrency", "concurrency and max_replicas must be at least 1, min_warm between 0 and max_replicas")
	}
	r := v.Resources
	if r.CPU < 0 || r.CPU > 1024 {
		bad("/resources/cpu", "cpu must be between 0 and 1024 cores")
	}
	if r.MemoryMB < 6 || r.MemoryMB > 1<<24 {
		bad("/resources/memory_mb", "memory_mb must be between 6 and %d", 1<<24)
	}
	if r.GPU < 0 || r.Pids < 0 {
		bad("/resources", "gpu and pids must not be negative")
	}
	for name, amount := range r.Custom {
		if name == "" || amount < 0 {
			bad("/resources/custom", "custom resources need a name and a non-negative amount")
		}
	}
	for k := range v.Env {
		if !envRE.MatchString(k) {
			bad("/env/"+k, "environment variable names are letters, digits and '_'")
		} else if strings.HasPrefix(strings.ToUpper(k), "ORC_") {
			bad("/env/"+k, "ORC_ variables are reserved")
		}
	}
	for i, name := range append(append([]string(nil), v.Hooks.Pre...), v.Hooks.Post...) {
		if !nameRE.MatchString(name) {
			bad(fmt.Sprintf("/hooks/%d", i), "hook names are 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter")
		}
	}
	if _, err := compile(v.InputSchema); err != nil {
		bad("/input_schema", "invalid JSON Schema: %s", schemaErrorText(err))
	}
	if _, err := compile(v.OutputSchema); err != nil {
		bad("/output_schema", "invalid JSON Schema: %s", schemaErrorText(err))
	}
	if len(ps) > 0 {
		return &orc.Error{Code: orc.EINVALID, Message: ps[0].Message, Details: ps}
	}
	return nil
}

// ValidHookName reports whether name can name a hook.
func ValidHookName(name string) bool { return nameRE.MatchString(name) }
