// Command orc-driver-podman is Orc's Podman driver as an external driver:
// a worker started with --driver podman finds it in its driver folder,
// starts it and calls it over go-plugin. It runs plugin containers with
// the podman command, without a daemon (runtime/podman).
//
// Run by hand it only says that a worker must start it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/orc-gateway/orc/runtime/plugin"
	"github.com/orc-gateway/orc/runtime/podman"
)

func main() {
	os.Exit(doMain(os.Args[1:], os.Stderr))
}

// doMain parses the flags a worker passes every driver and serves the
// driver until the worker ends it.
func doMain(args []string, stderr io.Writer) int {
	var cfg podman.Config
	fs := flag.NewFlagSet("orc-driver-podman", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Installation, "installation", "orc", "installation the containers belong to (the worker's queue prefix)")
	fs.BoolVar(&cfg.Pull, "pull", false, "pull an image that is not on the host")
	fs.StringVar(&cfg.Binary, "podman", podman.DefaultBinary, "the podman command")
	fs.Int64Var(&cfg.StdoutLimit, "stdout-limit", 0, "bytes of a run's stdout kept (0: the default)")
	fs.Int64Var(&cfg.StderrLimit, "stderr-limit", 0, "bytes of a run's stderr kept (0: the default)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "orc-driver-podman: log level %q: %v\n", *logLevel, err)
		return 2
	}
	cfg.Logger = plugin.Logger(level)
	d, err := podman.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orc-driver-podman: %v\n", err)
		return 1
	}
	plugin.Serve(d)
	return 0
}
