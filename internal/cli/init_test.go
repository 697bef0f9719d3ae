package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginInitGoBuildsOffline checks that a new Go plugin builds and
// passes its own tests with no module proxy and no Orc module: only the
// standard library and the SDK copy.
func TestPluginInitGoBuildsOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	code, out, errOut := runCLI(t, Env{}, "plugin", "init", "--lang", "go", "--dir", dir, "hello")
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"plugin.json", "Dockerfile", "go.mod", "main.go", "main_test.go", "README.md", "plugin/plugin.go", "plugin/exec.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was not written: %v", f, err)
		}
		if !strings.Contains(out, strings.Split(f, "/")[0]) {
			t.Errorf("stdout does not list %s: %q", f, out)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "plugin", "*_test.go")); len(matches) > 0 {
		t.Errorf("the SDK's tests were copied: %v", matches)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if string(gomod) != "module hello\n\ngo 1.26\n" {
		t.Errorf("go.mod = %q", gomod)
	}
	checkManifest(t, dir, "hello", "orc-hello:0.1.0", "exec")

	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("vet", "./...")
	goCmd("test", "./...")
	if out := goCmd("run", ".", `{"name": "Ada"}`); !strings.Contains(out, `{"greeting":"Hello, Ada!"}`) {
		t.Errorf("go run printed %q", out)
	}
}

func TestPluginInitPython(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "py")
	code, _, errOut := runCLI(t, Env{}, "plugin", "init", "--lang", "python", "--dir", dir, "--protocol", "http", "--image", "orc-py-hello:1", "py-hello")
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"plugin.json", "Dockerfile", ".dockerignore", "main.py", "test_main.py", "README.md", "orc_plugin/__init__.py"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was not written: %v", f, err)
		}
	}
	m := checkManifest(t, dir, "py-hello", "orc-py-hello:1", "http")
	if m["max_replicas"] != 2.0 || m["min_warm"] != 0.0 {
		t.Errorf("an http plugin.json without its pool sizes: %v", m)
	}
	dockerfile, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	for _, want := range []string{"FROM orc-python-base:bookworm", "COPY orc_plugin /app/orc_plugin", "USER 65534:65534", `ENTRYPOINT ["python3", "/app/main.py"]`} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile has no %q:\n%s", want, dockerfile)
		}
	}

	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the generated tests were not run")
	}
	cmd := exec.Command(python, "-m", "unittest", "-v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	cmd = exec.Command(python, "main.py", `{"name": "Ada"}`)
	cmd.Dir = dir
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != `{"greeting":"Hello, Ada!"}` {
		t.Errorf("python3 main.py: %v, %q", err, out)
	}
}

// checkManifest checks a generated plugin.json and returns it.
func checkManifest(t *testing.T, dir, name, image, protocol string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("plugin.json: %v\n%s", err, data)
	}
	if m["name"] != name || m["version"] != "0.1.0" || m["docker_image"] != image || m["protocol"] != protocol || m["timeout_s"] != 30.0 {
		t.Errorf("plugin.json = %s", data)
	}
	if m["input_schema"] == nil || m["output_schema"] == nil {
		t.Errorf("plugin.json without schemas: %s", data)
	}
	return m
}

func TestPluginInitRefuses(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no lang", []string{"hello"}, 2, "--lang is required"},
		{"unknown lang", []string{"--lang", "rust", "hello"}, 2, `--lang "rust": want go or python`},
		{"bad name", []string{"--lang", "go", "Hello World"}, 2, `plugin name "Hello World"`},
		{"no name", []string{"--lang", "go"}, 2, "missing plugin NAME"},
		{"bad protocol", []string{"--lang", "go", "--protocol", "grpc", "hello"}, 2, `--protocol "grpc"`},
		{"bad image", []string{"--lang", "go", "--image", "a b", "hello"}, 2, `--image "a b"`},
		{"directory not empty", []string{"--lang", "go", "--dir", full, "hello"}, 1, "exists and is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, Env{}, append([]string{"plugin", "init"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(full, "keep.txt")); string(data) != "mine" {
		t.Error("init touched a directory that was not empty")
	}
}
