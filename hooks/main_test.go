package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks/internal/wasmtest"
)

// workDir holds the guests built for the tests, outside the repository.
var workDir string

// cacheDir is the compilation cache the tests' hosts share. It persists
// across runs (in the user's cache directory, like Go's build cache):
// compiling a Go guest takes 0.4 s, but 15 s under -race, where wazero's
// compiler is instrumented. wazero keys it by its version and the module.
var cacheDir string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "orc-hooks-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	workDir = dir
	cacheDir = filepath.Join(dir, "cache")
	if userCache, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(userCache, "orc", "hooks-test-wazero")
	}
	return m.Run()
}

// guest builds the Go package pkg (relative to this directory) as a hook,
// once per test binary, and returns the module.
func guest(tb testing.TB, pkg string) []byte {
	tb.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		out := filepath.Join(workDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg)+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %v\n%s", pkg, err, msg)
			return
		}
		b.bin, b.err = os.ReadFile(out)
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.bin
}

var builds sync.Map // package -> *build

type build struct {
	once sync.Once
	bin  []byte
	err  error
}

const rawGuest = "./testdata/guest"

// newHost returns a Host closed at the end of the test. Hosts share an
// on-disk compilation cache, so that a guest is compiled once per run.
func newHost(tb testing.TB, cfg Config) *Host {
	tb.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = cacheDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return h
}

// load loads the hook built from pkg as name.
func load(tb testing.TB, h *Host, name, pkg string) {
	tb.Helper()
	if _, err := h.Load(context.Background(), name, guest(tb, pkg)); err != nil {
		tb.Fatal(err)
	}
}

// preRequest returns a pre request with input.
func preRequest(id, input string) *orc.HookRequest {
	return &orc.HookRequest{
		Phase:        orc.HookPre,
		InvocationID: id,
		Plugin:       orc.HookPlugin{Name: "classifier", Version: "1.0.0"},
		Principal:    orc.HookPrincipal{Subject: "alice", Roles: []string{"developer"}},
		Headers:      map[string]string{"content-type": "application/json"},
		Input:        json.RawMessage(input),
	}
}

// do runs the raw guest's behaviour named do.
func do(h *Host, name, do string) (*orc.HookReply, []string, error) {
	return h.Call(context.Background(), name, preRequest("inv-"+do, `{"do":"`+do+`"}`))
}

// wantError fails unless err is an *orc.Error with code and message.
func wantError(tb testing.TB, err error, code, message string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want %s %q", code, message)
	}
	if got := orc.ErrorCode(err); got != code {
		tb.Errorf("code %q, want %q (error: %v)", got, code, err)
	}
	if got := orc.ErrorMessage(err); got != message {
		tb.Errorf("message %q, want %q", got, message)
	}
}

// Value types, for modules written with wasmtest.
const (
	i32 = wasmtest.I32
	i64 = wasmtest.I64
)
