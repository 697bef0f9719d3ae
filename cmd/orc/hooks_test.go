package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// wasmDir holds the hook modules the tests build, once per test binary.
var (
	wasmOnce sync.Once
	wasmDir  string
	wasmErr  error
)

// hookModule returns a built hook module: an example (validator, canary,
// redactor), the raw misbehaving guest of the hooks package's tests, or
// "noabi", a wasip1 program without the hook exports.
func hookModule(t testing.TB, name string) []byte {
	t.Helper()
	wasmOnce.Do(func() {
		wasmDir, wasmErr = os.MkdirTemp("", "orc-hooks-")
		if wasmErr != nil {
			return
		}
		noabi := filepath.Join(wasmDir, "noabi")
		os.MkdirAll(noabi, 0o755)
		os.WriteFile(filepath.Join(noabi, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
		os.WriteFile(filepath.Join(noabi, "go.mod"), []byte("module noabi\n\ngo 1.26\n"), 0o644)
		builds := []struct{ out, dir, mode string }{
			{"validator", "../../hooks/examples/validator", "c-shared"},
			{"canary", "../../hooks/examples/canary", "c-shared"},
			{"redactor", "../../hooks/examples/redactor", "c-shared"},
			{"guest", "../../hooks/testdata/guest", "c-shared"},
			{"noabi", noabi, "exe"},
		}
		for _, b := range builds {
			cmd := exec.Command("go", "build", "-buildmode="+b.mode, "-trimpath", "-o", filepath.Join(wasmDir, b.out+".wasm"), ".")
			cmd.Dir = b.dir
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				wasmErr = fmt.Errorf("build %s: %v\n%s", b.out, err, out)
				return
			}
		}
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	b, err := os.ReadFile(filepath.Join(wasmDir, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadHook uploads a module and returns the response.
func (s *stack) uploadHook(name string, module []byte, query string) *response {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.gw.URL()+"/api/v1/hooks?name="+name+query, bytes.NewReader(module))
	req.Header.Set("Content-Type", "application/wasm")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (s *stack) mustUploadHook(name string, query string) {
	s.t.Helper()
	if resp := s.uploadHook(name, hookModule(s.t, name), query); resp.status != http.StatusCreated {
		s.t.Fatalf("upload %s: %d %s", name, resp.status, resp.body)
	}
}

func echoWithHooks(t testing.TB, name, version string, pre, post []string) map[string]any {
	return manifest(t, "echo", func(m map[string]any) {
		m["name"], m["version"] = name, version
		m["hooks"] = map[string]any{"pre": pre, "post": post}
	})
}

func TestHookUploadValidation(t *testing.T) {
	s := newStack(t, nil, true)
	if resp := s.uploadHook("junk", []byte("not wasm at all"), ""); resp.status != http.StatusBadRequest {
		t.Fatalf("not wasm: %d %s", resp.status, resp.body)
	}
	resp := s.uploadHook("noabi", hookModule(t, "noabi"), "")
	if resp.status != http.StatusBadRequest || !strings.Contains(string(resp.body), "orc_") {
		t.Fatalf("module without the ABI: %d %s", resp.status, resp.body)
	}
	// A module whose _initialize refuels the instrumenter's fuel global in
	// a loop (global.set 0, a global it does not define) would run for ever
	// at its load, and freeze the gateway: it is refused before it runs.
	refuel := []byte("\x00asm\x01\x00\x00\x00\x01\x0f\x03`\x01\x7f\x01\x7f`\x02\x7f\x7f\x01~`\x00\x00\x03\x04\x03\x00\x01\x02" +
		"\x05\x03\x01\x00\x01\a/\x04\torc_alloc\x00\x00\borc_hook\x00\x01\v_initialize\x00\x02\x06memory\x02\x00" +
		"\n\x19\x03\x04\x00A\x00\v\x04\x00B\x00\v\r\x00\x03@A\x90\xce\x00$\x00\f\x00\v\v")
	resp = s.uploadHook("refuel", refuel, "")
	if resp.status != http.StatusBadRequest || !strings.Contains(string(resp.body), "does not define") {
		t.Fatalf("a module that refuels itself: %d %s", resp.status, resp.body)
	}
	s.mustUploadHook("validator", "")
	if resp := s.uploadHook("validator", hookModule(t, "validator"), ""); resp.status != http.StatusConflict {
		t.Fatalf("same name again: %d", resp.status)
	}
	// A version may only name hooks that exist.
	if resp := s.do("POST", "/api/v1/plugins", echoWithHooks(t, "e", "1.0.0", []string{"nope"}, nil)); resp.status != http.StatusBadRequest {
		t.Fatalf("unknown hook: %d %s", resp.status, resp.body)
	}
	s.register(echoWithHooks(t, "e", "1.0.0", []string{"validator"}, nil))
	if resp := s.do("DELETE", "/api/v1/hooks/validator", nil); resp.status != http.StatusConflict {
		t.Fatalf("delete a hook in use: %d %s", resp.status, resp.body)
	}
	var list []orc.Hook
	s.do("GET", "/api/v1/hooks", nil).json(t, &list)
	if len(list) != 1 || list[0].Name != "validator" || len(list[0].SHA256) != 64 {
		t.Fatalf("hooks = %+v", list)
	}
}

func TestPreHooks(t *testing.T) {
	s := newStack(t, nil, false)
	for _, h := range []string{"validator", "guest", "canary"} {
		s.mustUploadHook(h, "")
	}
	s.register(echoWithHooks(t, "orders", "1.0.0", []string{"validator"}, nil))
	s.register(echoWithHooks(t, "rewritten", "1.0.0", []string{"guest"}, nil))
	s.register(echoWithHooks(t, "split", "1.0.0", []string{"canary"}, nil))
	s.register(echoWithHooks(t, "split", "2.0.0", []string{"canary"}, nil))
	// split's latest is now 2.0.0; pin the stable line explicitly.

	t.Run("deny", func(t *testing.T) {
		resp := s.do("POST", "/invoke/orders", `{"start_date": "2026-12-01", "end_date": "2026-11-01"}`)
		if resp.status != 422 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		e := resp.apiError(t)
		if e.Error.Code != orc.EDENIED || !strings.Contains(e.Error.Message, "start_date") || e.Error.InvocationID == "" {
			t.Fatalf("error = %s", resp.body)
		}
		inv := s.waitFor(e.Error.InvocationID, time.Second, terminal)
		if inv.Status != orc.StatusRejected {
			t.Fatalf("recorded as %s, want rejected", inv.Status)
		}
		if resp := s.do("POST", "/invoke/orders", `{"start_date": "2026-11-01", "end_date": "2026-12-01"}`); resp.status != http.StatusOK {
			t.Fatalf("a valid order: %d %s", resp.status, resp.body)
		}
	})
	t.Run("rewrite", func(t *testing.T) {
		resp := s.do("POST", "/invoke/rewritten", `{"do": "rewrite", "n": 1}`)
		var out struct {
			Rewritten bool            `json:"rewritten"`
			Was       json.RawMessage `json:"was"`
		}
		resp.json(t, &out)
		if resp.status != http.StatusOK || !out.Rewritten || !strings.Contains(string(out.Was), `"n"`) {
			t.Fatalf("the plugin did not see the rewritten input: %d %s", resp.status, resp.body)
		}
	})
	t.Run("route", func(t *testing.T) {
		routed := ""
		for i := 0; i < 200 && routed == ""; i++ {
			key := fmt.Sprintf("user-%d", i)
			resp := s.do("POST", "/invoke/split?version=1.0.0", `{"k": 1}`, "X-Canary-Key", key)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			if resp.header.Get("X-Orc-Version") == "2.0.0" {
				routed = key
				inv := s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal)
				if inv.Version != "2.0.0" {
					t.Fatalf("the invocation records version %s", inv.Version)
				}
			}
		}
		if routed == "" {
			t.Fatal("no key of 200 was routed to the canary")
		}
		// The split is stable for a key.
		for i := 0; i < 3; i++ {
			resp := s.do("POST", "/invoke/split?version=1.0.0", `{"k": 1}`, "X-Canary-Key", routed)
			if resp.header.Get("X-Orc-Version") != "2.0.0" {
				t.Fatalf("key %s went to %s on try %d", routed, resp.header.Get("X-Orc-Version"), i)
			}
		}
	})
	t.Run("runaway hook", func(t *testing.T) {
		var wg sync.WaitGroup
		var other *response
		wg.Add(1)
		go func() {
			defer wg.Done()
			other = s.do("POST", "/invoke/rewritten", `{"do": "allow"}`)
		}()
		start := time.Now()
		resp := s.do("POST", "/invoke/rewritten", `{"do": "loop"}`)
		took := time.Since(start)
		wg.Wait()
		if resp.status != http.StatusBadGateway || resp.apiError(t).Error.Code != orc.EHOOK || !strings.Contains(string(resp.body), "timed out") {
			t.Fatalf("looping hook: %d %s", resp.status, resp.body)
		}
		if took > 2*time.Second {
			t.Fatalf("a looping hook held the request %s", took)
		}
		if other.status != http.StatusOK {
			t.Fatalf("another invocation during the loop: %d %s", other.status, other.body)
		}
		resp = s.do("POST", "/invoke/rewritten", `{"do": "alloc"}`)
		if resp.status != http.StatusBadGateway || resp.apiError(t).Error.Code != orc.EHOOK {
			t.Fatalf("allocating hook: %d %s", resp.status, resp.body)
		}
		if resp := s.do("POST", "/invoke/rewritten", `{"do": "rewrite"}`); resp.status != http.StatusOK {
			t.Fatalf("the hook after its failures: %d %s", resp.status, resp.body)
		}
	})
	t.Run("route to a pool nobody serves", func(t *testing.T) {
		// The guest routes {"do": "route"} to version 2.0.0 in pool "gpu".
		s.register(echoWithHooks(t, "rewritten", "2.0.0", []string{"guest"}, nil))
		resp := s.do("POST", "/invoke/rewritten?version=1.0.0", `{"do": "route"}`, "Prefer", "respond-async")
		if resp.status != http.StatusBadGateway || !strings.Contains(string(resp.body), `pool \"gpu\"`) {
			t.Fatalf("route to an unserved pool: %d %s", resp.status, resp.body)
		}
	})
}

func TestPostHookAndGlobalHook(t *testing.T) {
	t.Parallel()
	s := newStack(t, nil, false)
	s.mustUploadHook("redactor", "")
	s.register(echoWithHooks(t, "contacts", "1.0.0", nil, []string{"redactor"}))
	resp := s.do("POST", "/invoke/contacts", `{"owner": "alice@example.com", "notes": ["mail bob@example.org"]}`)
	if resp.status != http.StatusOK || strings.Contains(string(resp.body), "alice@") || !strings.Contains(string(resp.body), "a***@example.com") {
		t.Fatalf("redacted output: %d %s", resp.status, resp.body)
	}
	inv := s.waitFor(resp.header.Get("X-Orc-Invocation-Id"), time.Second, terminal)
	if strings.Contains(string(inv.Output), "alice@") {
		t.Fatalf("the stored output is not redacted: %s", inv.Output)
	}

	// A global hook runs for a plugin that names none.
	s.register(manifest(t, "echo", nil))
	if resp := s.uploadHook("validator", hookModule(t, "validator"), "&global=true"); resp.status != http.StatusCreated {
		t.Fatalf("global upload: %d %s", resp.status, resp.body)
	}
	if resp := s.do("POST", "/invoke/echo", `{"start_date": "2026-12-01", "end_date": "2026-11-01"}`); resp.status != 422 {
		t.Fatalf("global validator: %d %s", resp.status, resp.body)
	}
	dev := s.addUser("dev@example.com", orc.RoleDeveloper)
	req, _ := http.NewRequest("POST", s.gw.URL()+"/api/v1/hooks?name=g2&global=true", bytes.NewReader(hookModule(t, "validator")))
	req.Header.Set("Authorization", "Bearer "+dev)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("a developer uploads a global hook: %d", r.StatusCode)
	}
	if resp := s.do("DELETE", "/api/v1/hooks/validator", nil); resp.status != http.StatusNoContent {
		t.Fatalf("delete the global hook: %d %s", resp.status, resp.body)
	}
	// The gateway drops it at once; a worker that loaded it as a global
	// post hook drops it at its next sync (hookSyncEvery).
	deadline := time.Now().Add(hookSyncEvery + 5*time.Second)
	for {
		resp := s.do("POST", "/invoke/echo", `{"start_date": "2026-12-01", "end_date": "2026-11-01"}`)
		if resp.status == http.StatusOK {
			break
		}
		if resp.status != http.StatusBadGateway || time.Now().After(deadline) {
			t.Fatalf("after deleting the global hook: %d %s", resp.status, resp.body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
