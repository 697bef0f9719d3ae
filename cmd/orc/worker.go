package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/invoke"
	"github.com/orc-gateway/orc/queue/rabbitmq"
	"github.com/orc-gateway/orc/registry"
	"github.com/orc-gateway/orc/runtime"
	"github.com/orc-gateway/orc/scheduler/ray"
	"github.com/orc-gateway/orc/store/postgres"
)

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("worker", "Run invocations from a pool's queue as containers (Docker, or an external driver such as Podman).", stderr)
	commonFlags(fs, &cfg)
	sweepFlags(fs, &cfg)
	w := &cfg.Worker
	fs.StringVar(&w.ID, "id", w.ID, "worker id (default: node name and a random suffix)")
	fs.StringVar(&w.Node, "node", w.Node, "node name recorded on invocations")
	fs.StringVar(&w.Pool, "pool", w.Pool, "pool whose queue this worker consumes")
	fs.IntVar(&w.Concurrency, "concurrency", w.Concurrency, "invocations run at once")
	fs.StringVar(&w.MetricsAddr, "metrics-addr", w.MetricsAddr, "address of the worker's /metrics (empty: none; port 0: a free one)")
	fs.StringVar(&w.MetricsHost, "metrics-host", w.MetricsHost, "host reported for the worker's /metrics to Prometheus's discovery (default: the listen host, or, when it listens on all, the address it reaches the database from)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", cfg.MetricsToken, "bearer token a Prometheus scraper presents to /metrics (empty: none asked)")
	fs.StringVar(&w.DockerHost, "docker-host", w.DockerHost, "Docker engine address (default: DOCKER_HOST or the local socket)")
	fs.StringVar(&w.Driver, "driver", w.Driver, "container driver: docker (built in) or an external driver's name (the binary orc-driver-<name> in --driver-dir)")
	fs.StringVar(&w.DriverDir, "driver-dir", w.DriverDir, "folder of the external drivers (default: the folder of this binary)")
	fs.StringVar(&w.DriverSHA256, "driver-sha256", w.DriverSHA256, "hex SHA-256 the driver binary must have to be started, or driver=sha256 pairs, comma separated (empty: not checked)")
	fs.BoolVar(&w.DriverProcess, "driver-process", w.DriverProcess, "run the built-in docker driver in a process of its own (orc driver docker)")
	fs.BoolVar(&w.Pull, "pull", w.Pull, "pull a plugin's image the engine does not have (default: run only images already on it)")
	fs.DurationVar(&w.Drain, "drain", w.Drain, "time running invocations get to finish at shutdown")
	fs.DurationVar(&w.IdleTimeout, "idle-timeout", w.IdleTimeout, "time a warm container may stay unused before it stops (down to min_warm)")
	fs.IntVar(&w.LiveLogRate, "live-log-rate", w.LiveLogRate, "bytes per second of an invocation's log sent while it runs (0: 16 KiB; negative: none)")
	fs.StringVar(&cfg.RayAddress, "ray-address", cfg.RayAddress, "Ray dashboard URL (with --ray-replica: where the worker finds its Ray node)")
	fs.BoolVar(&w.RayReplica, "ray-replica", w.RayReplica, "the worker is a replica the scheduler placed on Ray: --id is its Ray job, and Ray's node id is recorded on invocations")
	return runService(ctx, fs, args, &cfg, stderr, "orc-worker", func(logger *slog.Logger, tp trace.TracerProvider) service {
		return &Worker{Config: cfg, Logger: logger, Tracing: tp}
	})
}

// Worker is a running worker: its database, broker, container driver and the
// consumers of its pool's queue and of the dead-letter queue.
type Worker struct {
	Config Config
	Logger *slog.Logger
	// Tracing, when set, traces each task (consume, run, commit, reply)
	// in the trace its message carries; nil: tracing off.
	Tracing trace.TracerProvider

	DB     *postgres.DB
	Broker *rabbitmq.Broker
	Driver workerDriver
	Hooks  *registry.Hooks
	Runner *runtime.Worker
	// Invoke queues what gateways that died left unqueued.
	Invoke *invoke.Service

	metrics *http.Server
	ln      net.Listener
	drain   context.CancelFunc
}

// requestDrain stops the worker gracefully, as if it got a signal.
func (m *Worker) requestDrain() {
	if m.drain != nil {
		m.drain()
	}
}

// rayNode returns the Ray node a replica runs on: the node of its Ray job.
func rayNode(ctx context.Context, address, jobID string) (string, error) {
	if address == "" {
		return "", fmt.Errorf("%w: --ray-replica needs --ray-address", errUsage)
	}
	c, err := ray.NewClient(address)
	if err != nil {
		return "", err
	}
	for try := 0; ; try++ {
		j, err := c.Job(ctx, jobID)
		if err == nil && j.DriverNodeID != "" {
			return j.DriverNodeID, nil
		}
		if try == 20 {
			if err == nil {
				err = errors.New("ray reports no node for it")
			}
			return "", fmt.Errorf("find the ray node of job %s: %w", jobID, err)
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Open connects to the database, the broker and the Docker engine.
func (m *Worker) Open(ctx context.Context) (err error) {
	cfg := m.Config
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if cfg.Worker.ID == "" {
		cfg.Worker.ID = cfg.Worker.Node + "-" + uuid.NewString()[:8]
		m.Config.Worker.ID = cfg.Worker.ID
	}
	m.Logger = m.Logger.With("worker", cfg.Worker.ID)
	if cfg.Worker.RayReplica {
		if cfg.Worker.Node, err = rayNode(ctx, cfg.RayAddress, cfg.Worker.ID); err != nil {
			return err
		}
		m.Config.Worker.Node = cfg.Worker.Node
		m.Logger = m.Logger.With("ray_node", cfg.Worker.Node)
	}
	if m.DB, err = postgres.Open(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if m.Driver, err = openDriver(ctx, &m.Config, m.Logger, m.Tracing); err != nil {
		return err
	}
	info, err := m.Driver.Fingerprint(ctx)
	if err != nil {
		return fmt.Errorf("%s driver: %w", cfg.Worker.Driver, err)
	}
	m.Logger.Info("container driver", "driver", info.Name, "version", info.Version, "external", info.External, "detail", info.Detail)
	if err := m.Driver.ReapExited(ctx); err != nil {
		m.Logger.Warn("remove exited containers", "err", err)
	}
	m.Broker = rabbitmq.Open(rabbitmq.Config{
		URL: cfg.AMQPURL, Prefix: cfg.QueuePrefix, DeliveryLimit: cfg.DeliveryLimit, Logger: m.Logger,
		Tracer: tracer(m.Tracing, "queue/rabbitmq"),
	})

	reg := processRegistry()
	// The listener comes first: its address goes in the heartbeats.
	if cfg.Worker.MetricsAddr != "" {
		if m.ln, err = net.Listen("tcp", cfg.Worker.MetricsAddr); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		if cfg.Worker.MetricsAddr, err = advertised(m.ln.Addr(), cfg.Worker.MetricsHost, databasePeer(cfg.DatabaseURL)); err != nil {
			return err
		}
		m.Config.Worker.MetricsAddr = cfg.Worker.MetricsAddr
	}
	m.Runner = runtime.NewWorker(runtime.Config{ID: cfg.Worker.ID, Node: cfg.Worker.Node, Pool: cfg.Worker.Pool,
		LiveLogRate: cfg.Worker.LiveLogRate, MetricsAddr: cfg.Worker.MetricsAddr, Driver: info.Name}, runtime.NewMetrics(reg))
	// Starts, results and the lines of running containers are told to the
	// gateways' live views.
	m.Runner.Invocations, m.Runner.Plugins, m.Runner.Driver = orc.WithEvents(m.DB, m.Broker, nil), m.DB, m.Driver
	m.Runner.LiveLogs = m.Broker
	m.Runner.DeadLetters = orc.DeadLettersWithEvents(m.DB, m.Broker, nil)
	m.Runner.Replier, m.Runner.Logger = m.Broker, m.Logger
	m.Runner.Users, m.Runner.Registry, m.Runner.Schemas = m.DB, m.DB, &registry.Schemas{}
	if m.Hooks, err = openHooks(ctx, &m.Config, m.DB, m.Logger); err != nil {
		return err
	}
	m.Hooks.Metrics = registry.NewHookMetrics(reg)
	m.Runner.Hooks = m.Hooks
	m.Runner.Tracer, m.Hooks.Tracer = tracer(m.Tracing, "runtime"), tracer(m.Tracing, "registry")
	m.Invoke = invoke.New(invoke.Config{SweepEvery: cfg.Sweep.Every, LostAfter: cfg.Sweep.LostAfter,
		StrandedAfter: cfg.Sweep.StrandedAfter}, invoke.NewMetrics(reg))
	m.Invoke.Invocations, m.Invoke.Broker, m.Invoke.Logger = m.DB, m.Broker, m.Logger
	m.Invoke.Sweeps, m.Invoke.Depths, m.Invoke.Events = m.DB, m.Broker, m.Broker
	m.Runner.Warm = runtime.NewWarm(runtime.WarmConfig{IdleTimeout: cfg.Worker.IdleTimeout}, m.Driver, m.Logger)
	m.Runner.Warm.Tracer = m.Runner.Tracer
	reg.MustRegister(m.Runner.Warm.Collector())
	m.Runner.Warm.Labels = map[string]string{
		runtime.LabelWorker:        cfg.Worker.ID,
		runtime.LabelWorkerStarted: strconv.FormatInt(time.Now().Unix(), 10),
	}
	m.Broker.OnCancel(m.Runner.Cancel)
	m.Runner.OnDrain = m.requestDrain

	if m.ln != nil {
		m.metrics = serveMetrics(m.ln, reg, cfg.MetricsToken, func(mux *http.ServeMux) {
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
				writeStatus(w, http.StatusOK, "ok", "")
			})
			// Ready while the worker takes tasks: not while its container
			// engine does not answer.
			mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
				if why := m.Runner.Paused(); why != "" {
					writeStatus(w, http.StatusServiceUnavailable, "paused", why)
					return
				}
				writeStatus(w, http.StatusOK, "ok", "")
			})
		})
	}
	return nil
}

// Run consumes until ctx ends, then drains: no new tasks are taken and the
// running ones get up to the drain time to finish.
func (m *Worker) Run(ctx context.Context) error {
	cfg := m.Config.Worker
	// A drain request (the scheduler scales the pool down) ends the run
	// as a signal does: no new tasks, the running ones finish, exit 0.
	ctx, m.drain = context.WithCancel(ctx)
	defer m.drain()
	m.Logger.Info("worker consuming", "pool", cfg.Pool, "concurrency", cfg.Concurrency, "version", Version)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return m.consume(gctx)
	})
	g.Go(func() error {
		m.Runner.WatchEngine(gctx)
		return nil
	})
	g.Go(func() error {
		return m.Broker.ConsumeDead(gctx, m.Runner.HandleDead)
	})
	g.Go(func() error {
		m.Runner.Maintain(gctx)
		return nil
	})
	g.Go(func() error {
		m.Invoke.KeepSweeping(gctx)
		return nil
	})
	g.Go(func() error {
		m.Runner.Tend(gctx)
		return nil
	})
	g.Go(func() error {
		m.Hooks.Keep(gctx, hookSyncEvery)
		return nil
	})
	// Past the drain time, kill what still runs rather than leave
	// containers behind: their results are committed as canceled only if
	// the invocation was, and otherwise their tasks are delivered again to
	// other workers.
	return drain(ctx, g, cfg.Drain, m.Runner.CancelAll, m.Logger)
}

// writeStatus writes a worker's health answer.
func writeStatus(w http.ResponseWriter, code int, status, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body := map[string]string{"status": status}
	if reason != "" {
		body["reason"] = reason
	}
	json.NewEncoder(w).Encode(body) //nolint:errcheck // the client may have gone
}

// consume consumes the pool's queue while the container engine answers,
// until ctx ends: a worker whose engine is down takes no tasks (those it
// holds go back to the queue) and resumes when it answers again.
func (m *Worker) consume(ctx context.Context) error {
	cfg := m.Config.Worker
	for {
		select {
		case <-m.Runner.EngineUp():
		case <-ctx.Done():
			return nil
		}
		cctx, pause := context.WithCancel(ctx)
		lost := m.Runner.EngineLost()
		go func() {
			select {
			case <-lost:
				pause()
			case <-cctx.Done():
			}
		}()
		err := m.Broker.Consume(cctx, cfg.Pool, cfg.Concurrency, func(ctx context.Context, d *rabbitmq.Delivery) error {
			return m.Runner.Handle(ctx, &d.Task)
		})
		pause()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// drainStop is how long a drain waits for the runs it handed back to
// settle their deliveries.
const drainStop = 30 * time.Second

// drain waits for g until ctx ends, then up to limit more for the runs in
// flight to finish; past it, it hands them back (handBack) and waits at
// most drainStop for g to return. It returns g's error, or errHandedBack.
func drain(ctx context.Context, g *errgroup.Group, limit time.Duration, handBack func(), log *slog.Logger) error {
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "limit", limit)
	select {
	case err := <-done:
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		log.Info("drained")
		return err
	case <-time.After(limit):
	}
	handBack()
	select {
	case <-done:
	case <-time.After(drainStop):
	}
	return errHandedBack
}

var errHandedBack = errors.New("drain: running invocations did not finish in time; they are delivered again")

// Close releases everything Open acquired and stops the warm containers.
func (m *Worker) Close() error {
	if m.Runner != nil && m.Runner.Warm != nil {
		m.Runner.Warm.Close()
	}
	closeHooks(m.Hooks)
	if m.metrics != nil {
		m.metrics.Close()
	} else if m.ln != nil {
		m.ln.Close()
	}
	if m.Broker != nil {
		m.Broker.Close()
	}
	if m.Driver != nil {
		m.Driver.Close()
	}
	if m.DB != nil {
		m.DB.Close()
	}
	return nil
}
