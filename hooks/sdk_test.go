package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// The Go hook SDK reads requests with scanners written in WebAssembly
// (sdk/hook/scan_wasm.s), which its own tests, run natively, do not reach.
// So its tests run here too, built for wasip1, in wazero: among them
// FuzzScan's seeds, which check every scanner against its Go twin.
func TestSDKInWasm(t *testing.T) {
	sdk, err := filepath.Abs("../sdk/hook")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "hook.test.wasm")
	build := exec.Command("go", "test", "-c", "-o", bin, sdk)
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the SDK's tests for wasip1: %v\n%s", err, out)
	}
	test, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	cfg := wazero.NewRuntimeConfig()
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cache.Close(ctx) })
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { _ = r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var out bytes.Buffer
	_, err = r.InstantiateWithConfig(ctx, test, wazero.NewModuleConfig().
		WithArgs("hook.test", "-test.v").
		WithStdout(&out).WithStderr(&out).
		WithSysWalltime().WithSysNanotime().
		// The package's directory, for its fuzz corpus.
		WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount(sdk, "/")))
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil || !bytes.Contains(out.Bytes(), []byte("\nPASS\n")) {
		t.Fatalf("the SDK's tests in wasm: %v\n%s", err, out.Bytes())
	}
}
