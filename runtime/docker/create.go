package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"

	"github.com/orc-gateway/orc"
)

// create creates the container of one run and returns its id. A missing
// image is pulled once first when the config allows it.
//
// The create call itself does not end with ctx: a create canceled in
// flight may still make a container on the engine, which then has no id
// here to be removed by. So ctx is checked before, and the caller checks it
// after.
func (d *Driver) create(ctx context.Context, log *slog.Logger, spec *orc.ContainerSpec) (string, error) {
	cc, hc := d.containerConfig(spec), d.hostConfig(spec)
	if spec.Network == orc.NetworkBridge {
		if err := d.ensureWarmNetwork(ctx, WarmBridgeNetwork, false); err != nil {
			return "", err
		}
	}
	createOnce := func() (container.CreateResponse, error) {
		if err := ctx.Err(); err != nil {
			return container.CreateResponse{}, err
		}
		cctx, cancel := d.detached(ctx)
		defer cancel()
		return d.cli.ContainerCreate(cctx, cc, hc, nil, nil, "")
	}
	resp, err := createOnce()
	if err != nil && isNotFound(err) && d.cfg.Pull {
		log.Info("pulling image")
		if perr := d.pull(ctx, spec.Image); perr != nil {
			return "", missingImage(spec.Image, errors.Join(err, perr))
		}
		resp, err = createOnce()
	}
	if err != nil {
		if isNotFound(err) {
			return "", missingImage(spec.Image, err)
		}
		return "", engineError("create", err)
	}
	for _, w := range resp.Warnings {
		log.Warn("engine warning on create", "container", resp.ID, "warning", w)
	}
	return resp.ID, nil
}

// pull pulls ref. The engine reports most pull failures inside the
// progress stream, not as the call's error, so the stream is read to its end.
func (d *Driver) pull(ctx context.Context, ref string) error {
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return engineError("pull", err)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("docker pull: read progress: %w", err)
		}
		if msg.Error != "" {
			return fmt.Errorf("docker pull: %s", msg.Error)
		}
	}
}
