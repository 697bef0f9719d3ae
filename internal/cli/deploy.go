package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/sdk/client"
)

const pluginDeployUsage = `Usage: orc plugin deploy [--url URL] [--json] [DIR]

Registers DIR/plugin.json (DIR defaults to .) with the gateway as a new
version of the plugin (POST /api/v1/plugins) and prints its endpoint.
Versions are immutable: deploying one that exists is refused, so raise
"version" in plugin.json for every release. The image must be on the
workers' Docker engines; on one machine, orc plugin build puts it there.
`

func runPluginDeploy(ctx context.Context, env Env, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plugin deploy", pluginDeployUsage, stderr)
	urlFlag := fs.String("url", "", "gateway URL (default: ORC_URL or the one orc login saved)")
	jsonOut := fs.Bool("json", false, "print the registered version as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(stderr, "plugin deploy", rest, 0, 1, ""); err != nil {
		return err
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	p, manifest, err := readPluginFile(dir)
	if err != nil {
		return err
	}
	c, err := apiClient(env, *urlFlag)
	if err != nil {
		return err
	}
	v, err := c.RegisterPlugin(ctx, manifest)
	if err != nil {
		if *jsonOut {
			writeErrorJSON(stdout, err)
		}
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Code == orc.ECONFLICT {
			return fmt.Errorf("%s %s is already deployed and versions are immutable: bump \"version\" in %s (and the tag of docker_image), then build and deploy again: %w",
				p.Name, p.Version, filepath.Join(dir, "plugin.json"), err)
		}
		return fmt.Errorf("deploy %s %s: %w", p.Name, p.Version, explain(err))
	}
	endpoint := c.InvokeURL(v.Plugin)
	if *jsonOut {
		return writeJSONLine(stdout, struct {
			*orc.Version
			Endpoint string `json:"endpoint"`
		}{v, endpoint})
	}
	fmt.Fprintf(stdout, "Deployed %s %s (image %s, protocol %s).\n", v.Plugin, v.Version, v.Image, v.Protocol)
	fmt.Fprintf(stdout, "Endpoint: POST %s\n", endpoint)
	return nil
}
