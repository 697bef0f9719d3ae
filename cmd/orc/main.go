// Command orc is the Orc function gateway: one binary whose subcommands run
// the gateway and the workers and manage the database and users, and whose
// author commands (package internal/cli) write, deploy and call plugins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/orc-gateway/orc/internal/cli"
)

const usage = `orc is a function gateway for containerized ML plugins.

Usage:
  orc <command> [flags]

Commands:
  gateway   serve the HTTP API (POST /invoke/<plugin>, /api/v1, /metrics)
  worker    run invocations from a pool's queue as containers (--driver)
  driver    serve the built-in Docker driver to a worker (orc driver docker)
  migrate   apply the database migrations
  user      manage local accounts (orc user create --admin ...)
  login     sign in to a gateway and save the token for the commands below
  plugin    write, build and deploy a plugin (orc plugin init|build|deploy)
  invoke    call a plugin: orc invoke NAME -d '{"name": "Ada"}'
  logs      print an invocation's log lines (-f follows them)
  health    ask a health endpoint, for container healthchecks
  version   print the version

Every flag can also be set by an ORC_* environment variable: --database-url
is ORC_DATABASE_URL. Run "orc <command> -h" for a command's flags.
The author commands (login, plugin, invoke, logs) read only ORC_URL,
ORC_TOKEN, ORC_PASSWORD and ORC_CONFIG; docs/cli.md describes them.
`

// Version is set at build time with -ldflags "-X main.Version=...". main
// hands it to the author commands as cli.Version.
var Version = "dev"

func main() {
	cli.Version = Version
	ctx, stop := stopOnSignal(os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// stopOnSignal returns a context that ends at the first SIGINT or SIGTERM,
// when the services begin their graceful stop; a second one exits at once
// (status 130), for whoever will not wait. Messages in flight go back to
// their queues and the next worker reaps what was left running.
func stopOnSignal(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		sig := <-sigs
		fmt.Fprintf(stderr, "orc: %v again: stopping at once\n", sig)
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// run runs one subcommand and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "gateway":
		err = runGateway(ctx, rest, stderr)
	case "worker":
		err = runWorker(ctx, rest, stderr)
	case "scheduler":
		err = runScheduler(ctx, rest, stderr)
	case "driver":
		err = runDriver(ctx, rest, stderr)
	case "ray-exec":
		err = runRayExec(ctx, rest, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "user":
		err = runUser(ctx, rest, stdout, stderr)
	case "login":
		err = cli.Login(ctx, authorEnv(), rest, os.Stdin, stdout, stderr)
	case "plugin":
		err = cli.Plugin(ctx, authorEnv(), rest, stdout, stderr)
	case "invoke":
		err = cli.Invoke(ctx, authorEnv(), rest, os.Stdin, stdout, stderr)
	case "logs":
		err = cli.Logs(ctx, authorEnv(), rest, stdout, stderr)
	case "health":
		err = runHealth(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "orc", Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "orc: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage), errors.Is(err, cli.ErrUsage):
		return 2
	}
	fmt.Fprintf(stderr, "orc: %v\n", err)
	return 1
}

// authorEnv reads the environment variables the author commands use
// (docs/cli.md) and no other: they take no Config, so that the ORC_*
// variables of the service commands (a plugin container's ORC_VERSION)
// never become their flags.
func authorEnv() cli.Env {
	return cli.Env{
		URL:        os.Getenv("ORC_URL"),
		Token:      os.Getenv("ORC_TOKEN"),
		Password:   os.Getenv("ORC_PASSWORD"),
		ConfigPath: os.Getenv("ORC_CONFIG"),
		ConfigHome: os.Getenv("XDG_CONFIG_HOME"),
	}
}
