package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// Reap kills and removes the containers of the invocation's attempts
// before beforeAttempt, whatever their state. It implements orc.Reaper.
//
// # Errors
//
// orc.EUNAVAILABLE when the engine cannot be reached; the joined removal
// errors otherwise. A container that is already gone is not an error.
func (d *Driver) Reap(ctx context.Context, invocationID string, beforeAttempt int) error {
	if invocationID == "" {
		return errors.New("docker reap: empty invocation id")
	}
	f := filters.NewArgs(
		filters.Arg("label", LabelManaged+"=true"),
		filters.Arg("label", LabelInvocation+"="+invocationID),
	)
	n, err := d.removeAll(ctx, f, func(labels map[string]string) bool {
		attempt, err := strconv.Atoi(labels[LabelAttempt])
		return err != nil || attempt < beforeAttempt
	})
	if n > 0 {
		d.log.Info("reaped containers of earlier attempts", "invocation_id", invocationID, "count", n)
	}
	return err
}

// ReapExpired kills and removes running Orc containers whose deadline label
// is before now: those that outlived a worker killed or drained mid-run,
// which nothing else would stop. A worker calls it periodically.
//
// # Errors
//
// As Reap.
func (d *Driver) ReapExpired(ctx context.Context, now time.Time) error {
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=true"), filters.Arg("label", LabelDeadline))
	n, err := d.removeAll(ctx, f, func(labels map[string]string) bool {
		deadline, err := strconv.ParseInt(labels[LabelDeadline], 10, 64)
		return err == nil && deadline < now.Unix()
	})
	if n > 0 {
		d.log.Warn("reaped containers past their deadline", "count", n)
	}
	return err
}

// ReapExited removes the exited (and dead) containers Orc created on this
// engine, such as those of a worker that was killed mid-run. Running
// containers are left alone: they may belong to another worker on the same
// engine. A worker calls it when it starts.
//
// # Errors
//
// As Reap.
func (d *Driver) ReapExited(ctx context.Context) error {
	f := filters.NewArgs(
		filters.Arg("label", LabelManaged+"=true"),
		filters.Arg("status", "exited"),
		filters.Arg("status", "dead"),
	)
	n, err := d.removeAll(ctx, f, nil)
	if n > 0 {
		d.log.Info("reaped exited containers", "count", n)
	}
	return err
}

// removeAll force-removes the containers of this installation that f
// selects (and keep, when not nil, accepts by their labels) and returns how
// many it removed.
func (d *Driver) removeAll(ctx context.Context, f filters.Args, keep func(labels map[string]string) bool) (int, error) {
	if err := d.negotiate(ctx); err != nil {
		return 0, err
	}
	f.Add("label", LabelInstallation+"="+d.cfg.Installation)
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return 0, engineError("list", err)
	}
	var errs []error
	n := 0
	for _, c := range list {
		if keep != nil && !keep(c.Labels) {
			continue
		}
		err := d.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			n++
		case isNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("container %s: %w", shortID(c.ID), engineError("remove", err)))
		}
	}
	return n, errors.Join(errs...)
}

// remove force-removes the container of a run. It uses a context of its
// own so that a run whose ctx has ended still cleans up. A failure is
// logged, not returned: the run's result stands, and Reap or ReapExited
// removes the container later.
func (d *Driver) remove(ctx context.Context, log *slog.Logger, id string) {
	cctx, cancel := d.detached(ctx)
	defer cancel()
	err := d.cli.ContainerRemove(cctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		log.Error("remove container", "err", err)
	}
}
