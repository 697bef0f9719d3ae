package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
)

// WarmConfig tunes the warm pools of http protocol versions. The zero value
// of each field means its default.
type WarmConfig struct {
	// IdleTimeout is how long a server may go unused before it is stopped,
	// down to the version's min_warm (default 5 minutes).
	IdleTimeout time.Duration
	// StartTimeout is how long a new server has to answer GET /healthz
	// (default 60 s: models take time to load).
	StartTimeout time.Duration
}

func (c *WarmConfig) setDefaults() {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
}

// Warm keeps, per version, a pool of plugin servers that speak the http
// protocol: up to max_replicas containers, each taking up to concurrency
// calls at once, at least min_warm of them kept ready, the others stopped
// after IdleTimeout. Calls beyond the pools' capacity wait for a free slot
// (bounded by their timeout), they are not refused.
type Warm struct {
	Servers orc.Servers
	Logger  *slog.Logger
	// Labels are added to every server's container (the worker's id).
	Labels map[string]string
	// Tracer records each call, and each server start, as a span; nil:
	// none. When it records, a call's request carries its
	// traceparent, so that a plugin server may join the trace.
	Tracer trace.Tracer

	cfg    WarmConfig
	client *http.Client

	mu    sync.Mutex
	pools map[int64]*pool
}

// NewWarm returns a Warm that starts servers through s.
func NewWarm(cfg WarmConfig, s orc.Servers, logger *slog.Logger) *Warm {
	cfg.setDefaults()
	return &Warm{Servers: s, Logger: logger, cfg: cfg, pools: map[int64]*pool{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}}
}

// pool is one version's servers.
type pool struct {
	v       *orc.Version
	mu      sync.Mutex
	servers []*server
	// starting counts servers being started; they count against
	// max_replicas. waiting counts calls waiting for a slot.
	starting int
	waiting  int
	// closed is set by Close: a start that finishes afterwards stops its
	// server instead of adding it to a pool nothing tends any more.
	closed bool
	// changed is closed (and replaced) when a slot frees up.
	changed chan struct{}
}

type server struct {
	*orc.PluginServer
	inflight int
	lastUsed time.Time
}

func (w *Warm) poolOf(v *orc.Version) *pool {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pools[v.ID]
	if p == nil {
		p = &pool{v: v, changed: make(chan struct{})}
		w.pools[v.ID] = p
	}
	return p
}

func (p *pool) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// acquire returns a server with a free slot, starting one when the pool
// may grow. cold is the time a start took (0 for a warm server).
func (w *Warm) acquire(ctx context.Context, p *pool) (s *server, cold time.Duration, err error) {
	for {
		p.mu.Lock()
		var best *server
		for _, s := range p.servers {
			if s.inflight < p.v.Concurrency && (best == nil || s.inflight < best.inflight) {
				best = s
			}
		}
		if best != nil {
			best.inflight++
			p.mu.Unlock()
			return best, 0, nil
		}
		// A server that is starting will take calls soon: wait for it
		// rather than start another, unless more calls wait than it takes.
		startingSlots := p.starting * p.v.Concurrency
		if p.waiting < startingSlots {
			goto wait
		}
		if len(p.servers)+p.starting < p.v.MaxReplicas {
			p.starting++
			p.mu.Unlock()
			start := time.Now()
			// The start outlives this caller (its own StartTimeout bounds
			// it): the server serves the calls waiting for it, and the
			// pool warms even when a model loads slower than one call's
			// timeout.
			srv, err := w.start(context.WithoutCancel(ctx), p.v)
			p.mu.Lock()
			p.starting--
			if err == nil && p.closed {
				w.stop(srv, "worker stopping")
				err = orc.Errorf(orc.EUNAVAILABLE, "the worker is stopping")
			}
			if err != nil {
				p.notify()
				p.mu.Unlock()
				return nil, 0, err
			}
			s := &server{PluginServer: srv, inflight: 1, lastUsed: time.Now()}
			p.servers = append(p.servers, s)
			p.notify() // its other slots are free for the waiting calls
			p.mu.Unlock()
			return s, time.Since(start), nil
		}
	wait:
		changed := p.changed
		p.waiting++
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
	}
}

// release gives a slot back; a broken server leaves the pool and stops.
func (w *Warm) release(p *pool, s *server, broken bool) {
	p.mu.Lock()
	s.inflight--
	s.lastUsed = time.Now()
	if broken {
		p.remove(s)
	}
	p.notify()
	p.mu.Unlock()
	if broken {
		w.stop(s.PluginServer, "broken")
	}
}

// remove takes s out of the pool. The caller holds p.mu.
func (p *pool) remove(s *server) {
	for i, x := range p.servers {
		if x == s {
			p.servers = append(p.servers[:i:i], p.servers[i+1:]...)
			return
		}
	}
}

// start starts a server of v and waits until it answers GET /healthz.
func (w *Warm) start(ctx context.Context, v *orc.Version) (_ *orc.PluginServer, err error) {
	ctx, span := w.tracer().Start(ctx, "warm server start")
	defer func() { endSpan(span, err) }()
	labels := map[string]string{"orc.plugin": v.Plugin, "orc.version": v.Version}
	for k, val := range w.Labels {
		labels[k] = val
	}
	srv, err := w.Servers.StartServer(ctx, &orc.ServerSpec{
		Key: strconv.FormatInt(v.ID, 10), Image: v.Image, Env: v.Env,
		Resources: v.Resources, Network: v.Network, Labels: labels,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.StartTimeout)
	defer cancel()
	for {
		if w.healthy(ctx, srv) {
			return srv, nil
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			w.stop(srv, "not ready in time")
			return nil, orc.Errorf(orc.EPLUGIN, "the plugin's container did not become ready within %s", w.cfg.StartTimeout)
		}
	}
}

func (w *Warm) healthy(ctx context.Context, srv *orc.PluginServer) bool {
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(hctx, http.MethodGet, srv.URL+"/healthz", nil)
	resp, err := w.client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (w *Warm) stop(srv *orc.PluginServer, why string) {
	w.Logger.Info("stopping plugin server", "container", srv.ID[:min(12, len(srv.ID))], "why", why)
	if err := w.Servers.StopServer(context.Background(), srv.ID); err != nil {
		w.Logger.Warn("stop plugin server", "err", err)
	}
}

// errorShape is the API's error shape, as plugin servers answer failures.
type errorShape struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Run calls a warm server of v with an input and returns the result in the
// form the exec protocol's runs have: the output as stdout, a failure's
// message as stderr with exit code 1. A server that stops answering is
// replaced; its call fails.
func (w *Warm) Run(ctx context.Context, v *orc.Version, input []byte) (res *orc.ContainerResult, err error) {
	ctx, span := w.tracer().Start(ctx, "warm call")
	defer func() { endRun(span, res, err) }()
	p := w.poolOf(v)
	var (
		s    *server
		resp *http.Response
	)
	// A server that is gone (its container died) refuses the connection:
	// the call never reached it, so it is safe to try another.
	for try := 0; ; try++ {
		var cold time.Duration
		s, cold, err = w.acquire(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return &orc.ContainerResult{TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded), Canceled: errors.Is(ctx.Err(), context.Canceled), ExitCode: -1}, nil
			}
			return nil, err
		}
		res = &orc.ContainerResult{Warm: cold == 0, Cold: cold}
		if ctx.Err() != nil { // the start took the whole time
			w.release(p, s, false)
			res.TimedOut, res.Canceled, res.ExitCode = errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(ctx.Err(), context.Canceled), -1
			return res, nil
		}
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/invoke", bytes.NewReader(input))
		req.Header.Set("Content-Type", "application/json")
		if span.IsRecording() {
			// For plugin servers that trace too.
			propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
		}
		resp, err = w.client.Do(req)
		res.Run = time.Since(start)
		if err == nil || !isDialError(err) || try == 3 {
			break
		}
		w.release(p, s, true)
	}
	if err != nil {
		// A timeout or cancel may leave the server busy with the call. A
		// one-slot server is replaced; one that serves several calls at
		// once keeps serving the others (the health check replaces it if
		// it stopped answering).
		w.release(p, s, ctx.Err() == nil || p.v.Concurrency == 1)
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			res.TimedOut, res.ExitCode = true, -1
		case errors.Is(ctx.Err(), context.Canceled):
			res.Canceled, res.ExitCode = true, -1
		default:
			res.ExitCode, res.Stderr = 1, []byte("the plugin's container stopped answering")
		}
		return res, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20+1))
	resp.Body.Close()
	if err != nil || len(body) > 8<<20 {
		w.release(p, s, err != nil)
		res.StdoutTruncated = true
		return res, nil
	}
	w.release(p, s, false)
	if resp.StatusCode != http.StatusOK {
		var e errorShape
		msg := fmt.Sprintf("the plugin answered %d", resp.StatusCode)
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		res.ExitCode, res.Stderr = 1, []byte(msg)
		return res, nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, body); err != nil {
		res.ExitCode, res.Stderr = 1, []byte("the plugin answered something that is not JSON")
		return res, nil
	}
	out.WriteByte('\n')
	res.Stdout = out.Bytes()
	return res, nil
}

// Tend stops servers idle longer than IdleTimeout (keeping min_warm of each
// version) and starts servers up to min_warm for the given versions.
//
// keepWarm is every version that should stay warm: a pool whose version is
// not in it (an older version, a deleted plugin) keeps nothing warm, so its
// containers stop after IdleTimeout.
func (w *Warm) Tend(ctx context.Context, keepWarm []*orc.Version) {
	kept := make(map[int64]bool, len(keepWarm))
	for _, v := range keepWarm {
		kept[v.ID] = true
		w.poolOf(v)
	}
	w.mu.Lock()
	pools := make([]*pool, 0, len(w.pools))
	for _, p := range w.pools {
		pools = append(pools, p)
	}
	w.mu.Unlock()
	now := time.Now()
	for _, p := range pools {
		minWarm := 0
		if kept[p.v.ID] {
			minWarm = p.v.MinWarm
		}
		p.mu.Lock()
		var idle []*server
		keep := len(p.servers)
		for _, s := range p.servers {
			if keep > minWarm && s.inflight == 0 && now.Sub(s.lastUsed) > w.cfg.IdleTimeout {
				idle = append(idle, s)
				keep--
			}
		}
		for _, s := range idle {
			p.remove(s)
		}
		var check []*server
		for _, s := range p.servers {
			if s.inflight == 0 {
				check = append(check, s)
			}
		}
		missing := minWarm - len(p.servers) - p.starting
		p.starting += max(missing, 0)
		p.mu.Unlock()
		for _, s := range idle {
			w.stop(s.PluginServer, "idle")
		}
		// An idle server that stopped answering is replaced now, not when
		// a call finds it dead.
		var dead int
		for _, s := range check {
			if !w.healthy(ctx, s.PluginServer) {
				p.mu.Lock()
				if s.inflight == 0 {
					p.remove(s)
					dead++
					p.mu.Unlock()
					w.stop(s.PluginServer, "not answering")
					continue
				}
				p.mu.Unlock()
			}
		}
		if dead > 0 {
			p.mu.Lock()
			extra := max(minWarm-len(p.servers)-p.starting, 0)
			p.starting += max(extra, 0)
			missing += max(extra, 0)
			p.mu.Unlock()
		}
		for i := 0; i < missing; i++ {
			srv, err := w.start(ctx, p.v)
			p.mu.Lock()
			p.starting--
			switch {
			case err == nil && p.closed:
				w.stop(srv, "worker stopping")
			case err == nil:
				p.servers = append(p.servers, &server{PluginServer: srv, lastUsed: time.Now()})
			}
			p.notify()
			p.mu.Unlock()
			if err != nil {
				w.Logger.Warn("keep plugin servers warm", "plugin", p.v.Plugin, "version", p.v.Version, "err", err)
			}
		}
	}
}

// Size returns how many servers a version has, for tests and metrics.
func (w *Warm) Size(versionID int64) int {
	w.mu.Lock()
	p := w.pools[versionID]
	w.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.servers)
}

// Total returns how many servers the worker keeps, over every version.
func (w *Warm) Total() int {
	w.mu.Lock()
	pools := make([]*pool, 0, len(w.pools))
	for _, p := range w.pools {
		pools = append(pools, p)
	}
	w.mu.Unlock()
	n := 0
	for _, p := range pools {
		p.mu.Lock()
		n += len(p.servers)
		p.mu.Unlock()
	}
	return n
}

// Close stops every server.
func (w *Warm) Close() {
	w.mu.Lock()
	pools := w.pools
	w.pools = map[int64]*pool{}
	w.mu.Unlock()
	for _, p := range pools {
		p.mu.Lock()
		servers := p.servers
		p.servers, p.closed = nil, true
		p.notify()
		p.mu.Unlock()
		for _, s := range servers {
			w.stop(s.PluginServer, "worker stopping")
		}
	}
}

// isDialError reports whether err happened while connecting, before the
// request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
