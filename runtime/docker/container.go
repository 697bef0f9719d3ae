package docker

import (
	"strconv"

	"github.com/docker/docker/api/types/container"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// containerConfig returns the container settings of one run: the spec's
// image and args, stdin open for exactly one writer, the labels that let
// Reap find the container and the environment.
func (d *Driver) containerConfig(spec *orc.ContainerSpec) *container.Config {
	return &container.Config{
		Image:        spec.Image,
		Cmd:          spec.Args,
		Env:          env(spec.Env),
		Labels:       d.labels(spec),
		User:         d.cfg.User,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		OpenStdin:    true,
		StdinOnce:    true,
	}
}

// hostConfig returns the hardened host settings of one run (see "Plugin
// container protocol v1" in the design). A network other than bridge,
// unknown ones included, is no network; bridge is WarmBridgeNetwork, where
// containers cannot reach each other; zero resources take Orc's defaults.
func (d *Driver) hostConfig(spec *orc.ContainerSpec) *container.HostConfig {
	res := containerproto.Resources(spec.Resources)
	memory := res.MemoryMB << 20
	network := container.NetworkMode(orc.NetworkNone)
	if spec.Network == orc.NetworkBridge {
		// Not Docker's default bridge, where containers reach each other:
		// a network of Orc's without traffic between containers.
		network = container.NetworkMode(WarmBridgeNetwork)
	}
	hc := &container.HostConfig{
		NetworkMode:    network,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Tmpfs: map[string]string{
			"/tmp": "rw,noexec,nosuid,nodev,size=" + strconv.FormatInt(d.cfg.TmpfsBytes, 10),
		},
		// Output is read through the attach stream; a log driver would
		// only keep a second copy on the worker's disk.
		LogConfig: container.LogConfig{Type: "none"},
		Resources: container.Resources{
			Memory:     memory,
			MemorySwap: memory, // no swap beyond the memory limit
			NanoCPUs:   int64(res.CPU * 1e9),
			PidsLimit:  &res.Pids,
		},
	}
	if res.GPU > 0 {
		// The same request as `docker run --gpus N`.
		hc.DeviceRequests = []container.DeviceRequest{{
			Count:        res.GPU,
			Capabilities: [][]string{{"gpu"}},
		}}
	}
	return hc
}

// labels returns the spec's labels with Orc's own on top.
func (d *Driver) labels(spec *orc.ContainerSpec) map[string]string {
	return containerproto.Labels(spec, d.cfg.Installation)
}

// env returns the spec's environment as KEY=value pairs, HOME=/tmp unless
// set.
func env(vars map[string]string) []string { return containerproto.Env(vars) }
