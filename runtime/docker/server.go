package docker

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

var _ orc.Servers = (*Driver)(nil)

// Labels of warm plugin servers.
const (
	LabelServer = containerproto.LabelServer // the server's key (its version's id)
)

// ServerPort is the port a plugin server listens on inside its container.
const ServerPort = containerproto.ServerPort

// Networks of plugin containers. Both forbid traffic between containers,
// so a container is reachable from its worker only, never from another
// tenant's container.
const (
	// WarmNetwork is for versions that asked for no network: internal, no
	// route out of the machine.
	WarmNetwork = "orc-warm"
	// WarmBridgeNetwork is for versions that asked for network, warm
	// servers and exec runs alike.
	WarmBridgeNetwork = "orc-warm-bridge"
)

// StartServer creates and starts a warm plugin server with the same
// hardening as a run, on WarmNetwork (or the bridge network when the
// version asks for network), and returns its address.
func (d *Driver) StartServer(ctx context.Context, spec *orc.ServerSpec) (*orc.PluginServer, error) {
	if err := d.negotiate(ctx); err != nil {
		return nil, err
	}
	netName, internal := WarmNetwork, true
	if spec.Network == orc.NetworkBridge {
		netName, internal = WarmBridgeNetwork, false
	}
	if err := d.ensureWarmNetwork(ctx, netName, internal); err != nil {
		return nil, err
	}
	env := containerproto.ServerEnv(spec.Env)
	task := &orc.ContainerSpec{Image: spec.Image, Env: env, Resources: spec.Resources, Network: spec.Network, Labels: spec.Labels}
	cc, hc := d.containerConfig(task), d.hostConfig(task)
	cc.Cmd, cc.AttachStdin, cc.AttachStdout, cc.AttachStderr, cc.OpenStdin, cc.StdinOnce = nil, false, false, false, false, false
	delete(cc.Labels, LabelInvocation)
	delete(cc.Labels, LabelAttempt)
	cc.Labels[LabelServer] = spec.Key
	hc.NetworkMode = container.NetworkMode(netName)
	// A server's stderr is its log; keep a bounded copy for `docker logs`.
	hc.LogConfig = container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "2"}}

	cctx, cancel := d.detached(ctx)
	defer cancel()
	resp, err := d.cli.ContainerCreate(cctx, cc, hc, nil, nil, "")
	if err != nil {
		if isNotFound(err) {
			return nil, missingImage(spec.Image, err)
		}
		return nil, engineError("create", err)
	}
	log := d.log.With("container", shortID(resp.ID), "server", spec.Key)
	if err := d.cli.ContainerStart(cctx, resp.ID, container.StartOptions{}); err != nil {
		d.remove(ctx, log, resp.ID)
		return nil, engineError("start", err)
	}
	info, err := d.cli.ContainerInspect(cctx, resp.ID)
	if err != nil {
		d.remove(ctx, log, resp.ID)
		return nil, engineError("inspect", err)
	}
	ep := info.NetworkSettings.Networks[netName]
	if ep == nil || ep.IPAddress == "" {
		d.remove(ctx, log, resp.ID)
		return nil, fmt.Errorf("docker: server %s has no address on network %s", shortID(resp.ID), netName)
	}
	log.Info("plugin server started", "image", spec.Image, "ip", ep.IPAddress)
	return &orc.PluginServer{ID: resp.ID, URL: fmt.Sprintf("http://%s:%d", ep.IPAddress, ServerPort)}, nil
}

// StopServer kills and removes a server.
func (d *Driver) StopServer(ctx context.Context, id string) error {
	d.remove(ctx, d.log.With("container", shortID(id)), id)
	return nil
}

// ListServers returns this installation's plugin servers on the engine,
// running or not, with their labels. A server that is not running has no
// URL.
func (d *Driver) ListServers(ctx context.Context) ([]orc.PluginServer, error) {
	if err := d.negotiate(ctx); err != nil {
		return nil, err
	}
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=true"), filters.Arg("label", LabelServer),
		filters.Arg("label", LabelInstallation+"="+d.cfg.Installation))
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, engineError("list", err)
	}
	servers := make([]orc.PluginServer, 0, len(list))
	for _, c := range list {
		s := orc.PluginServer{ID: c.ID, Labels: c.Labels}
		if c.NetworkSettings != nil && c.State == container.StateRunning {
			for _, ep := range c.NetworkSettings.Networks {
				if ep != nil && ep.IPAddress != "" {
					s.URL = fmt.Sprintf("http://%s:%d", ep.IPAddress, ServerPort)
					break
				}
			}
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// ensureWarmNetwork creates a servers' network unless it exists.
func (d *Driver) ensureWarmNetwork(ctx context.Context, name string, internal bool) error {
	if _, err := d.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return nil
	} else if !isNotFound(err) {
		return engineError("network inspect", err)
	}
	_, err := d.cli.NetworkCreate(ctx, name, network.CreateOptions{
		Driver:   "bridge",
		Internal: internal,
		Labels:   map[string]string{LabelManaged: "true"},
		Options:  map[string]string{"com.docker.network.bridge.enable_icc": "false"},
	})
	if err != nil && !isConflict(err) {
		return engineError("network create", err)
	}
	return nil
}
