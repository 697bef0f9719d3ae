// Command orc is the Orc function gateway: one binary whose subcommands run
// the gateway and the workers and manage the database and users.
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
)

const usage = `orc is a function gateway for containerized ML plugins.

Usage:
  orc <command> [flags]

Commands:
  gateway   serve the HTTP API (POST /invoke/<plugin>, /api/v1, /metrics)
  worker    run invocations from a pool's queue as Docker containers
  migrate   apply the database migrations
  user      manage local accounts (orc user create --admin ...)
  version   print the version

Every flag can also be set by an ORC_* environment variable: --database-url
is ORC_DATABASE_URL. Run "orc <command> -h" for a command's flags.
`

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
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
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "user":
		err = runUser(ctx, rest, stdout, stderr)
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
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "orc: %v\n", err)
	return 1
}
