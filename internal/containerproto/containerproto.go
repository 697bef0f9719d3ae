// Package containerproto holds what every container driver gives a plugin
// container alike under the plugin container protocol: Orc's labels, by
// which the drivers find their containers again, and the environment.
// The drivers define their exported label names from it, so that the
// names cannot drift apart.
package containerproto

import (
	"maps"
	"slices"
	"strconv"

	"github.com/orc-gateway/orc"
)

// Labels set on every container a driver creates.
const (
	LabelManaged    = "orc.managed"    // always "true"
	LabelInvocation = "orc.invocation" // the invocation id
	LabelAttempt    = "orc.attempt"    // the attempt number
	LabelDeadline   = "orc.deadline"   // when the run must be over (Unix seconds)
	// LabelInstallation names the installation (its queue prefix) whose
	// worker created the container; reaps are confined to their own.
	LabelInstallation = "orc.installation"
	LabelServer       = "orc.server" // a warm server's key (its version's id)
)

// ServerPort is the port a warm plugin server listens on inside its
// container.
const ServerPort = 8080

// Resources returns r with Orc's defaults for its zero limits.
func Resources(r orc.Resources) orc.Resources {
	if r.CPU <= 0 {
		r.CPU = orc.DefaultCPU
	}
	if r.MemoryMB <= 0 {
		r.MemoryMB = orc.DefaultMemoryMB
	}
	if r.Pids <= 0 {
		r.Pids = orc.DefaultPids
	}
	return r
}

// ServerEnv returns a warm server's environment: the version's, with the
// protocol and the port it must listen on.
func ServerEnv(vars map[string]string) map[string]string {
	env := maps.Clone(vars)
	if env == nil {
		env = map[string]string{}
	}
	env["ORC_PROTOCOL"] = string(orc.ProtocolHTTP)
	env["ORC_PORT"] = strconv.Itoa(ServerPort)
	return env
}

// Labels returns the spec's labels with Orc's own on top, so that a spec
// cannot hide a container from a reap.
func Labels(spec *orc.ContainerSpec, installation string) map[string]string {
	l := make(map[string]string, len(spec.Labels)+5)
	maps.Copy(l, spec.Labels)
	l[LabelManaged] = "true"
	l[LabelInstallation] = installation
	l[LabelInvocation] = spec.InvocationID
	l[LabelAttempt] = strconv.Itoa(spec.Attempt)
	if !spec.Deadline.IsZero() {
		l[LabelDeadline] = strconv.FormatInt(spec.Deadline.Unix(), 10)
	}
	return l
}

// Env returns the spec's environment as KEY=value pairs in a stable order.
// HOME is /tmp unless the spec sets it: the root filesystem is read-only
// and tools that write to $HOME would fail anywhere else.
func Env(vars map[string]string) []string {
	out := make([]string, 0, len(vars)+1)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	if _, ok := vars["HOME"]; !ok {
		out = append(out, "HOME=/tmp")
	}
	return out
}
