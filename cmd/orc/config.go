package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks"
	"github.com/orc-gateway/orc/invoke"
	"github.com/orc-gateway/orc/registry"
)

// errUsage is returned for bad command lines (exit code 2).
var errUsage = errors.New("usage")

// Config is all of Orc's configuration: defaults, then ORC_* environment
// variables, then flags. Only this package reads the environment.
type Config struct {
	DatabaseURL   string
	AMQPURL       string
	QueuePrefix   string
	DeliveryLimit int
	LogLevel      string
	LogFormat     string
	Hooks         HooksConfig
	// RayAddress is the Ray dashboard (Jobs and State APIs) of the cluster
	// Orc places workers on; empty: no Ray.
	RayAddress string
	// MetricsToken, when set, is the bearer token a Prometheus scraper
	// presents to every process's /metrics and to the gateway's service
	// discovery (admins' tokens work too on the gateway).
	MetricsToken string

	// Sweep bounds the sweeps that gateways and workers run so that every
	// invocation reaches a final state (invoke.Service.Sweep).
	Sweep SweepConfig

	Gateway   GatewayConfig
	Worker    WorkerConfig
	Scheduler SchedulerConfig
	Identity  IdentityConfig
}

// HooksConfig configures the WebAssembly hook host of the gateway (pre
// hooks) and the workers (post hooks).
type HooksConfig struct {
	Timeout  time.Duration
	MemoryMB int
	CacheDir string
}

// SweepConfig configures the sweeps.
type SweepConfig struct {
	Every, LostAfter, StrandedAfter time.Duration
}

// sweepFlags registers the sweeps' flags (gateway and worker).
func sweepFlags(fs *flag.FlagSet, c *Config) {
	fs.DurationVar(&c.Sweep.Every, "sweep-every", c.Sweep.Every, "time between two sweeps for lost, stranded and expired invocations")
	fs.DurationVar(&c.Sweep.LostAfter, "lost-after", c.Sweep.LostAfter, "age of a queued invocation's task past which an empty queue means it was lost")
	fs.DurationVar(&c.Sweep.StrandedAfter, "stranded-after", c.Sweep.StrandedAfter, "silence of a worker past which its running invocations are queued again")
}

// GatewayConfig configures orc gateway.
type GatewayConfig struct {
	Addr          string
	Migrate       bool
	AdminEmail    string
	AdminPassword string
	MaxBodyBytes  int64
	TokenTTL      time.Duration
	SyncGrace     time.Duration
	ReadTimeout   time.Duration
	// ShutdownDelay and ShutdownGrace shape a stop (Gateway.Run).
	ShutdownDelay, ShutdownGrace time.Duration
}

// WorkerConfig configures orc worker.
type WorkerConfig struct {
	ID          string
	Node        string
	Pool        string
	Concurrency int
	MetricsAddr string
	// MetricsHost is the host a worker reports for its /metrics (default:
	// the host of MetricsAddr, or, when that host is unspecified, the
	// address the worker reaches the database from).
	MetricsHost string
	DockerHost  string
	// Driver is the container driver: docker (built in) or the name of an
	// external driver, the binary orc-driver-<name> in DriverDir.
	Driver string
	// DriverDir is where external drivers are (default: the folder of the
	// orc binary).
	DriverDir string
	// DriverSHA256, when set, is the hex SHA-256 the driver binary must
	// have to be started.
	DriverSHA256 string
	// DriverProcess runs the built-in Docker driver in a process of its
	// own (orc driver docker), as an external one runs.
	DriverProcess bool
	// Pull lets the worker pull a plugin's image that its engine does not
	// have: for engines that start empty, as one in a Kubernetes pod does.
	Pull        bool
	Drain       time.Duration
	IdleTimeout time.Duration
	// LiveLogRate caps the bytes per second of an invocation's log sent
	// while it runs (0: the default; negative: none).
	LiveLogRate int
	// RayReplica is set when the scheduler started the worker as a Ray
	// job: its id is the job's submission id and its node Ray's node id.
	RayReplica bool
}

// SchedulerConfig configures orc scheduler.
type SchedulerConfig struct {
	// Orc is the orc binary the Ray nodes run (default: this one).
	Orc string
	// Driver is the container driver of the worker replicas, and
	// PoolDrivers that of the replicas of the pools it names (empty: the
	// worker's default, docker).
	Driver            string
	PoolDrivers       map[string]string
	WorkerConcurrency int
	MaxRayJobs        int
	Interval          time.Duration
	ScaleDownAfter    time.Duration
	// NodeEnvFile is where the processes Ray starts read the database and
	// broker URLs on their node (default: a folder of the temporary
	// directory named for the installation). The scheduler writes it on
	// its own node; on other nodes it must be put there.
	NodeEnvFile string
	// MetricsAddr is where the scheduler serves /metrics, the metrics of
	// the ray-job invocations it runs (empty: none).
	MetricsAddr string
	// WorkerMetricsAddr is where worker replicas listen for /metrics;
	// port 0 picks a free one (the replicas of a node share its ports).
	// Empty: replicas serve no metrics.
	WorkerMetricsAddr string
	// Drain is how long a stopping scheduler waits for its ray-job
	// invocations before it hands their tasks back, leaving their Ray jobs
	// running for the next scheduler to attach to; default 0: at once, so
	// that a standby takes the lead without waiting.
	Drain time.Duration
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DatabaseURL:   "postgres://orc:orc@127.0.0.1:5432/orc?sslmode=disable",
		AMQPURL:       "amqp://orc:orc@127.0.0.1:5672/",
		QueuePrefix:   "orc",
		DeliveryLimit: 5,
		LogLevel:      "info",
		LogFormat:     "text",
		Sweep: SweepConfig{
			Every:         invoke.DefaultSweepEvery,
			LostAfter:     invoke.DefaultLostAfter,
			StrandedAfter: invoke.DefaultStrandedAfter,
		},
		Hooks: HooksConfig{
			Timeout:  100 * time.Millisecond,
			MemoryMB: 64,
			CacheDir: defaultCacheDir(),
		},
		Gateway: GatewayConfig{
			Addr:          ":5900",
			MaxBodyBytes:  10 << 20,
			TokenTTL:      24 * time.Hour,
			SyncGrace:     30 * time.Second,
			ReadTimeout:   2 * time.Minute,
			ShutdownDelay: 2 * time.Second,
			ShutdownGrace: 30 * time.Second,
		},
		Worker: WorkerConfig{
			Node:        host,
			Pool:        "default",
			Driver:      "docker",
			Concurrency: 4,
			MetricsAddr: "127.0.0.1:9101",
			Drain:       5 * time.Minute,
			IdleTimeout: 5 * time.Minute,
		},
		Identity: defaultIdentity(),
		Scheduler: SchedulerConfig{
			PoolDrivers:       map[string]string{},
			WorkerConcurrency: 4,
			MaxRayJobs:        8,
			Interval:          2 * time.Second,
			ScaleDownAfter:    30 * time.Second,
			WorkerMetricsAddr: "0.0.0.0:0",
		},
	}
}

// commonFlags registers the flags every service command shares.
func commonFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL")
	fs.StringVar(&c.AMQPURL, "amqp-url", c.AMQPURL, "RabbitMQ URL")
	fs.StringVar(&c.QueuePrefix, "queue-prefix", c.QueuePrefix, "prefix of RabbitMQ exchange and queue names")
	fs.IntVar(&c.DeliveryLimit, "delivery-limit", c.DeliveryLimit, "deliveries of a task before it is dead-lettered")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.DurationVar(&c.Hooks.Timeout, "hook-timeout", c.Hooks.Timeout, "time limit of one hook call")
	fs.IntVar(&c.Hooks.MemoryMB, "hook-memory-mb", c.Hooks.MemoryMB, "memory limit of one hook instance")
	fs.StringVar(&c.Hooks.CacheDir, "hook-cache-dir", c.Hooks.CacheDir, "where compiled hooks are cached (empty: memory only)")
}

// defaultCacheDir is where compiled hooks are cached unless configured.
func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "orc", "wazero")
}

// hookSyncEvery is how often a process loads the hooks stored, and drops
// the deleted ones, through other processes.
const hookSyncEvery = 10 * time.Second

// openHooks starts the hook host and has it load the stored hooks, in the
// background.
func openHooks(ctx context.Context, c *Config, store orc.HookService, logger *slog.Logger) (*registry.Hooks, error) {
	host, err := hooks.New(ctx, hooks.Config{
		CacheDir: c.Hooks.CacheDir, Timeout: c.Hooks.Timeout, MemoryLimitMB: c.Hooks.MemoryMB, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("hook host: %w", err)
	}
	h := &registry.Hooks{Store: store, Host: host, Logger: logger, Clock: orc.SystemClock{}}
	if err := h.Start(ctx); err != nil {
		host.Close(context.Background()) //nolint:errcheck
		return nil, err
	}
	return h, nil
}

// closeHooks stops a hook host opened by openHooks.
func closeHooks(h *registry.Hooks) {
	if h == nil {
		return
	}
	if host, ok := h.Host.(*hooks.Host); ok {
		host.Close(context.Background()) //nolint:errcheck
	}
}

// parse parses a command line after applying ORC_* environment variables to
// the flags it does not set: --database-url is ORC_DATABASE_URL.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := "ORC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	return errors.Join(errs...)
}

// newFlagSet returns a flag set that prints its usage to w.
func newFlagSet(name, summary string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("orc "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: orc %s [flags]\n\n%s\n\nFlags (each also ORC_<NAME> in the environment):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// newLogger returns the process's logger.
func newLogger(c *Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.LogLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.LogFormat)
}

// service is a long-running subcommand: the gateway or a worker.
type service interface {
	Open(ctx context.Context) error
	Run(ctx context.Context) error
	Close() error
}

// runService parses a service's command line, then opens, runs and closes
// the service that build makes once the configuration is complete, with
// its logger and its tracer provider (nil: tracing off). name is the
// service's name in its traces, unless OTEL_SERVICE_NAME says otherwise.
func runService(ctx context.Context, fs *flag.FlagSet, args []string, c *Config, stderr io.Writer, name string,
	build func(*slog.Logger, trace.TracerProvider) service) error {
	getenv, err := processEnv()
	if err != nil {
		return err
	}
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	logger, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	tp, err := openTracing(ctx, getenv, name)
	if err != nil {
		return err
	}
	var tracing trace.TracerProvider // nil, not a nil *TracerProvider, when off
	if tp != nil {
		defer closeTracing(tp, logger)
		tracing = tp
		logger.Info("tracing on: exporting spans over OTLP")
	}
	svc := build(withTraceIDs(logger, tracing), tracing)
	if err := svc.Open(ctx); err != nil {
		return err
	}
	defer svc.Close()
	return svc.Run(ctx)
}
