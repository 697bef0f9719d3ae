package podman

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// createArgs returns the podman create flags of a plugin container: the
// hardening of the plugin container protocol (see "Plugin container
// protocol v1" in the design), its limits, labels and environment, on the
// given network ("none" or one of Orc's). Zero resources take Orc's
// defaults. The caller appends its own flags, then "--", the image and
// the args.
//
// # Errors
//
// orc.EINVALID for what the driver cannot give a container: GPUs, or an
// image name that podman would read as a flag.
func (d *Driver) createArgs(spec *orc.ContainerSpec, labels map[string]string, network string) ([]string, error) {
	if strings.HasPrefix(spec.Image, "-") {
		return nil, orc.Errorf(orc.EINVALID, "image %q is not an image name", spec.Image)
	}
	res := containerproto.Resources(spec.Resources)
	if res.GPU > 0 {
		// Podman 4.3 has no --gpus; GPUs need CDI devices set up on the host.
		return nil, orc.Errorf(orc.EINVALID, "the podman driver does not give containers GPUs")
	}
	memory := strconv.FormatInt(res.MemoryMB<<20, 10)
	args := []string{
		"--pull=never", // a missing image is the driver's to pull, or an error
		"--user", d.cfg.User,
		"--cap-drop=all",
		"--security-opt=no-new-privileges",
		"--read-only",
		"--read-only-tmpfs=false", // /tmp is the tmpfs below; no /var/tmp, /run
		"--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=" + strconv.FormatInt(d.cfg.TmpfsBytes, 10),
		"--network", network,
		"--memory", memory,
		"--memory-swap", memory, // no swap beyond the memory limit
		"--cpus", strconv.FormatFloat(res.CPU, 'f', -1, 64),
		"--pids-limit", strconv.FormatInt(res.Pids, 10),
		"--stop-timeout=0", // stopping a plugin container is killing it
	}
	for _, u := range d.cfg.Ulimits {
		args = append(args, "--ulimit", u)
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, "--label", k+"="+labels[k])
	}
	for _, kv := range containerproto.Env(spec.Env) {
		args = append(args, "--env", kv)
	}
	return args, nil
}

// shortID returns the 12-character form of a container id used by the
// podman CLI.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// networkOf returns the podman network of a run: Orc's bridge network when
// the spec asks for network, none otherwise (unknown networks included).
func networkOf(n orc.Network) string {
	if n == orc.NetworkBridge {
		return WarmBridgeNetwork
	}
	return "none"
}

// errNoAddress is the error of a server that runs without an address.
func errNoAddress(id, network string) error {
	return fmt.Errorf("podman: server %s has no address on network %s", shortID(id), network)
}
