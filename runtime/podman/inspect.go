package podman

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// container is what the driver reads of podman inspect.
type container struct {
	ID    string `json:"Id"`
	State struct {
		Status     string // created, running, exited, ...
		ExitCode   int
		OOMKilled  bool
		StartedAt  time.Time
		FinishedAt time.Time
	}
	Config struct {
		Labels map[string]string
	}
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress string
		}
	}
}

// started reports whether the container's process ever started.
func (c *container) started() bool { return !c.State.StartedAt.IsZero() }

// inspect returns what podman inspect says of the containers ids.
//
// # Errors
//
// See cliError; a container that does not exist makes the whole call fail
// (isNotFound).
func (d *Driver) inspect(ctx context.Context, ids ...string) ([]container, error) {
	out, err := d.podman(ctx, append([]string{"inspect", "--type", "container", "--format", "json"}, ids...)...)
	if err != nil {
		return nil, err
	}
	var list []container
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("podman inspect: decode: %w", err)
	}
	return list, nil
}

// inspectOne returns what podman inspect says of the container id.
func (d *Driver) inspectOne(ctx context.Context, id string) (*container, error) {
	list, err := d.inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("podman inspect: %d containers for %s", len(list), shortID(id))
	}
	return &list[0], nil
}
