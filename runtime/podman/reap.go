package podman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// listed is what the driver reads of podman ps.
type listed struct {
	ID     string `json:"Id"`
	State  string // created, running, exited, ...
	Labels map[string]string
}

// list returns this installation's Orc containers, in any state, that keep
// accepts by their labels and state (all when keep is nil). Podman filters
// by the installation label; the rest is decided here, so that the
// selection does not rest on how podman combines filters.
func (d *Driver) list(ctx context.Context, keep func(c *listed) bool) ([]listed, error) {
	out, err := d.podman(ctx, "ps", "--all", "--no-trunc", "--format", "json",
		"--filter", "label="+LabelInstallation+"="+d.cfg.Installation)
	if err != nil {
		return nil, err
	}
	var all []listed
	if err := json.Unmarshal(out, &all); err != nil {
		return nil, fmt.Errorf("podman ps: decode: %w", err)
	}
	var kept []listed
	for _, c := range all {
		if c.Labels[LabelManaged] == "true" && c.Labels[LabelInstallation] == d.cfg.Installation &&
			(keep == nil || keep(&c)) {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// Reap kills and removes the containers of the invocation's attempts
// before beforeAttempt, whatever their state. It implements orc.Reaper.
//
// # Errors
//
// orc.EUNAVAILABLE when podman cannot be run; the joined removal errors
// otherwise. A container that is already gone is not an error.
func (d *Driver) Reap(ctx context.Context, invocationID string, beforeAttempt int) error {
	if invocationID == "" {
		return errors.New("podman reap: empty invocation id")
	}
	n, err := d.removeAll(ctx, func(c *listed) bool {
		if c.Labels[LabelInvocation] != invocationID {
			return false
		}
		attempt, err := strconv.Atoi(c.Labels[LabelAttempt])
		return err != nil || attempt < beforeAttempt
	})
	if n > 0 {
		d.log.Info("reaped containers of earlier attempts", "invocation_id", invocationID, "count", n)
	}
	return err
}

// ReapExpired kills and removes Orc containers whose deadline label is
// before now: those that outlived a worker killed or drained mid-run,
// which nothing else would stop. A worker calls it periodically.
//
// # Errors
//
// As Reap.
func (d *Driver) ReapExpired(ctx context.Context, now time.Time) error {
	n, err := d.removeAll(ctx, func(c *listed) bool {
		deadline, err := strconv.ParseInt(c.Labels[LabelDeadline], 10, 64)
		return err == nil && deadline < now.Unix()
	})
	if n > 0 {
		d.log.Warn("reaped containers past their deadline", "count", n)
	}
	return err
}

// ReapExited removes the exited containers Orc created on this host, such
// as those of a worker that was killed mid-run. Running containers are
// left alone: they may belong to another worker on the same host. A worker
// calls it when it starts.
//
// # Errors
//
// As Reap.
func (d *Driver) ReapExited(ctx context.Context) error {
	n, err := d.removeAll(ctx, func(c *listed) bool {
		return c.State == "exited" || c.State == "stopped"
	})
	if n > 0 {
		d.log.Info("reaped exited containers", "count", n)
	}
	return err
}

// removeAll force-removes the containers of this installation that keep
// accepts and returns how many it removed.
func (d *Driver) removeAll(ctx context.Context, keep func(c *listed) bool) (int, error) {
	list, err := d.list(ctx, keep)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, c := range list {
		if err := d.removeContainer(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", shortID(c.ID), err))
		}
	}
	return len(list) - len(errs), errors.Join(errs...)
}
