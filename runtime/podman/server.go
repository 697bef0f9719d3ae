package podman

import (
	"context"
	"fmt"
	"maps"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// ServerPort is the port a plugin server listens on inside its container.
const ServerPort = containerproto.ServerPort

// StartServer creates and starts a warm plugin server with the same
// hardening as a run, on WarmNetwork (or WarmBridgeNetwork when the
// version asks for network), and returns its address, which the host
// reaches (rootful Podman routes its bridge networks on the host).
//
// # Errors
//
// As Run; orc.EUNAVAILABLE also when Podman runs rootless.
func (d *Driver) StartServer(ctx context.Context, spec *orc.ServerSpec) (*orc.PluginServer, error) {
	if spec.Image == "" {
		return nil, orc.Errorf(orc.EINVALID, "server has no image")
	}
	host, err := d.ready(ctx)
	if err != nil {
		return nil, err
	}
	network := WarmNetwork
	if spec.Network == orc.NetworkBridge {
		network = WarmBridgeNetwork
	}
	bridge, err := d.prepareNetwork(ctx, host, network)
	if err != nil {
		return nil, err
	}
	env := containerproto.ServerEnv(spec.Env)
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManaged] = "true"
	labels[LabelInstallation] = d.cfg.Installation
	labels[LabelServer] = spec.Key
	args, err := d.createArgs(&orc.ContainerSpec{Image: spec.Image, Env: env, Resources: spec.Resources}, labels, network)
	if err != nil {
		return nil, err
	}
	// A server's stderr is its log; keep a bounded copy for `podman logs`.
	args = append(append([]string{"create", "--log-driver=k8s-file", "--log-opt", "max-size=10mb"}, args...), "--", spec.Image)

	id, err := d.createOnce(ctx, args)
	if err != nil {
		if isMissingImage(err) {
			return nil, missingImage(spec.Image, err)
		}
		return nil, err
	}
	log := d.log.With("container", shortID(id), "server", spec.Key)
	url, err := d.startServer(ctx, id, bridge, network)
	if err != nil {
		d.remove(ctx, log, id)
		return nil, err
	}
	log.Info("plugin server started", "image", spec.Image, "url", url)
	return &orc.PluginServer{ID: id, URL: url}, nil
}

// startServer isolates and starts a created server and returns its URL.
func (d *Driver) startServer(ctx context.Context, id, bridge, network string) (string, error) {
	if err := d.initIsolated(ctx, id, network, bridge); err != nil {
		return "", err
	}
	cctx, cancel := d.detached(ctx)
	defer cancel()
	if _, err := d.podman(cctx, "start", id); err != nil {
		return "", err
	}
	c, err := d.inspectOne(cctx, id)
	if err != nil {
		return "", err
	}
	url := serverURL(c, network)
	if url == "" {
		return "", errNoAddress(id, network)
	}
	return url, nil
}

// serverURL returns the URL of a server on network (any network when
// network is ""), or "" when it has no address.
func serverURL(c *container, network string) string {
	for name, ep := range c.NetworkSettings.Networks {
		if (network == "" || name == network) && ep.IPAddress != "" {
			return fmt.Sprintf("http://%s:%d", ep.IPAddress, ServerPort)
		}
	}
	return ""
}

// StopServer kills and removes a server.
//
// # Errors
//
// orc.EUNAVAILABLE when podman cannot be run; a server already gone is not
// an error.
func (d *Driver) StopServer(ctx context.Context, id string) error {
	cctx, cancel := d.detached(ctx)
	defer cancel()
	return d.removeContainer(cctx, id)
}

// ListServers returns this installation's plugin servers, running or not,
// with their labels. A server that is not running has no URL.
//
// # Errors
//
// orc.EUNAVAILABLE when podman cannot be run.
func (d *Driver) ListServers(ctx context.Context) ([]orc.PluginServer, error) {
	list, err := d.list(ctx, func(c *listed) bool { _, ok := c.Labels[LabelServer]; return ok })
	if err != nil {
		return nil, err
	}
	servers := make([]orc.PluginServer, 0, len(list))
	var running []string
	for _, c := range list {
		servers = append(servers, orc.PluginServer{ID: c.ID, Labels: c.Labels})
		if c.State == "running" {
			running = append(running, c.ID)
		}
	}
	if len(running) == 0 {
		return servers, nil
	}
	infos, err := d.inspect(ctx, running...)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	urls := make(map[string]string, len(infos))
	for i := range infos {
		urls[infos[i].ID] = serverURL(&infos[i], "")
	}
	for i := range servers {
		servers[i].URL = urls[servers[i].ID]
	}
	return servers, nil
}
