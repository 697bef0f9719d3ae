package podman

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orc-gateway/orc"
)

// Fingerprint runs podman info and reports Podman's version, whether it
// runs rootless, its OCI runtime, cgroup version and network backend.
//
// # Errors
//
// When podman cannot be run, fails, or cannot enforce a run's limits (rootless on
// cgroup v1), it returns an unhealthy DriverInfo (Detail says why)
// together with an orc.EUNAVAILABLE error, so that a caller may either
// show the info or stop on the error.
func (d *Driver) Fingerprint(ctx context.Context) (*orc.DriverInfo, error) {
	info := &orc.DriverInfo{Name: "podman"}
	h, err := d.info(ctx)
	if err != nil {
		info.Detail = err.Error()
		return info, err
	}
	d.hostMu.Lock()
	d.host = h
	d.hostMu.Unlock()
	info.Version = h.version
	mode := "rootful"
	if h.rootless {
		mode = "rootless"
	}
	info.Detail = fmt.Sprintf("%s, oci runtime %s, cgroup %s, network %s", mode, h.runtime, h.cgroup, h.network)
	if why := h.limitsRefused(); why != "" {
		info.Detail += ": " + why
		return info, orc.Errorf(orc.EUNAVAILABLE, "%s", why)
	}
	info.Healthy = true
	return info, nil
}

// info runs podman info.
//
// # Errors
//
// orc.EUNAVAILABLE when podman cannot be run or its info fails: a Podman
// that cannot say what it is will run no container either.
func (d *Driver) info(ctx context.Context) (*hostInfo, error) {
	out, err := d.podman(ctx, "info", "--format", "json")
	if err != nil {
		if orc.ErrorCode(err) == orc.EUNAVAILABLE || ctx.Err() != nil {
			return nil, err
		}
		return nil, orc.WrapError(orc.EUNAVAILABLE, err, "podman does not work")
	}
	var v struct {
		Host struct {
			CgroupVersion  string
			NetworkBackend string
			OCIRuntime     struct{ Name string } `json:"ociRuntime"`
			Security       struct{ Rootless bool }
		}
		Version struct{ Version string }
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("podman info: decode: %w", err)
	}
	return &hostInfo{
		version:  v.Version.Version,
		rootless: v.Host.Security.Rootless,
		cgroup:   v.Host.CgroupVersion,
		runtime:  v.Host.OCIRuntime.Name,
		network:  v.Host.NetworkBackend,
	}, nil
}
