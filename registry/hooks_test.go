package registry

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// hookStore keeps hooks in memory.
type hookStore struct {
	orc.HookService
	hooks map[string]*orc.Hook
}

func (s *hookStore) ListHooks(ctx context.Context) ([]*orc.Hook, error) {
	var out []*orc.Hook
	for _, h := range s.hooks {
		cp := *h
		cp.Module = nil
		out = append(out, &cp)
	}
	return out, nil
}

func (s *hookStore) FindHook(ctx context.Context, name string) (*orc.Hook, error) {
	if h := s.hooks[name]; h != nil {
		return h, nil
	}
	return nil, orc.Errorf(orc.ENOTFOUND, "hook %q not found", name)
}

// slowHost loads a module only once release is closed; Call answers allow.
type slowHost struct {
	release chan struct{}
	mu      sync.Mutex
	loaded  map[string]string
}

func (h *slowHost) Validate(ctx context.Context, module []byte) error { return nil }
func (h *slowHost) Load(ctx context.Context, name string, module []byte) (string, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loaded[name] = "sha"
	return "sha", nil
}
func (h *slowHost) Unload(name string) {}
func (h *slowHost) Loaded(name string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sha, ok := h.loaded[name]
	return sha, ok
}
func (h *slowHost) Call(ctx context.Context, name string, req *orc.HookRequest) (*orc.HookReply, []string, error) {
	if _, ok := h.Loaded(name); !ok {
		return nil, nil, orc.Errorf(orc.ENOTFOUND, "hook %q is not loaded", name)
	}
	return &orc.HookReply{Allow: false, Status: 451, Message: "global says no"}, nil, nil
}

// A process starts at once however long its hooks take to load, and its
// global hooks run from the first call: a call that needs one not loaded
// yet waits for it, bounded by its own context.
func TestStartDoesNotWaitForLoads(t *testing.T) {
	host := &slowHost{release: make(chan struct{}), loaded: map[string]string{}}
	store := &hookStore{hooks: map[string]*orc.Hook{"policy": {Name: "policy", Global: true, Module: []byte("m")}}}
	h := &Hooks{Store: store, Host: host, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: orc.SystemClock{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Start took %v while a load was stuck", took)
	}
	v := &orc.Version{Plugin: "p", Version: "1"}
	if !h.HasHooks(orc.HookPre, v) {
		t.Fatal("the global hook is not known before it loaded: calls would skip it")
	}
	req := &orc.HookRequest{Phase: orc.HookPre, Input: []byte(`{}`)}
	callCtx, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := h.Run(callCtx, req, v); err == nil {
		t.Fatal("a call ran without the global hook, which was still loading")
	}
	close(host.release)
	_, err := h.Run(ctx, req, v)
	if orc.ErrorCode(err) != orc.EDENIED {
		t.Fatalf("after the load: %v, want the global hook's denial", err)
	}
}
