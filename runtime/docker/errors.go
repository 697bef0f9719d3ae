package docker

import (
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/orc-gateway/orc"
)

// engineError wraps an Engine API error from the call named op. An engine
// that cannot be reached is orc.EUNAVAILABLE (the worker should back off
// and let another take the task); anything else, context errors included,
// is wrapped without a code (orc.EINTERNAL).
func engineError(op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("docker %s: %w", op, err)
	if client.IsErrConnectionFailed(err) {
		return orc.WrapError(orc.EUNAVAILABLE, err, "the docker engine cannot be reached")
	}
	return err
}

// missingImage is the error of a run whose image is not on the engine.
func missingImage(image string, err error) error {
	return orc.WrapError(orc.EINVALID, err, fmt.Sprintf("image %q is not on this worker", image))
}

// isNotFound reports whether err is the engine's "no such ..." error.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// isConflict reports whether err is the engine's "wrong state" error, as
// when killing a container that has already exited.
func isConflict(err error) bool { return cerrdefs.IsConflict(err) }
