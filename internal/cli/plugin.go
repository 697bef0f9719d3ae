package cli

import (
	"context"
	"fmt"
	"io"
)

const pluginUsage = `Usage: orc plugin <command> [flags]

Commands:
  init     create a plugin project: orc plugin init --lang go|python NAME
  build    build the plugin's image: orc plugin build [DIR]
  deploy   register the plugin's plugin.json with the gateway: orc plugin deploy [DIR]

Run "orc plugin <command> -h" for a command's flags.
`

// Plugin runs orc plugin with args, the command line after "plugin": init,
// build or deploy and that subcommand's arguments. Only deploy, which talks
// to a gateway, uses env.
//
// # Errors
//
// ErrUsage for a missing or unknown subcommand or a bad command line,
// flag.ErrHelp for a subcommand's -h; otherwise the subcommand's failure.
func Plugin(ctx context.Context, env Env, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, pluginUsage)
		return ErrUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "init":
		return runPluginInit(ctx, rest, stdout, stderr)
	case "build":
		return runPluginBuild(ctx, rest, stdout, stderr)
	case "deploy":
		return runPluginDeploy(ctx, env, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pluginUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "orc plugin: unknown command %q\n\n%s", cmd, pluginUsage)
		return ErrUsage
	}
}
