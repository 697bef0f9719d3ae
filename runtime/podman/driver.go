// Package podman runs plugin containers with Podman, without a daemon: the
// driver runs the podman command (podman create, start --attach, inspect,
// rm) for every step, and nothing of Podman stays running between runs but
// conmon, one per container. Its Driver implements orc.Driver with the same
// hardened defaults as runtime/docker: no capabilities, no new privileges,
// a read-only root with a tmpfs /tmp, no network unless asked for, resource
// limits and a non-root user. Every container it creates is labelled
// orc.managed=true and is removed before Run returns.
//
// # Notes
//
// Podman as root is what the driver is built for. What needs root, and why:
//
//   - Resource limits. On a cgroup v1 machine rootless Podman cannot apply
//     memory, pids or cpu limits: it prints "Resource limits are not
//     supported and ignored on cgroups V1 rootless systems" and runs the
//     container without them. The driver refuses to run there (Fingerprint
//     reports it unhealthy, Run and StartServer fail with
//     orc.EUNAVAILABLE) rather than run unlimited plugins. Rootless Podman
//     on cgroup v2 with delegated controllers can apply them.
//   - Isolation on the bridge networks. Containers on one Podman network
//     reach each other (netavark 1.4 has no option against it). The driver
//     marks every port of its networks' bridges isolated (the kernel's
//     bridge port flag, written in /sys/class/net/<bridge>/brif/<port>/
//     brport/isolated) before a container's process starts, so containers
//     on the same network cannot exchange a packet while the host still
//     reaches each of them. Writing there needs root on the host; rootless
//     networks live in a namespace of their own, out of the host's reach,
//     so rootless Podman runs only containers without network.
//   - Addresses the worker can dial. A rootful bridge network's addresses
//     are routed on the host, so a warm server's URL works from the
//     worker; a rootless one's are not.
//
// What is not isolated: netavark 1.4 adds no firewall rules for an
// internal network, so its isolate option does not cover WarmNetwork, and a
// container on WarmBridgeNetwork can reach a server on WarmNetwork through
// the host's routing (Docker's driver blocks that). A container of another
// (non-isolated) Podman network on the host can reach Orc's containers, as
// a host process can. On cgroup v1, Podman 4.3 (conmon 2.1.6)
// reports no OOM kill; the driver infers it from a SIGKILL it did not send
// (see oomInferred).
package podman

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// The labels of the driver's containers are runtime/docker's: orc.managed
// ("true"), orc.installation (reaps are confined to the driver's own),
// orc.invocation, orc.attempt, orc.deadline (Unix seconds) and, on warm
// servers, orc.server.
const (
	LabelManaged, LabelInstallation = containerproto.LabelManaged, containerproto.LabelInstallation
	LabelInvocation, LabelAttempt   = containerproto.LabelInvocation, containerproto.LabelAttempt
	LabelDeadline, LabelServer      = containerproto.LabelDeadline, containerproto.LabelServer
)

var (
	_ orc.Driver         = (*Driver)(nil)
	_ orc.Fingerprinter  = (*Driver)(nil)
	_ orc.Reaper         = (*Driver)(nil)
	_ orc.OutputStreamer = (*Driver)(nil)
	_ orc.Servers        = (*Driver)(nil)
)

// Driver runs plugin containers with the podman command. It is safe for
// concurrent use.
type Driver struct {
	cfg Config
	log *slog.Logger

	hostMu sync.Mutex
	host   *hostInfo // nil until learned
}

// New returns a Driver that runs cfg.Binary. It runs nothing; call
// Fingerprint to check that Podman works.
func New(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if isRoot(cfg.User) {
		return nil, fmt.Errorf("podman driver: user %q is root; plugin containers must not run as root", cfg.User)
	}
	return &Driver{cfg: cfg, log: cfg.Logger.With("driver", "podman")}, nil
}

// isRoot reports whether a uid[:gid] user spec names root.
func isRoot(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	return uid == "0" || uid == "root"
}

// hostInfo is what the driver must know of the Podman it runs before it
// runs a container.
type hostInfo struct {
	version  string
	rootless bool
	cgroup   string // "v1" or "v2"
	runtime  string // the OCI runtime
	network  string // the network backend
}

// limitsRefused is the reason the driver refuses a Podman, or "".
func (h *hostInfo) limitsRefused() string {
	if h.rootless && h.cgroup == "v1" {
		return "rootless podman on cgroup v1 cannot enforce memory, pids and cpu limits"
	}
	return ""
}

// ready learns, once, what Podman the driver runs and refuses one that
// cannot enforce a run's limits. A failure is not remembered: Podman may
// be repaired.
//
// # Errors
//
// orc.EUNAVAILABLE when podman cannot be run or cannot enforce limits.
func (d *Driver) ready(ctx context.Context) (*hostInfo, error) {
	d.hostMu.Lock()
	defer d.hostMu.Unlock()
	if d.host == nil {
		h, err := d.info(ctx)
		if err != nil {
			return nil, err
		}
		d.host = h
	}
	if why := d.host.limitsRefused(); why != "" {
		return d.host, orc.Errorf(orc.EUNAVAILABLE, "%s", why)
	}
	return d.host, nil
}
