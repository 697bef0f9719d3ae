package podman

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/containerproto"
)

// create creates the container of one run on network and returns its id.
// A missing image is pulled once first when the config allows it.
//
// The create command itself does not end with ctx: a create killed in
// flight may still make a container, which then has no id here to be
// removed by. So ctx is checked before, and the caller checks it after.
func (d *Driver) create(ctx context.Context, log *slog.Logger, spec *orc.ContainerSpec, network string) (string, error) {
	args, err := d.createArgs(spec, containerproto.Labels(spec, d.cfg.Installation), network)
	if err != nil {
		return "", err
	}
	// Output is read through podman start's attach; a log driver would only
	// keep a second copy on the worker's disk.
	args = append(append([]string{"create", "--interactive", "--log-driver=none"}, args...), "--", spec.Image)
	args = append(args, spec.Args...)
	id, err := d.createOnce(ctx, args)
	if err != nil && isMissingImage(err) && d.cfg.Pull {
		log.Info("pulling image")
		if _, perr := d.podman(ctx, "pull", "--quiet", "--", spec.Image); perr != nil {
			return "", missingImage(spec.Image, errors.Join(err, perr))
		}
		id, err = d.createOnce(ctx, args)
	}
	if err != nil {
		if isMissingImage(err) {
			return "", missingImage(spec.Image, err)
		}
		return "", err
	}
	return id, nil
}

// createOnce runs podman with the create args unless ctx has ended, and
// returns the new container's id.
func (d *Driver) createOnce(ctx context.Context, args []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	cctx, cancel := d.detached(ctx)
	defer cancel()
	out, err := d.podman(cctx, args...)
	if err != nil {
		return "", err
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return "", errors.New("podman create: no container id")
	}
	return lines[len(lines)-1], nil
}

// remove force-removes a container. It uses a context of its own so that
// a run whose ctx has ended still cleans up. A failure is logged, not
// returned: the run's result stands, and Reap or ReapExited removes the
// container later.
func (d *Driver) remove(ctx context.Context, log *slog.Logger, id string) {
	cctx, cancel := d.detached(ctx)
	defer cancel()
	if err := d.removeContainer(cctx, id); err != nil {
		log.Error("remove container", "err", err)
	}
}

// removeContainer kills and removes a container; one already gone is not
// an error.
func (d *Driver) removeContainer(ctx context.Context, id string) error {
	_, err := d.podman(ctx, "rm", "--force", "--time", "0", "--volumes", id)
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
