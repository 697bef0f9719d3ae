package hooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/orc-gateway/orc"
)

// Defaults of Config.
const (
	DefaultTimeout       = 100 * time.Millisecond
	DefaultMemoryLimitMB = 64
)

// minStartTimeout bounds the start of an instance (the guest's _initialize)
// when Config.Timeout is shorter: a Go guest needs about 2 ms to start, more
// on a loaded machine, and a start that fails makes every call fail.
const minStartTimeout = time.Second

// Config configures a Host. The zero value is usable: every field has a
// default.
type Config struct {
	// CacheDir keeps compiled modules on disk across restarts (wazero's
	// compilation cache). Empty means in memory only.
	CacheDir string
	// Timeout bounds one call of a hook (the caller's deadline, if sooner,
	// too), and separately the wait for a free instance. Starting an
	// instance, the guest's _initialize, has max(Timeout, 1s). Default
	// 100 ms.
	Timeout time.Duration
	// MemoryLimitMB caps the linear memory of each instance. Default 64.
	MemoryLimitMB int
	// MaxInstances caps the instances of one module; calls beyond it wait for
	// a free one (at most Timeout). Default 2*GOMAXPROCS.
	MaxInstances int
	// Logger receives the host's own events. Default slog.Default().
	Logger *slog.Logger

	// timer picks how a call's deadline stops the guest. Only benchmarks
	// change it, to compare the mechanisms.
	timer timerKind
}

// timerKind is a mechanism that stops a guest at its deadline.
type timerKind int

const (
	// timerInterrupt instruments the module with a check of an exported
	// global at every function entry and loop header (wasmbin.Instrument),
	// and sets the global from a per-instance time.AfterFunc. The default.
	timerInterrupt timerKind = iota
	// timerContext is wazero's own: RuntimeConfig.WithCloseOnContextDone and
	// a context.WithTimeout per call.
	timerContext
	// timerNone cannot stop a guest that runs forever: the floor that
	// benchmarks measure the others against.
	timerNone
)

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryLimitMB <= 0 {
		c.MemoryLimitMB = DefaultMemoryLimitMB
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Host runs hook modules (ABI v1, docs/hooks.md) in one wazero runtime. It
// compiles each module once, keyed by its sha256, and keeps a pool of ready
// instances per module. A Host is safe for concurrent use.
type Host struct {
	cfg     Config
	runtime wazero.Runtime
	// validator checks modules as uploaded, before they are instrumented;
	// it interprets, so it checks without compiling to machine code.
	validator wazero.Runtime
	cache     wazero.CompilationCache
	wasi      map[string]api.FunctionDefinition // the WASI functions a guest may import

	mu      sync.Mutex
	names   map[string]*module // hook name -> module
	modules map[string]*module // sha256 -> module, shared by names
	closed  bool

	compiles atomic.Int64 // modules compiled by Load, for tests
}

// New returns a Host with one wazero runtime configured by cfg.
func New(ctx context.Context, cfg Config) (*Host, error) {
	cfg = cfg.withDefaults()
	pages := uint64(cfg.MemoryLimitMB) << 20 / 65536
	if pages > 65536 {
		return nil, orc.Errorf(orc.EINVALID, "hook memory limit %d MiB is over the 4096 MiB of a 32-bit memory", cfg.MemoryLimitMB)
	}
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(pages)).
		WithCloseOnContextDone(cfg.timer == timerContext)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("hook compilation cache: %w", err)
		}
		cache = c
		rc = rc.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	h := &Host{
		cfg:       cfg,
		runtime:   r,
		validator: wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter()),
		cache:     cache,
		wasi:      r.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions(),
		names:     map[string]*module{},
		modules:   map[string]*module{},
	}
	return h, nil
}

// Close unloads every hook and closes the runtime. Calls in flight fail.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	mods := h.modules
	h.names, h.modules = map[string]*module{}, map[string]*module{}
	h.mu.Unlock()
	for _, m := range mods {
		m.close(ctx)
	}
	err := h.runtime.Close(ctx)
	if verr := h.validator.Close(ctx); err == nil {
		err = verr
	}
	if h.cache != nil {
		if cerr := h.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

// Load makes module callable as name and returns its sha256 (hex). The
// module is validated and compiled once per sha256, shared by every name
// that loads the same bytes, and gets a pool with one ready instance.
// Loading a name again with the same bytes does nothing; with other bytes it
// replaces the module (calls in flight finish on the old one).
//
// # Errors
//
// EINVALID when the module breaks the ABI or its instance fails to start.
func (h *Host) Load(ctx context.Context, name string, bin []byte) (string, error) {
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return "", errClosed
		}
		if cur := h.names[name]; cur != nil && cur.sha == sha {
			h.mu.Unlock()
			return sha, nil
		}
		m := h.modules[sha]
		owner := m == nil
		if owner {
			m = &module{sha: sha, ready: make(chan struct{})}
			h.modules[sha] = m
		}
		h.mu.Unlock()

		if owner {
			m.err = h.prepare(ctx, m, bin)
			close(m.ready)
			if m.err != nil {
				h.mu.Lock()
				if h.modules[sha] == m {
					delete(h.modules, sha)
				}
				h.mu.Unlock()
			}
		}
		select {
		case <-m.ready:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if m.err != nil {
			return "", loadError(name, m.err)
		}

		h.mu.Lock()
		if h.modules[sha] != m {
			// Every name of m went away while this call waited for it.
			h.mu.Unlock()
			continue
		}
		old := h.names[name]
		h.names[name] = m
		m.refs++
		if old != nil {
			h.releaseLocked(ctx, old)
		}
		h.mu.Unlock()
		h.cfg.Logger.Info("hook loaded", "hook", name, "sha256", sha)
		return sha, nil
	}
}

// prepare compiles and checks a module and starts its first instance.
func (h *Host) prepare(ctx context.Context, m *module, module []byte) error {
	bin, err := h.instrumented(module)
	if err != nil {
		return err
	}
	compiled, err := h.compile(ctx, bin)
	if err != nil {
		return err
	}
	h.compiles.Add(1)
	m.compiled = compiled
	m.pool = newPool(h, compiled, h.cfg.MaxInstances)
	inst, err := m.pool.instantiate(ctx)
	if err != nil {
		m.pool.close(ctx)
		_ = compiled.Close(ctx)
		return fmt.Errorf("start: %w", err)
	}
	m.pool.seed(inst)
	return nil
}

// Unload removes name. Calls in flight finish; a module no name uses any
// more is closed.
func (h *Host) Unload(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.names[name]
	if m == nil {
		return
	}
	delete(h.names, name)
	h.releaseLocked(context.Background(), m)
	h.cfg.Logger.Info("hook unloaded", "hook", name, "sha256", m.sha)
}

// releaseLocked drops one name's reference to m. h.mu must be held.
func (h *Host) releaseLocked(ctx context.Context, m *module) {
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(h.modules, m.sha)
	m.close(ctx)
}

// Loaded returns the sha256 of the module loaded as name.
func (h *Host) Loaded(name string) (sha string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.names[name]; m != nil {
		return m.sha, true
	}
	return "", false
}

// Call runs the hook loaded as name on req and returns its reply and the
// lines the guest wrote to stdout and stderr during this call (at most 64
// KiB).
//
// # Errors
//
//   - ENOTFOUND when no hook is loaded as name.
//   - CodeFailed when the hook timed out, trapped, exited or returned an
//     invalid reply; the message says which, and is safe to show.
//   - EINVALID when req's phase is not pre or post, or its input or output
//     is not valid JSON.
//
// # Notes
//
// A ctx that is canceled without a deadline ends the wait for an instance
// but not a running guest, which stops at Timeout at the latest.
func (h *Host) Call(ctx context.Context, name string, req *orc.HookRequest) (*orc.HookReply, []string, error) {
	h.mu.Lock()
	m := h.names[name]
	h.mu.Unlock()
	if m == nil {
		return nil, nil, orc.Errorf(orc.ENOTFOUND, "hook %q is not loaded", name)
	}
	return m.pool.call(ctx, name, req)
}

// module is one compiled module and its instance pool.
type module struct {
	sha   string
	refs  int           // names bound to it, under Host.mu
	ready chan struct{} // closed when compiled (or failed)
	err   error

	compiled wazero.CompiledModule
	pool     *pool
}

func (m *module) close(ctx context.Context) {
	if m.pool != nil {
		m.pool.close(ctx)
	}
	if m.compiled != nil {
		// Safe with instances still running: wazero keeps their code alive.
		_ = m.compiled.Close(ctx)
	}
}
