package docker

import (
	"context"
	"fmt"

	"github.com/orc-gateway/orc"
)

// Fingerprint pings the engine and reports its version.
//
// # Errors
//
// When the engine cannot be reached it returns an unhealthy DriverInfo
// (Detail says why) together with an orc.EUNAVAILABLE error, so that a
// caller may either show the info or stop on the error.
func (d *Driver) Fingerprint(ctx context.Context) (*orc.DriverInfo, error) {
	info := &orc.DriverInfo{Name: "docker"}
	if err := d.negotiate(ctx); err != nil {
		info.Detail = err.Error()
		return info, err
	}
	if _, err := d.cli.Ping(ctx); err != nil {
		err = engineError("ping", err)
		info.Detail = err.Error()
		return info, err
	}
	v, err := d.cli.ServerVersion(ctx)
	if err != nil {
		err = engineError("version", err)
		info.Detail = err.Error()
		return info, err
	}
	info.Version = v.Version
	info.Healthy = true
	info.Detail = fmt.Sprintf("api %s, %s/%s, kernel %s", v.APIVersion, v.Os, v.Arch, v.KernelVersion)
	return info, nil
}
