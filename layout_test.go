package orc_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/orc-gateway/orc"

// layers says which of the project's packages each package may import
// (docs/architecture.md, "Package map"). A package matches the longest
// pattern naming it; "x/..." is x and everything under it. Tests may
// import more.
var layers = map[string][]string{
	// The domain imports nothing of the project.
	".": {},
	// Services: the domain and small internal helpers.
	"invoke":   {".", "internal/jsondepth"},
	"identity": {".", "internal/ttlcache"},
	"registry": {".", "internal/ttlcache", "internal/jsondepth"},
	"runtime":  {".", "internal/jsondepth"},
	// Adapters, named after their technology: the domain only (and their
	// own subpackages).
	"store/postgres/...": {"."},
	"queue/rabbitmq/...": {"."},
	"runtime/docker/...": {".", "internal/capbuf", "internal/containerproto"},
	"runtime/podman/...": {".", "internal/capbuf", "internal/containerproto"},
	// go-plugin's shims serve any driver; the suite tests any driver.
	"runtime/plugin/...":      {".", "runtime/plugin/driverpb"},
	"runtime/drivertest":      {".", "internal/containerproto"},
	"scheduler/ray/...":       {"."},
	"hooks":                   {".", "hooks/wasmbin", "internal/jsondepth"},
	"hooks/wasmbin":           {},
	"hooks/internal/...":      {},
	"internal/ttlcache":       {},
	"internal/jsondepth":      {},
	"internal/capbuf":         {},
	"internal/containerproto": {"."},
	"internal/testenv/...":    {"internal/testenv"},
	// The HTTP edge serves the services.
	"gateway": {".", "invoke", "identity", "registry", "internal/jsondepth"},
	// The web console calls the API in process: it needs the domain's
	// types and identity's sessions, never a store.
	"console":            {".", "identity", "console/schemaform"},
	"console/schemaform": {},
	// The author CLI talks to a gateway through the client SDK.
	"internal/cli": {".", "sdk/..."},
	// SDKs and examples stand on their own.
	"sdk/...":            {".", "sdk/..."},
	"plugins/...":        {"sdk/..."},
	"hooks/examples/...": {"hooks/examples/...", "sdk/..."},
	// Only the binary wires adapters together.
	"cmd/...": {"..."},
	// Deployment files; their tests check the manifests.
	"deploy/...": {},
}

// rel returns a package path relative to the module, "." for the root.
func rel(path string) string {
	if path == module {
		return "."
	}
	return strings.TrimPrefix(path, module+"/")
}

// matches reports whether pattern names the package p, and how
// specifically (the pattern's length), or -1.
func matches(pattern, p string) int {
	if pattern == "..." {
		return 0
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		if p == base || strings.HasPrefix(p, base+"/") {
			return len(base)
		}
		return -1
	}
	if p == pattern {
		return len(pattern) + 1
	}
	return -1
}

// allowed returns the import rules of package p, or nil, false.
func allowed(p string) ([]string, bool) {
	best, rules, found := -1, []string(nil), false
	for pattern, r := range layers {
		if n := matches(pattern, p); n > best {
			best, rules, found = n, r, true
		}
	}
	return rules, found
}

func TestPackageLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	seen := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		p := rel(fields[0])
		rules, ok := allowed(p)
		if !ok {
			t.Errorf("package %s has no place in the package map; add it to layers and docs/architecture.md", p)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep, ok := rel(imp), false
			for _, r := range rules {
				if matches(r, dep) >= 0 {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s imports %s; it may import only %v", p, dep, rules)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("only %d packages checked; go list printed:\n%s", seen, out)
	}
}

func TestLayersMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, p string
		ok         bool
	}{
		{".", ".", true}, {".", "gateway", false},
		{"sdk/...", "sdk", true}, {"sdk/...", "sdk/hook", true}, {"sdk/...", "sdkx", false},
		{"runtime", "runtime/docker", false}, {"...", "anything", true},
	} {
		if got := matches(tc.pattern, tc.p) >= 0; got != tc.ok {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.pattern, tc.p, got, tc.ok)
		}
	}
}
