package podman

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/orc-gateway/orc"
)

// Networks of plugin containers. Every port of their bridges is isolated:
// no traffic between the containers on one network, while the host reaches
// them all. Both are created with netavark's isolate option, which keeps
// isolated bridge networks apart.
const (
	// WarmNetwork is for servers of versions that asked for no network.
	// It is not a Podman internal network: netavark 1.4 gives an internal
	// network's bridge no address, so the host (the worker) could not
	// reach its servers. Instead the kernel forwards nothing that arrives
	// on its bridge (the bridge's IPv4 forwarding is off): its containers
	// reach the host and nothing beyond, and a connection from another
	// network never gets an answer back.
	WarmNetwork = "orc-warm"
	// WarmBridgeNetwork is for versions that asked for network, warm
	// servers and exec runs alike.
	WarmBridgeNetwork = "orc-warm-bridge"
)

// sysClassNet is where the kernel lists network interfaces.
const sysClassNet = "/sys/class/net"

// prepareNetwork makes sure the Orc network a container will join exists
// and returns its bridge; "none" needs nothing and has none.
//
// # Errors
//
// orc.EUNAVAILABLE when Podman runs rootless: its networks are out of the
// host's reach, so their containers can be neither isolated nor dialed.
func (d *Driver) prepareNetwork(ctx context.Context, host *hostInfo, network string) (string, error) {
	if network == "none" {
		return "", nil
	}
	if host.rootless {
		return "", orc.Errorf(orc.EUNAVAILABLE, "rootless podman cannot isolate containers on a network")
	}
	return d.ensureNetwork(ctx, network)
}

// ensureNetwork creates an Orc network unless it exists, and returns its
// bridge. Another worker may create it at the same time; its network is as
// good.
func (d *Driver) ensureNetwork(ctx context.Context, name string) (string, error) {
	bridge, err := d.bridgeOf(ctx, name)
	if err == nil {
		return bridge, nil
	}
	args := []string{"network", "create", "--disable-dns", "--opt", "isolate=true", "--label", LabelManaged + "=true"}
	if _, err := d.podman(ctx, append(args, name)...); err != nil && !failedWith(err, "already exists") {
		return "", err
	}
	return d.bridgeOf(ctx, name)
}

// bridgeOf returns the bridge interface of a network.
func (d *Driver) bridgeOf(ctx context.Context, name string) (string, error) {
	out, err := d.podman(ctx, "network", "inspect", "--format", "{{.NetworkInterface}}", name)
	if err != nil {
		return "", err
	}
	bridge := strings.TrimSpace(string(out))
	if bridge == "" || strings.ContainsAny(bridge, "/.") {
		return "", fmt.Errorf("podman network %s: bridge %q", name, bridge)
	}
	return bridge, nil
}

// initIsolated prepares a container on a bridge (podman init: its network
// is set up, its process not started yet) and isolates the bridge's ports,
// so that the container never runs a moment able to reach another. On
// WarmNetwork's bridge it also turns forwarding off (netavark creates the
// bridge with the first container on it, so it is done every time).
// Nothing is done without a bridge.
//
// Like create, the init does not end with ctx; the caller checks it after.
func (d *Driver) initIsolated(ctx context.Context, id, network, bridge string) error {
	if bridge == "" {
		return nil
	}
	cctx, cancel := d.detached(ctx)
	defer cancel()
	if _, err := d.podman(cctx, "init", id); err != nil {
		return err
	}
	if network == WarmNetwork {
		if err := confine(bridge); err != nil {
			return err
		}
	}
	return isolatePorts(bridge)
}

// procIPv4Conf is where the kernel keeps interfaces' IPv4 settings.
const procIPv4Conf = "/proc/sys/net/ipv4/conf"

// confine turns IPv4 forwarding off for what arrives on bridge: its
// containers reach the host's own addresses and nothing through it.
//
// # Errors
//
// Any failure to write the setting (it needs root): a container of a
// version without network must not start with a route out.
func confine(bridge string) error {
	path := filepath.Join(procIPv4Conf, bridge, "forwarding")
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == "0" {
		return nil
	}
	if err := os.WriteFile(path, []byte("0"), 0); err != nil {
		return fmt.Errorf("confine %s: %w", bridge, err)
	}
	return nil
}

// isolatePorts sets the kernel's isolated flag on every port of bridge:
// isolated ports exchange no frames with each other, while the bridge
// itself (the host) still reaches them all. A port that went away
// meanwhile (its container removed) is skipped.
//
// # Errors
//
// Any failure to set a flag: a container must not start unisolated. The
// writes need root.
func isolatePorts(bridge string) error {
	dir := filepath.Join(sysClassNet, bridge, "brif")
	ports, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("isolate ports of %s: %w", bridge, err)
	}
	if len(ports) == 0 {
		return fmt.Errorf("isolate ports of %s: the bridge has no port", bridge)
	}
	for _, p := range ports {
		err := os.WriteFile(filepath.Join(dir, p.Name(), "isolated"), []byte("1"), 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("isolate port %s of %s: %w", p.Name(), bridge, err)
		}
	}
	return nil
}
