// Package docker runs plugin containers on a Docker engine through its
// Engine API. Its Driver implements orc.Driver with the hardened
// defaults of the plugin container protocol: no capabilities, no new
// privileges, a read-only root with a tmpfs /tmp, no network unless asked
// for, resource limits and a non-root user. Every container it creates is
// labelled orc.managed=true and is removed before Run returns.
package docker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/docker/docker/client"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// Labels set on every container the driver creates.
const (
	LabelManaged    = containerproto.LabelManaged    // always "true"
	LabelInvocation = containerproto.LabelInvocation // the invocation id
	LabelAttempt    = containerproto.LabelAttempt    // the attempt number
	LabelDeadline   = containerproto.LabelDeadline   // when the run must be over (Unix seconds)
	// LabelInstallation names the installation (its queue prefix) whose
	// worker created the container. Every reap is confined to its own, so
	// that installations (and test runs) sharing an engine leave each
	// other's containers alone.
	LabelInstallation = containerproto.LabelInstallation
)

var (
	_ orc.Driver         = (*Driver)(nil)
	_ orc.Fingerprinter  = (*Driver)(nil)
	_ orc.Reaper         = (*Driver)(nil)
	_ orc.OutputStreamer = (*Driver)(nil)
)

// Driver runs plugin containers on one Docker engine. It is safe for
// concurrent use.
type Driver struct {
	cfg Config
	cli *client.Client
	log *slog.Logger

	negotiateMu sync.Mutex
	negotiated  atomic.Bool
}

// New returns a Driver for the engine cfg names. It does not contact the
// engine; call Fingerprint to check that it is reachable.
func New(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if isRoot(cfg.User) {
		return nil, fmt.Errorf("docker driver: user %q is root; plugin containers must not run as root", cfg.User)
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker driver: new client: %w", err)
	}
	return &Driver{cfg: cfg, cli: cli, log: cfg.Logger.With("driver", "docker")}, nil
}

// Close releases the driver's connections to the engine. Containers it
// started are not affected.
func (d *Driver) Close() error {
	return d.cli.Close()
}

// isRoot reports whether a uid[:gid] user spec names root.
func isRoot(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	return uid == "0" || uid == "root"
}

// negotiate settles the Engine API version once, before the client's first
// real use. The client would negotiate lazily, but some of its calls
// (ContainerList with filters) read the version before negotiating: a data
// race when the first calls are concurrent, as a worker's are.
func (d *Driver) negotiate(ctx context.Context) error {
	if d.negotiated.Load() {
		return nil
	}
	d.negotiateMu.Lock()
	defer d.negotiateMu.Unlock()
	if d.negotiated.Load() {
		return nil
	}
	ping, err := d.cli.Ping(ctx)
	if err != nil {
		return engineError("ping", err)
	}
	d.cli.NegotiateAPIVersionPing(ping)
	d.negotiated.Store(true)
	return nil
}
