package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/queue/rabbitmq"
	"github.com/orc-gateway/orc/registry"
	"github.com/orc-gateway/orc/runtime"
	"github.com/orc-gateway/orc/scheduler/ray"
	"github.com/orc-gateway/orc/store/postgres"
)

// schedulerLock is the PostgreSQL advisory lock the active scheduler of an
// installation holds (with its queue prefix): others wait as standbys.
const schedulerLock = "orc-scheduler"

func runScheduler(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("scheduler", "Place worker replicas and ray-job invocations on a Ray cluster.", stderr)
	commonFlags(fs, &cfg)
	s := &cfg.Scheduler
	fs.StringVar(&cfg.RayAddress, "ray-address", cfg.RayAddress, "Ray dashboard URL, e.g. http://127.0.0.1:8265 (required)")
	fs.StringVar(&s.Orc, "orc", s.Orc, "path of the orc binary on the Ray nodes (default: this binary)")
	fs.StringVar(&s.Driver, "driver", s.Driver, "container driver of the worker replicas: docker or an external driver's name (empty: the worker's default)")
	fs.Var(namedValues(s.PoolDrivers), "pool-driver", "container driver of a pool's worker replicas, pool=driver (comma separated, or the flag again)")
	fs.IntVar(&s.WorkerConcurrency, "worker-concurrency", s.WorkerConcurrency, "invocations one worker replica runs at once")
	fs.IntVar(&s.MaxRayJobs, "max-ray-jobs", s.MaxRayJobs, "ray-job invocations in flight at once")
	fs.DurationVar(&s.Interval, "interval", s.Interval, "time between two reconciliations")
	fs.DurationVar(&s.ScaleDownAfter, "scale-down-after", s.ScaleDownAfter, "time a pool must want fewer replicas before one drains")
	fs.DurationVar(&s.Drain, "drain", s.Drain, "time in-flight ray-job invocations get at shutdown before their Ray jobs are left to the next scheduler")
	fs.StringVar(&s.MetricsAddr, "metrics-addr", s.MetricsAddr, "address of the scheduler's /metrics: its ray-job invocations (empty: none)")
	fs.StringVar(&s.WorkerMetricsAddr, "worker-metrics-addr", s.WorkerMetricsAddr, "where worker replicas serve /metrics (port 0: a free one each; empty: none)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", cfg.MetricsToken, "bearer token worker replicas ask of a Prometheus scraper (passed in the node's env file, never in Ray's job records)")
	fs.StringVar(&s.NodeEnvFile, "node-env-file", s.NodeEnvFile, "file where the processes Ray starts find the database and broker URLs on their node (written here; put it on the other nodes)")
	return runService(ctx, fs, args, &cfg, stderr, "orc-scheduler", func(logger *slog.Logger, tp trace.TracerProvider) service {
		return &Scheduler{Config: cfg, Logger: logger, Tracing: tp}
	})
}

// Scheduler is a running scheduler: it keeps each pool's worker replicas on
// Ray, runs ray-job invocations as Ray jobs, and reports what it sees.
type Scheduler struct {
	Config Config
	Logger *slog.Logger
	// Tracing, when set, traces each ray-job task and passes its trace to
	// the Ray job (TRACEPARENT); nil: tracing off.
	Tracing trace.TracerProvider

	DB         *postgres.DB
	Broker     *rabbitmq.Broker
	Ray        *ray.Client
	Reconciler *ray.Reconciler
	Hooks      *registry.Hooks
	// Runner consumes the ray-job pool's queue; its driver submits each
	// invocation as a Ray job.
	Runner *runtime.Worker

	metrics     *http.Server
	metricsAddr string
}

// Open connects to the database, the broker and Ray.
func (m *Scheduler) Open(ctx context.Context) (err error) {
	cfg := m.Config
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if cfg.RayAddress == "" {
		return fmt.Errorf("%w: --ray-address (ORC_RAY_ADDRESS) is required", errUsage)
	}
	if m.Ray, err = ray.NewClient(cfg.RayAddress); err != nil {
		return err
	}
	if v, err := m.Ray.Version(ctx); err != nil {
		// Not fatal: Ray may come up later, and the scheduler retries.
		m.Logger.Warn("ray dashboard not reachable yet", "address", cfg.RayAddress, "err", err)
	} else {
		m.Logger.Info("ray cluster", "address", cfg.RayAddress, "ray_version", v)
	}
	orcBin := cfg.Scheduler.Orc
	if orcBin == "" {
		if orcBin, err = os.Executable(); err != nil {
			return fmt.Errorf("find the orc binary: %w", err)
		}
	}
	if m.DB, err = postgres.Open(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	m.Broker = rabbitmq.Open(rabbitmq.Config{
		URL: cfg.AMQPURL, Prefix: cfg.QueuePrefix, DeliveryLimit: cfg.DeliveryLimit, Logger: m.Logger,
		Tracer: tracer(m.Tracing, "queue/rabbitmq"),
	})
	if err := writeNodeEnv(nodeEnvFile(&cfg), nodeSecrets(&cfg)); err != nil {
		return fmt.Errorf("node env file: %w", err)
	}
	env := replicaEnv(&cfg)

	m.Reconciler = ray.NewReconciler(ray.ReconcilerConfig{
		Prefix: cfg.QueuePrefix, Env: env,
		// Replicas share their node's ports: by default each picks a free
		// one and reports it in its heartbeats, for the gateway's service
		// discovery (GET /api/v1/metrics/targets).
		Command:           []string{orcBin, "worker", "--ray-replica", "--metrics-addr", cfg.Scheduler.WorkerMetricsAddr, "--concurrency", strconv.Itoa(cfg.Scheduler.WorkerConcurrency)},
		Driver:            cfg.Scheduler.Driver,
		PoolDrivers:       cfg.Scheduler.PoolDrivers,
		WorkerConcurrency: cfg.Scheduler.WorkerConcurrency,
		Interval:          cfg.Scheduler.Interval,
		ScaleDownAfter:    cfg.Scheduler.ScaleDownAfter,
	})
	m.Reconciler.Ray, m.Reconciler.Pools, m.Reconciler.Invocations = m.Ray, m.DB, m.DB
	m.Reconciler.Logger = m.Logger

	driver := ray.NewJobDriver(ray.JobDriverConfig{Prefix: cfg.QueuePrefix, Command: []string{orcBin, "ray-exec"}, Env: env}, m.Ray)
	driver.Logger, driver.Tasks, driver.Tracer = m.Logger, m.DB, tracer(m.Tracing, "scheduler/ray")
	host, _ := os.Hostname()
	// Its metrics are those of the ray-job invocations.
	reg := processRegistry()
	m.Runner = runtime.NewWorker(runtime.Config{ID: "scheduler-" + host + "-" + strconv.Itoa(os.Getpid()), Node: host, Pool: orc.RayJobPool, Driver: "ray-job"},
		runtime.NewMetrics(reg))
	m.Runner.Invocations, m.Runner.Plugins, m.Runner.Driver = orc.WithEvents(m.DB, m.Broker, nil), m.DB, driver
	m.Runner.Replier, m.Runner.Logger = m.Broker, m.Logger
	m.Runner.Users, m.Runner.Schemas = m.DB, &registry.Schemas{}
	if m.Hooks, err = openHooks(ctx, &m.Config, m.DB, m.Logger); err != nil {
		return err
	}
	m.Hooks.Metrics = registry.NewHookMetrics(reg)
	m.Runner.Hooks = m.Hooks
	m.Runner.Tracer, m.Hooks.Tracer = tracer(m.Tracing, "runtime"), tracer(m.Tracing, "registry")
	m.Broker.OnCancel(m.Runner.Cancel)
	if cfg.Scheduler.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.Scheduler.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		m.metrics, m.metricsAddr = serveMetrics(ln, reg, cfg.MetricsToken, nil), ln.Addr().String()
	}
	return nil
}

// nodeEnvFile is the file of the settings the processes Ray starts read on
// their node.
func nodeEnvFile(cfg *Config) string {
	if cfg.Scheduler.NodeEnvFile != "" {
		return cfg.Scheduler.NodeEnvFile
	}
	return filepath.Join(os.TempDir(), "orc-"+cfg.QueuePrefix, "node.env")
}

// nodeSecrets are the settings of worker replicas and ray-job entrypoints
// that hold credentials: they go in the node's file, never in a Ray job's
// record, which Ray's dashboard shows to anyone who reaches it. The
// scheduler's OTEL_* settings go there too (an exporter's headers may hold
// a token), but its service name: the replicas and entrypoints name
// themselves.
func nodeSecrets(cfg *Config) map[string]string {
	env := map[string]string{"ORC_DATABASE_URL": cfg.DatabaseURL, "ORC_AMQP_URL": cfg.AMQPURL}
	for _, name := range otelVars {
		if v := os.Getenv(name); v != "" && name != "OTEL_SERVICE_NAME" {
			env[name] = v
		}
	}
	if cfg.MetricsToken != "" {
		env["ORC_METRICS_TOKEN"] = cfg.MetricsToken
	}
	return env
}

// replicaEnv is the environment of worker replicas and ray-job
// entrypoints, as Ray keeps it with each job: how to reach Ray, the file
// of the node's secrets, and the settings that hold none.
func replicaEnv(cfg *Config) map[string]string {
	env := map[string]string{
		nodeEnvVar:           nodeEnvFile(cfg),
		"ORC_QUEUE_PREFIX":   cfg.QueuePrefix,
		"ORC_DELIVERY_LIMIT": strconv.Itoa(cfg.DeliveryLimit),
		"ORC_LOG_LEVEL":      cfg.LogLevel,
		"ORC_LOG_FORMAT":     cfg.LogFormat,
		"ORC_RAY_ADDRESS":    cfg.RayAddress,
		"ORC_HOOK_TIMEOUT":   cfg.Hooks.Timeout.String(),
		"ORC_HOOK_MEMORY_MB": strconv.Itoa(cfg.Hooks.MemoryMB),
		"ORC_HOOK_CACHE_DIR": cfg.Hooks.CacheDir,
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env["DOCKER_HOST"] = h
	}
	return env
}

// Run waits to become the active scheduler, then reconciles and runs
// ray-job invocations until ctx ends.
func (m *Scheduler) Run(ctx context.Context) error {
	release, err := m.lead(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer release()
	m.Logger.Info("scheduler active", "max_ray_jobs", m.Config.Scheduler.MaxRayJobs, "version", Version)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		m.Reconciler.Run(gctx)
		return nil
	})
	g.Go(func() error {
		// In-flight Ray jobs are capped by the consumer's prefetch.
		return m.Broker.Consume(gctx, orc.RayJobPool, m.Config.Scheduler.MaxRayJobs, func(ctx context.Context, d *rabbitmq.Delivery) error {
			return m.Runner.Handle(ctx, &d.Task)
		})
	})
	g.Go(func() error {
		m.Hooks.Keep(gctx, hookSyncEvery)
		return nil
	})
	// Past the drain time, stop waiting for the Ray jobs in flight: they
	// run on, and the next scheduler, taking their tasks, attaches to
	// them. The lock is released on return, so it can.
	err = drain(ctx, g, m.Config.Scheduler.Drain, m.Runner.CancelAll, m.Logger)
	if errors.Is(err, errHandedBack) {
		m.Logger.Info("ray jobs in flight left running for the next scheduler")
		return nil
	}
	return err
}

// lead blocks until this scheduler holds the installation's lock.
func (m *Scheduler) lead(ctx context.Context) (func(), error) {
	logged := false
	for {
		release, ok, err := m.DB.TryAdvisoryLock(ctx, schedulerLock+":"+m.Config.QueuePrefix)
		if err == nil && ok {
			return release, nil
		}
		if err != nil {
			m.Logger.Warn("scheduler lock", "err", err)
		} else if !logged {
			m.Logger.Info("another scheduler is active; standing by")
			logged = true
		}
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close releases what Open acquired.
func (m *Scheduler) Close() error {
	if m.metrics != nil {
		m.metrics.Close()
	}
	closeHooks(m.Hooks)
	if m.Broker != nil {
		m.Broker.Close()
	}
	if m.DB != nil {
		m.DB.Close()
	}
	return nil
}
