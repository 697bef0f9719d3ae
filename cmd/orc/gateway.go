package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/console"
	"github.com/orc-gateway/orc/gateway"
	"github.com/orc-gateway/orc/identity"
	"github.com/orc-gateway/orc/invoke"
	"github.com/orc-gateway/orc/queue/rabbitmq"
	"github.com/orc-gateway/orc/registry"
	"github.com/orc-gateway/orc/runtime"
	"github.com/orc-gateway/orc/scheduler/ray"
	"github.com/orc-gateway/orc/store/postgres"
)

func runGateway(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("gateway", "Serve the HTTP API.", stderr)
	commonFlags(fs, &cfg)
	sweepFlags(fs, &cfg)
	g := &cfg.Gateway
	fs.StringVar(&g.Addr, "addr", g.Addr, "address to serve HTTP on")
	fs.BoolVar(&g.Migrate, "migrate", g.Migrate, "apply database migrations at start")
	fs.StringVar(&g.AdminEmail, "admin-email", g.AdminEmail, "create this admin account at start if it does not exist")
	fs.StringVar(&g.AdminPassword, "admin-password", g.AdminPassword, "password of --admin-email")
	fs.Int64Var(&g.MaxBodyBytes, "max-body-bytes", g.MaxBodyBytes, "largest request body")
	fs.DurationVar(&g.TokenTTL, "token-ttl", g.TokenTTL, "lifetime of tokens from /api/v1/auth/token")
	fs.DurationVar(&g.SyncGrace, "sync-grace", g.SyncGrace, "time a synchronous call waits beyond the plugin's timeout")
	fs.DurationVar(&g.ShutdownDelay, "shutdown-delay", g.ShutdownDelay, "time a stopping gateway answers new requests 503 (and /readyz draining) before it stops taking connections")
	fs.DurationVar(&g.ShutdownGrace, "shutdown-grace", g.ShutdownGrace, "time requests under way, synchronous calls included, get to finish at shutdown")
	fs.DurationVar(&g.ReadTimeout, "read-timeout", g.ReadTimeout, "time a client has to send a whole request, body included")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", cfg.MetricsToken, "bearer token a Prometheus scraper uses for /metrics (admins' tokens work too)")
	fs.StringVar(&cfg.RayAddress, "ray-address", cfg.RayAddress, "Ray dashboard URL, for the cluster view and /readyz (empty: no Ray)")
	identityFlags(fs, &cfg.Identity)
	return runService(ctx, fs, args, &cfg, stderr, "orc-gateway", func(logger *slog.Logger, tp trace.TracerProvider) service {
		return &Gateway{Config: cfg, Logger: logger, Tracing: tp}
	})
}

// Gateway is a running gateway: its database, broker and HTTP server. The
// end-to-end tests run it in process.
type Gateway struct {
	Config Config
	Logger *slog.Logger
	// Tracing, when set, traces the requests and the invoke path, and
	// carries each task's trace to its worker; nil: tracing off.
	Tracing trace.TracerProvider

	DB       *postgres.DB
	Broker   *rabbitmq.Broker
	Hooks    *registry.Hooks
	Registry *registry.Registry
	Invoke   *invoke.Service
	Identity *identity.Service
	Server   *gateway.Server

	ln   net.Listener
	http *http.Server
}

// Open connects to the database and broker and starts listening.
func (m *Gateway) Open(ctx context.Context) (err error) {
	cfg := m.Config
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.DB, err = postgres.Open(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if cfg.Gateway.Migrate {
		applied, err := m.DB.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, name := range applied {
			m.Logger.Info("migration applied", "name", name)
		}
	}
	if err := ensureAdmin(ctx, m.DB, cfg.Gateway.AdminEmail, cfg.Gateway.AdminPassword, m.Logger); err != nil {
		return err
	}
	m.Broker = rabbitmq.Open(rabbitmq.Config{
		URL: cfg.AMQPURL, Prefix: cfg.QueuePrefix, DeliveryLimit: cfg.DeliveryLimit, Logger: m.Logger,
		Tracer: tracer(m.Tracing, "queue/rabbitmq"),
	})
	if m.Hooks, err = openHooks(ctx, &m.Config, m.DB, m.Logger); err != nil {
		return err
	}
	m.Registry = registry.New(cacheTTL)
	m.Registry.Plugins, m.Registry.HookStore, m.Registry.Hooks, m.Registry.Logger = m.DB, m.DB, m.Hooks, m.Logger
	m.Registry.Policies = m.DB

	metrics := prometheus.NewRegistry()
	m.Hooks.Metrics = registry.NewHookMetrics(metrics)
	invokeMetrics := invoke.NewMetrics(metrics)
	m.Invoke = invoke.New(invoke.Config{SyncGrace: cfg.Gateway.SyncGrace, SweepEvery: cfg.Sweep.Every,
		LostAfter: cfg.Sweep.LostAfter, StrandedAfter: cfg.Sweep.StrandedAfter}, invokeMetrics)
	// Creations and cancels are told to every gateway's live views.
	m.Invoke.Plugins, m.Invoke.Invocations, m.Invoke.Broker = m.Registry, orc.WithEvents(m.DB, m.Broker, nil), m.Broker
	m.Invoke.DeadLetters, m.Invoke.Events = orc.DeadLettersWithEvents(m.DB, m.Broker, nil), m.Broker
	m.Invoke.Schemas, m.Invoke.Hooks, m.Invoke.Logger = &m.Registry.Schemas, m.Hooks, m.Logger
	m.Invoke.Sweeps, m.Invoke.Depths = m.DB, m.Broker
	m.Invoke.Tracer, m.Hooks.Tracer = tracer(m.Tracing, "invoke"), tracer(m.Tracing, "registry")
	m.Invoke.Broker = invokeMetrics.TimedBroker(m.Broker)
	m.Broker.OnReply(m.Invoke.Deliver)

	proxies, err := parsePrefixes(cfg.Identity.TrustedProxies)
	if err != nil {
		return err
	}
	m.Identity = identity.New(identity.Config{
		TokenTTL: cfg.Gateway.TokenTTL, SessionTTL: cfg.Identity.SessionTTL, CacheTTL: cacheTTL,
		PublicURL: cfg.Identity.PublicURL, Limits: cfg.Identity.Limits, TrustedProxies: proxies,
	})
	m.Identity.Users, m.Identity.Keys, m.Identity.SignIns, m.Identity.AuditLog = m.DB, m.DB, m.DB, m.DB
	m.Identity.InFlight, m.Identity.Policies, m.Identity.Logger = m.DB, m.DB, m.Logger

	m.Server = gateway.New(gateway.Config{
		MaxBodyBytes: cfg.Gateway.MaxBodyBytes, MetricsToken: cfg.MetricsToken, Metrics: metrics,
	})
	m.Server.Invoke, m.Server.Registry, m.Server.Identity = m.Invoke, m.Registry, m.Identity
	m.Server.Plugins, m.Server.Invocations, m.Server.Users, m.Server.DB = m.DB, m.DB, m.DB, m.DB
	m.Server.DeadLetters, m.Server.Stats = m.DB, m.DB
	m.Server.HookStore, m.Server.Keys, m.Server.Audit, m.Server.Policies = m.DB, m.DB, m.DB, m.DB
	m.Server.Broker, m.Server.Logger, m.Server.Events = m.Broker, m.Logger, m.Broker
	m.Server.Tracer = tracer(m.Tracing, "gateway")
	m.Server.Cluster = &gateway.ClusterView{Pools: m.DB, Workers: m.DB}
	m.Server.Console = console.New(console.Config{API: m.Server, Identity: m.Identity, RayDashboard: cfg.RayAddress, Logger: m.Logger})
	if cfg.RayAddress != "" {
		rc, err := ray.NewClient(cfg.RayAddress)
		if err != nil {
			return err
		}
		// The cluster view and /readyz answer fast when Ray is down.
		rc.Retries = 0
		m.Server.Cluster.Nodes = ray.Inspector{Client: rc}
	}

	if m.ln, err = net.Listen("tcp", cfg.Gateway.Addr); err != nil {
		return err
	}
	if err := m.openIdentity(ctx); err != nil {
		return err
	}
	// A client must send its headers within 10 s and its whole request
	// within the read timeout, so that slow clients cannot hold
	// connections open. The read deadline ends with the request's body
	// (net/http clears it), so a synchronous call that runs long after is
	// not cut; responses have no limit, as a call waits as long as its
	// plugin may run.
	m.http = &http.Server{
		Handler:           m.Server,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.Gateway.ReadTimeout,
		MaxHeaderBytes:    64 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// URL is the gateway's base URL.
func (m *Gateway) URL() string {
	return "http://" + m.ln.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully: in-flight requests
// get up to the sync grace to finish.
func (m *Gateway) Run(ctx context.Context) error {
	m.Logger.Info("gateway listening", "addr", m.ln.Addr().String(), "version", Version)
	errc := make(chan error, 1)
	go func() { errc <- m.http.Serve(m.ln) }()
	hctx, stopHooks := context.WithCancel(ctx)
	defer stopHooks()
	go m.Hooks.Keep(hctx, hookSyncEvery)
	// Gateways sweep as workers do: a pool with no worker at all still
	// sees its queued invocations expire.
	go m.Invoke.KeepSweeping(hctx)
	go m.Server.KeepSampling(hctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// New requests are refused with 503 and Retry-After (and /readyz says
	// draining) for the shutdown delay, so that a load balancer stops
	// sending any; then the server stops taking connections, and the
	// requests under way, synchronous calls included, get the grace to
	// finish. Those that do not finish go on as invocations: their result
	// is at their Location.
	g := m.Config.Gateway
	m.Logger.Info("gateway draining", "delay", g.ShutdownDelay, "grace", g.ShutdownGrace)
	m.Server.Drain()
	select {
	case <-time.After(g.ShutdownDelay):
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.ShutdownGrace)
	defer cancel()
	if err := m.http.Shutdown(sctx); err != nil {
		m.Logger.Warn("requests still under way at the end of the grace; closing them", "grace", g.ShutdownGrace)
		return err
	}
	m.Logger.Info("gateway drained")
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	m.Invoke.Flush(sctx)
	return nil
}

// Close releases everything Open acquired.
func (m *Gateway) Close() error {
	if m.http != nil {
		m.http.Close()
	} else if m.ln != nil {
		m.ln.Close()
	}
	if m.Broker != nil {
		m.Broker.Close()
	}
	closeHooks(m.Hooks)
	if m.Invoke != nil && m.DB != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.Invoke.Flush(ctx)
		cancel()
	}
	if m.DB != nil {
		m.DB.Close()
	}
	return nil
}

// The services declare what they need where they use it; these are the
// implementations this binary passes them.
var (
	_ invoke.Plugins           = (*registry.Registry)(nil)
	_ invoke.Schemas           = (*registry.Schemas)(nil)
	_ invoke.Broker            = (*rabbitmq.Broker)(nil)
	_ invoke.QueueDepths       = (*rabbitmq.Broker)(nil)
	_ invoke.Sweeper           = (*postgres.DB)(nil)
	_ runtime.Schemas          = (*registry.Schemas)(nil)
	_ runtime.Replier          = (*rabbitmq.Broker)(nil)
	_ identity.InFlightCounter = (*postgres.DB)(nil)
	_ gateway.Broker           = (*rabbitmq.Broker)(nil)
	_ gateway.EventSource      = (*rabbitmq.Broker)(nil)
	_ ray.TaskStore            = (*postgres.DB)(nil)
)

// cacheTTL is how long the invoke path caches a token's principal and a
// plugin's latest version: a disabled account or a new version takes up to
// this long to show on another gateway.
const cacheTTL = 2 * time.Second

// ensureAdmin creates the bootstrap admin account when it is configured and
// missing. An existing account is left as it is.
func ensureAdmin(ctx context.Context, users orc.UserService, email, pw string, logger *slog.Logger) error {
	if email == "" && pw == "" {
		return nil
	}
	if email == "" || pw == "" {
		return errors.New("admin account: set both the e-mail and the password")
	}
	_, err := users.FindUserByEmail(ctx, email)
	if err == nil {
		return nil
	}
	if orc.ErrorCode(err) != orc.ENOTFOUND {
		return fmt.Errorf("admin account: %w", err)
	}
	hash, err := identity.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("admin account: %w", err)
	}
	err = users.CreateUser(ctx, &orc.User{Email: email, Name: "Administrator", Role: orc.RoleAdmin, PasswordHash: hash})
	if orc.ErrorCode(err) == orc.ECONFLICT {
		return nil // another gateway created it first
	}
	if err != nil {
		return fmt.Errorf("admin account: %w", err)
	}
	logger.Info("admin account created", "email", email)
	return nil
}
