package hooks

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks/wasmbin"
)

// pool keeps the instances of one compiled module. An instance serves one
// call at a time; at most cap(slots) exist at once. Instances are made
// lazily, reused last-in first-out (the warmest first), and discarded after
// any failure, since a trapped or interrupted guest's state is unknown.
type pool struct {
	host     *Host
	compiled wazero.CompiledModule
	slots    chan struct{} // one token per instance in use

	mu     sync.Mutex
	idle   []*instance
	closed bool
}

func newPool(h *Host, compiled wazero.CompiledModule, max int) *pool {
	return &pool{host: h, compiled: compiled, slots: make(chan struct{}, max)}
}

// seed adds a ready instance made outside a call.
func (p *pool) seed(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		inst.close()
		return
	}
	p.idle = append(p.idle, inst)
}

// close closes the idle instances; busy ones are closed when they return.
func (p *pool) close(context.Context) {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}

// get returns an instance for one call, waiting at most timeout for a free
// slot. Its errors are in the pool's terms; call turns them into the
// caller's.
func (p *pool) get(ctx context.Context, timeout time.Duration) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		wait := time.NewTimer(timeout)
		defer wait.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-wait.C:
			return nil, errWaitTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, errUnloaded
	}
	var inst *instance
	if n := len(p.idle); n > 0 {
		inst = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if inst != nil {
		return inst, nil
	}
	inst, err := p.instantiate(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return inst, nil
}

// put returns an instance after a call; a broken one is closed, freeing its
// slot for a new one.
func (p *pool) put(inst *instance, broken bool) {
	p.mu.Lock()
	if broken || p.closed {
		p.mu.Unlock()
		inst.close()
	} else {
		p.idle = append(p.idle, inst)
		p.mu.Unlock()
	}
	<-p.slots
}

// instantiate starts a new instance and runs the guest's _initialize, if
// it exports one, under a deadline.
func (p *pool) instantiate(ctx context.Context) (*instance, error) {
	out := newOutput(maxOutput)
	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous, so that one module has many instances
		WithStartFunctions(). // _initialize runs below, under the deadline
		WithStdout(out).
		WithStderr(out)
	mod, err := p.host.runtime.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, err
	}
	inst := &instance{
		kind:  p.host.cfg.timer,
		mod:   mod,
		mem:   mod.Memory(),
		alloc: mod.ExportedFunction("orc_alloc"),
		hook:  mod.ExportedFunction("orc_hook"),
		out:   out,
	}
	if inst.kind == timerInterrupt {
		inst.flag, _ = mod.ExportedGlobal(wasmbin.InterruptExport).(api.MutableGlobal)
		inst.timer = time.AfterFunc(time.Hour, inst.interrupt)
		inst.timer.Stop()
	}
	if inst.mem == nil || inst.alloc == nil || inst.hook == nil || (inst.kind == timerInterrupt && inst.flag == nil) {
		inst.close()
		return nil, errors.New("the instance lacks the ABI's exports")
	}
	if start := mod.ExportedFunction("_initialize"); start != nil {
		timeout := max(p.host.cfg.Timeout, minStartTimeout)
		callCtx := inst.arm(ctx, timeout)
		err := start.CallWithStack(callCtx, inst.stack[:])
		inTime := inst.disarm()
		switch {
		case !inTime && ctx.Err() != nil:
			err = ctx.Err()
		case !inTime:
			err = errors.New("_initialize timed out after " + timeout.String())
		case err != nil:
			err = errors.New("_initialize failed: " + inst.trap(ctx, err).Error())
		}
		if err != nil {
			inst.close()
			return nil, err
		}
	}
	out.reset()
	return inst, nil
}

// instance is one instantiated module with its own output buffer and
// deadline.
type instance struct {
	kind  timerKind
	mod   api.Module
	mem   api.Memory
	alloc api.Function
	hook  api.Function
	out   *output
	stack [2]uint64

	flag   api.MutableGlobal // orc_interrupt (timerInterrupt)
	timer  *time.Timer       // sets flag at the deadline (timerInterrupt)
	cancel context.CancelFunc
}

func (i *instance) close() {
	if i.timer != nil {
		i.timer.Stop()
	}
	_ = i.mod.Close(context.Background())
}

// interrupt makes the guest trap at its next function entry or loop header.
func (i *instance) interrupt() { i.flag.Set(1) }

// arm starts the deadline of a guest call, timeout from now or ctx's
// deadline if sooner, and returns the context to call the guest with.
// disarm must follow.
func (i *instance) arm(ctx context.Context, timeout time.Duration) context.Context {
	switch i.kind {
	case timerInterrupt:
		if d, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(d))
		}
		i.timer.Reset(timeout)
	case timerContext:
		ctx, i.cancel = context.WithTimeout(ctx, timeout)
	}
	return ctx
}

// disarm ends the deadline of a guest call and reports whether the call
// ended before it. When it did not, the guest may be interrupted at any
// point from now on, so the instance must be discarded.
func (i *instance) disarm() bool {
	switch i.kind {
	case timerInterrupt:
		return i.timer.Stop()
	case timerContext:
		i.cancel()
	}
	return true
}

// errors in the pool's terms, turned into *orc.Error by call.
var (
	errWaitTimeout = errors.New("no free instance")
	errUnloaded    = errors.New("unloaded")
)

// call runs one request through an instance of the pool.
func (p *pool) call(ctx context.Context, name string, req *orc.HookRequest) (*orc.HookReply, []string, error) {
	in, err := encodeRequest(req)
	if err != nil {
		return nil, nil, orc.WrapError(orc.EINVALID, err, "hook "+quote(name)+" got an invalid request")
	}
	defer in.free()

	timeout := p.host.cfg.Timeout
	inst, err := p.get(ctx, timeout)
	switch {
	case errors.Is(err, errWaitTimeout):
		return nil, nil, timedOut(name, timeout, "waiting for a free instance")
	case errors.Is(err, errUnloaded):
		return nil, nil, orc.Errorf(orc.ENOTFOUND, "hook %q is not loaded", name)
	case err != nil && ctx.Err() != nil:
		return nil, nil, canceled(name, ctx.Err())
	case err != nil:
		p.host.cfg.Logger.Warn("hook instance failed to start", "hook", name, "invocation_id", req.InvocationID, "err", err)
		return nil, nil, failed(name, err.Error(), err)
	}

	raw, err := inst.run(ctx, timeout, in.b)
	var reply *orc.HookReply
	if err == nil {
		// Decoded before the instance goes back: raw is a view of its memory.
		reply, err = decodeReply(raw)
		if err != nil {
			err = invalidReply(name, err)
		}
	}
	lines := inst.out.lines()
	inst.out.reset()
	var broken bool
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) {
			broken = true
			err = ce.public(name, timeout, ctx)
			p.host.cfg.Logger.Warn("hook instance discarded", "hook", name, "invocation_id", req.InvocationID, "err", err)
		}
	}
	p.put(inst, broken)
	if err != nil {
		return nil, lines, err
	}
	return reply, lines, nil
}

// callError is a failure of the guest during a call; the instance that had
// it is discarded.
type callError struct {
	timedOut bool   // the deadline closed the instance
	canceled bool   // the caller's context closed the instance
	reason   string // short, safe to show
	err      error
}

func (e *callError) Error() string { return e.reason }

func (e *callError) public(name string, timeout time.Duration, ctx context.Context) error {
	switch {
	case e.canceled:
		return canceled(name, ctx.Err())
	case e.timedOut:
		return timedOut(name, timeout, "")
	}
	return failed(name, e.reason, e.err)
}

// run writes the request into the guest and calls orc_hook under the
// deadline. The returned bytes are a view of guest memory, valid until the
// instance's next call.
func (i *instance) run(ctx context.Context, timeout time.Duration, req []byte) ([]byte, error) {
	callCtx := i.arm(ctx, timeout)
	err := i.invoke(callCtx, req)
	if !i.disarm() {
		if ctx.Err() != nil {
			return nil, &callError{canceled: true, reason: "canceled", err: err}
		}
		return nil, &callError{timedOut: true, reason: "timed out", err: err}
	}
	if err != nil {
		return nil, err
	}
	packed := i.stack[0]
	reply, ok := i.mem.Read(uint32(packed>>32), uint32(packed))
	if !ok {
		return nil, &callError{reason: "orc_hook returned a reply out of memory"}
	}
	return reply, nil
}

// invoke is orc_alloc, the copy of the request, and orc_hook.
func (i *instance) invoke(ctx context.Context, req []byte) error {
	i.stack[0] = uint64(len(req))
	if err := i.alloc.CallWithStack(ctx, i.stack[:]); err != nil {
		return i.trap(ctx, err)
	}
	ptr := uint32(i.stack[0])
	if !i.mem.Write(ptr, req) {
		return &callError{reason: "orc_alloc returned a pointer out of memory"}
	}
	i.stack[0], i.stack[1] = uint64(ptr), uint64(len(req))
	if err := i.hook.CallWithStack(ctx, i.stack[:]); err != nil {
		return i.trap(ctx, err)
	}
	return nil
}

// trap turns the error of a guest call into a callError.
func (i *instance) trap(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &callError{canceled: true, reason: "canceled", err: err}
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &callError{timedOut: true, reason: "timed out", err: err}
		case sys.ExitCodeContextCanceled:
			return &callError{canceled: true, reason: "canceled", err: err}
		}
	}
	return &callError{reason: trapReason(err, i.out.text()), err: err}
}
