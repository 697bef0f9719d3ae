// Package gateway is Orc's HTTP edge: POST /invoke/{plugin}, the REST API,
// the seed-compatible job API, health, metrics and the OpenAPI document. It
// is the only package that maps Orc's error codes to HTTP statuses.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
	"github.com/orc-gateway/orc/invoke"
	"github.com/orc-gateway/orc/registry"
)

// Config tunes the gateway. The zero value of each field means its default.
type Config struct {
	// MaxBodyBytes caps invocation and registration bodies (default 10 MiB).
	MaxBodyBytes int64
	// MetricsToken, when set, is a bearer token that may read /metrics (for
	// a Prometheus scraper). Admins' tokens may read it too.
	MetricsToken string
	// Metrics is where the gateway's metrics are registered and what
	// /metrics serves (a new registry when nil); the invoke path's metrics
	// belong there too.
	Metrics *prometheus.Registry
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 10 << 20
	}

	if c.Metrics == nil {
		c.Metrics = prometheus.NewRegistry()
	}
}

// Broker is what the gateway needs of the message broker besides the
// invoke path.
type Broker interface {
	// Ready returns nil when the broker is connected.
	Ready() error
	// QueueDepth returns the number of ready messages of a pool.
	QueueDepth(ctx context.Context, pool string) (int, error)
	// BroadcastCancel tells every worker to stop an invocation.
	BroadcastCancel(ctx context.Context, invocationID string) error
}

// Database is what the gateway needs of the database besides the services.
type Database interface {
	Ping(ctx context.Context) error
}

// Server serves Orc's HTTP API.
type Server struct {
	// Invoke runs the invoke path; Registry registers plugins and hooks;
	// Identity authenticates and limits requests and signs users in.
	Invoke   *invoke.Service
	Registry *registry.Registry
	Identity *identity.Service

	Plugins     orc.PluginService
	Invocations orc.InvocationService
	DeadLetters orc.DeadLetterService
	Users       orc.UserService
	HookStore   orc.HookService
	Policies    orc.PolicyService
	// Keys, Audit and SignIns keep API keys, the audit log and single
	// sign-ons under way.
	Keys  orc.APIKeyService
	Audit orc.AuditService
	// Stats keeps what GET /api/v1/stats shows; nil: nothing.
	Stats orc.StatsService
	// Events, when set, feeds GET /api/v1/events.
	Events EventSource
	// Console serves the web console under /console/; nil: none.
	Console http.Handler
	// Cluster shows the Ray cluster and the scheduler's pools; nil: no Ray.
	Cluster *ClusterView
	Broker  Broker
	DB      Database
	Logger  *slog.Logger
	Clock   orc.Clock
	// Tracer, when set, makes a span of each request and answers sampled
	// ones with their traceparent; nil: no tracing.
	Tracer trace.Tracer

	cfg      Config
	metrics  http.Handler
	once     sync.Once
	router   chi.Router
	draining atomic.Bool
	drained  chan struct{} // closed by Drain: event streams end
	drain    sync.Once
	hub      *hub
}

// Drain makes the gateway refuse new requests, but /healthz, with 503
// unavailable and Retry-After, and /readyz report "draining", so that a
// load balancer sends requests elsewhere while those under way finish.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.drain.Do(func() { close(s.drained) })
}

// New returns a Server. Set its service fields before serving.
func New(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, Logger: slog.Default(), Clock: orc.SystemClock{}, drained: make(chan struct{})}
	s.metrics = s.metricsHandler(cfg.Metrics)
	return s
}

// ServeHTTP serves a request. The routes are built at the first one, once
// the service fields are set.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	router := s.built()
	if s.draining.Load() && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
		w.Header().Set("Connection", "close")
		s.errorFor(w, r, &orc.Error{Code: orc.EUNAVAILABLE, Message: "the gateway is shutting down; try again", RetryAfter: time.Second}, "")
		return
	}
	router.ServeHTTP(w, r)
}

// Routes returns the router, built once the service fields are set: what
// it serves, for tests that walk every route.
func (s *Server) Routes() chi.Routes { return s.built() }

func (s *Server) built() chi.Router {
	s.once.Do(func() { s.router = s.routes() })
	return s.router
}

func (s *Server) routes() chi.Router {
	if s.Events != nil {
		// The gateway subscribes at its first stream: until someone
		// watches, the broker drops the installation's events unread.
		s.hub = newHub(s.Invocations.FindInvocation, s.Events)
	}
	r := chi.NewRouter()
	// Routing sees the escaped path (escapedRouting); decodeParams, in the
	// groups below, decodes the parameters of the route it found.
	if s.Tracer != nil {
		// First, so that every other middleware's logs carry the trace.
		r.Use(s.traceRequests)
	}
	r.Use(middleware.RequestID, s.logRequests, s.recoverer, escapedRouting, s.checkQuery, middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, orc.Errorf(orc.ENOTFOUND, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowed(r, req.URL.EscapedPath()), ", "))
		s.error(w, req, &orc.Error{Code: codeMethodNotAllowed, Message: "method not allowed"})
	})

	r.Group(func(r chi.Router) {
		r.Use(s.decodeParams)
		r.Get("/healthz", s.handleHealthz)
		r.Get("/readyz", s.handleReadyz)
		r.Get("/health", s.handleHealthz) // the seed's health check
		r.With(s.authenticateMetrics).Method(http.MethodGet, "/metrics", s.metrics)
		r.With(s.authenticateMetrics).Get("/api/v1/metrics/targets", s.handleMetricsTargets)
		r.Post("/api/v1/auth/token", s.handleToken)
		r.Get("/auth/login", s.Identity.Login(s.error))
		r.Get("/auth/callback", s.Identity.Callback(s.error))
		r.Post("/auth/logout", s.Identity.Logout(s.error))
	})

	if s.Console != nil {
		// The console has routes, sessions and error pages of its own; it
		// calls this router for what it shows.
		r.Handle("/console/*", s.Console)
		for _, from := range []string{"/", "/console", "/dashboard", "/dashboard/"} {
			r.Get(from, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/console/", http.StatusFound)
			})
		}
	}

	inflight := s.Identity.LimitInFlight(s.error)
	r.Group(func(r chi.Router) {
		r.Use(s.decodeParams, s.Identity.Authenticate(s.error))
		r.Get("/openapi.json", s.handleOpenAPI)
		r.With(inflight).Post("/invoke/{plugin}", s.handleInvoke)
	})
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.Identity.Authenticate(s.error))
		// A group, so that decodeParams runs once this router has matched
		// the route, and knows its parameters.
		r.Group(func(r chi.Router) {
			r.Use(s.decodeParams)
			s.apiRoutes(r, inflight)
		})
	})
	return r
}

// apiRoutes are the routes under /api/v1 that need a principal.
func (s *Server) apiRoutes(r chi.Router, inflight func(http.Handler) http.Handler) {
	r.Get("/auth/me", s.handleMe)

	r.Get("/plugins", s.handleListPlugins)
	r.With(s.audited(orc.AuditVersionCreate, "plugin", "")).Post("/plugins", s.handleCreatePlugin)
	r.Get("/plugins/{plugin}", s.handleGetPlugin)
	r.With(s.audited(orc.AuditPluginDelete, "plugin", "plugin")).Delete("/plugins/{plugin}", s.handleDeletePlugin)
	r.Get("/plugins/{plugin}/versions", s.handleListVersions)
	r.With(s.audited(orc.AuditVersionCreate, "plugin", "plugin")).Post("/plugins/{plugin}/versions", s.handleCreateVersion)
	r.Get("/plugins/{plugin}/versions/{version}", s.handleGetVersion)

	r.Get("/events", s.handleEvents)
	r.Get("/invocations", s.handleListInvocations)
	r.Get("/invocations/{id}", s.handleGetInvocation)
	r.Get("/invocations/{id}/logs", s.handleInvocationLogs)
	r.Post("/invocations/{id}/cancel", s.handleCancelInvocation)
	r.Get("/invocations/{id}/attempts", s.handleInvocationAttempts)
	r.With(inflight).Post("/invocations/{id}/retry", s.handleRetryInvocation)

	r.Get("/dead-letters", s.handleListDeadLetters)
	r.With(inflight, s.audited(orc.AuditDeadLetterRedrive, "invocation", "")).Post("/dead-letters/redrive", s.handleBulkRedrive)
	r.Get("/dead-letters/{id}", s.handleGetDeadLetter)
	r.With(inflight, s.audited(orc.AuditDeadLetterRedrive, "invocation", "id")).Post("/dead-letters/{id}/redrive", s.handleRedriveDeadLetter)
	r.With(s.audited(orc.AuditDeadLetterDiscard, "invocation", "id")).Delete("/dead-letters/{id}", s.handleDiscardDeadLetter)

	r.With(inflight).Post("/jobs", s.handleCreateJob)
	r.Get("/jobs", s.handleListJobs)
	r.Get("/jobs/{id}", s.handleGetJob)

	r.Get("/cluster", s.handleCluster)
	r.Get("/stats", s.handleStats)
	r.Get("/policy", s.handleGetPolicy)

	r.Get("/hooks", s.handleListHooks)
	r.With(s.audited(orc.AuditHookCreate, "hook", "")).Post("/hooks", s.handleCreateHook)
	r.Get("/hooks/{hook}", s.handleGetHook)
	r.With(s.audited(orc.AuditHookDelete, "hook", "hook")).Delete("/hooks/{hook}", s.handleDeleteHook)

	r.Get("/api-keys", s.handleListAPIKeys)
	r.Post("/api-keys", s.handleCreateAPIKey)
	r.Get("/api-keys/{id}", s.handleGetAPIKey)
	r.Delete("/api-keys/{id}", s.handleRevokeAPIKey)

	r.Group(func(r chi.Router) {
		r.Use(identity.RequireAdmin("manage users, read the audit log or set the policy", s.error))
		r.Get("/users", s.handleListUsers)
		r.Post("/users", s.handleCreateUser)
		r.Get("/users/{id}", s.handleGetUser)
		r.Patch("/users/{id}", s.handleUpdateUser)
		r.Get("/audit", s.handleListAudit)
		r.With(s.audited(orc.AuditPolicyUpdate, "policy", "")).Put("/policy", s.handlePutPolicy)
	})
}

// allowed lists the methods a path is served with, for the Allow header
// of a 405. Every GET route also answers HEAD.
func allowed(routes chi.Routes, path string) []string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := m
		if m == http.MethodHead {
			probe = http.MethodGet
		}
		if routes.Match(chi.NewRouteContext(), probe, path) {
			methods = append(methods, m)
		}
	}
	return methods
}

// recoverer turns a handler's panic into a 500 in the API's error shape,
// with the panic logged and never shown.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "handler panic", "path", r.URL.Path, "panic", v,
					"stack", string(debug.Stack()), "request_id", middleware.GetReqID(r.Context()))
				s.error(w, r, orc.Errorf(orc.EINTERNAL, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request with its status and duration.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		if ww.Status() >= 500 {
			level = slog.LevelWarn
		}
		s.Logger.Log(r.Context(), level, "http request",
			"method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"request_id", middleware.GetReqID(r.Context()),
			"invocation_id", ww.Header().Get(headerInvocationID))
	})
}
