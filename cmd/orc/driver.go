package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/docker"
	"github.com/orc-gateway/orc/runtime/plugin"
)

// workerDriver is what a worker needs of its container driver: the whole
// contract, and Close.
type workerDriver interface {
	orc.Driver
	orc.Fingerprinter
	orc.Reaper
	orc.OutputStreamer
	orc.Servers
	Close() error
}

var (
	_ workerDriver = (*docker.Driver)(nil)
	_ workerDriver = (*plugin.External)(nil)
)

// selfBinary returns the orc binary: the one `orc driver docker` runs,
// beside which external drivers are by default (tests, whose binary is
// not orc, set another).
var selfBinary = os.Executable

// builtinDriver is the driver compiled into orc.
const builtinDriver = "docker"

// driverName is what an external driver's name may be: it becomes part of
// a file name.
var driverName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// openDriver returns the worker's container driver: the built-in Docker
// driver in this process, or a driver process (the built-in one run as
// `orc driver docker`, or an external binary) through go-plugin.
func openDriver(ctx context.Context, cfg *Config, log *slog.Logger, tp trace.TracerProvider) (workerDriver, error) {
	w := &cfg.Worker
	if w.Driver == builtinDriver && !w.DriverProcess {
		return docker.New(docker.Config{Host: w.DockerHost, Pull: w.Pull, Installation: cfg.QueuePrefix,
			Logger: log, Tracer: tracer(tp, "runtime/docker")})
	}
	ext := plugin.ExternalConfig{Name: w.Driver, Logger: log}
	if w.Driver == builtinDriver {
		self, err := selfBinary()
		if err != nil {
			return nil, fmt.Errorf("find the orc binary: %w", err)
		}
		ext.Path, ext.Args = self, []string{"driver", "docker", "--docker-host", w.DockerHost}
	} else {
		if !driverName.MatchString(w.Driver) {
			return nil, fmt.Errorf("%w: --driver %q: want docker or a driver's name (lowercase letters, digits, - and _)", errUsage, w.Driver)
		}
		dir := w.DriverDir
		if dir == "" {
			self, err := selfBinary()
			if err != nil {
				return nil, fmt.Errorf("find the orc binary: %w", err)
			}
			dir = filepath.Dir(self)
		}
		ext.Path = filepath.Join(dir, "orc-driver-"+w.Driver)
		if _, err := os.Stat(ext.Path); err != nil {
			return nil, fmt.Errorf("driver %s: %w", w.Driver, err)
		}
	}
	// Every driver process is told the installation its containers belong
	// to, and whether it may pull.
	ext.Args = append(ext.Args, "--installation", cfg.QueuePrefix, "--pull="+strconv.FormatBool(w.Pull),
		"--log-level", cfg.LogLevel)
	sum, err := driverChecksum(w.DriverSHA256, w.Driver)
	if err != nil {
		return nil, err
	}
	if sum != nil {
		ext.SHA256 = sum
	} else if w.Driver != builtinDriver {
		log.Warn("the driver binary is not checked: set --driver-sha256 to its SHA-256", "path", ext.Path)
	}
	return plugin.Open(ctx, ext)
}

// driverChecksum returns the SHA-256 that --driver-sha256 gives the
// driver name: the flag is one checksum (the driver's), or name=checksum
// pairs, so that one setting serves the workers of pools with different
// drivers. nil: none given.
func driverChecksum(flag, name string) ([]byte, error) {
	if flag == "" {
		return nil, nil
	}
	digits := flag
	if strings.Contains(flag, "=") {
		sums := namedValues{}
		if err := sums.Set(flag); err != nil {
			return nil, fmt.Errorf("%w: --driver-sha256: %v", errUsage, err)
		}
		if digits = sums[name]; digits == "" {
			return nil, nil
		}
	}
	sum, err := hex.DecodeString(digits)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("%w: --driver-sha256: want 64 hex digits for %s", errUsage, name)
	}
	return sum, nil
}

// namedValues is a flag of name=value pairs, comma separated (the flag may
// also be given more than once).
type namedValues map[string]string

func (m namedValues) String() string {
	pairs := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, k+"="+m[k])
	}
	return strings.Join(pairs, ",")
}

func (m namedValues) Set(s string) error {
	for _, pair := range splitList(s) {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("want name=value, got %q", pair)
		}
		m[k] = v
	}
	return nil
}

// runDriver serves a built-in driver to the worker that started this
// process: `orc driver docker`.
func runDriver(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 || args[0] != builtinDriver {
		fmt.Fprint(stderr, "Usage: orc driver docker [flags]\n\nServe the Docker driver to the worker that started this process (go-plugin).\n")
		return errUsage
	}
	cfg := DefaultConfig()
	fs := newFlagSet("driver docker", "Serve the Docker driver to the worker that started this process (go-plugin).", stderr)
	fs.StringVar(&cfg.Worker.DockerHost, "docker-host", cfg.Worker.DockerHost, "Docker engine address (default: DOCKER_HOST or the local socket)")
	fs.StringVar(&cfg.QueuePrefix, "installation", cfg.QueuePrefix, "installation the containers belong to (the queue prefix)")
	fs.BoolVar(&cfg.Worker.Pull, "pull", cfg.Worker.Pull, "pull an image the engine does not have")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	var limits struct{ stdout, stderr int64 }
	fs.Int64Var(&limits.stdout, "stdout-limit", 0, "bytes of a run's stdout kept (0: the driver's default)")
	fs.Int64Var(&limits.stderr, "stderr-limit", 0, "bytes of a run's stderr kept (0: the driver's default)")
	if err := parse(fs, args[1:], func(string) string { return "" }); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("%w: log level %q", errUsage, cfg.LogLevel)
	}
	d, err := docker.New(docker.Config{Host: cfg.Worker.DockerHost, Pull: cfg.Worker.Pull, Installation: cfg.QueuePrefix,
		StdoutLimit: limits.stdout, StderrLimit: limits.stderr, Logger: plugin.Logger(level)})
	if err != nil {
		return err
	}
	defer d.Close()
	plugin.Serve(d)
	return nil
}
