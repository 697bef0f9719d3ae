// Package deploy_test checks the deployment files: compose.yaml is read
// with the Compose Specification's own parser, and what it names must
// exist.
package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/orc-gateway/orc/runtime/docker"
)

// loadCompose parses compose.yaml as `docker compose` does: schema
// validated (an unknown key fails), interpolated, normalized.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "compose.yaml")},
		cli.WithWorkingDirectory(".."), cli.WithEnv(env), cli.WithDiscardEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	want := []string{"postgres", "rabbitmq", "migrate", "ray-head", "ray-worker", "gateway", "scheduler", "register", "echo-image", "processor-image"}
	for _, name := range want {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}

	// Every build is a target of deploy/Dockerfile.
	targets := dockerfileTargets(t, filepath.Join("Dockerfile"))
	for name, s := range p.Services {
		if s.Build == nil {
			continue
		}
		if filepath.Base(s.Build.Dockerfile) != "Dockerfile" || !slices.Contains(targets, s.Build.Target) {
			t.Errorf("%s builds %s target %q; deploy/Dockerfile has %v", name, s.Build.Dockerfile, s.Build.Target, targets)
		}
	}

	// The plugin images are the ones the example plugin.json files name.
	for name, plugin := range map[string]string{"echo-image": "echo", "processor-image": "processor"} {
		if got, want := p.Services[name].Image, pluginImage(t, plugin); got != want {
			t.Errorf("%s builds %s, but plugins/%s/plugin.json runs %s", name, got, plugin, want)
		}
	}

	// Start order: nothing before its dependencies are healthy, the
	// schema migrated, and each dependency checks its health.
	needs := map[string]map[string]string{
		"migrate":    {"postgres": types.ServiceConditionHealthy},
		"gateway":    {"migrate": types.ServiceConditionCompletedSuccessfully, "rabbitmq": types.ServiceConditionHealthy, "ray-head": types.ServiceConditionHealthy},
		"scheduler":  {"migrate": types.ServiceConditionCompletedSuccessfully, "rabbitmq": types.ServiceConditionHealthy, "ray-head": types.ServiceConditionHealthy},
		"ray-worker": {"ray-head": types.ServiceConditionHealthy},
		"register":   {"gateway": types.ServiceConditionHealthy},
	}
	for svc, deps := range needs {
		for dep, cond := range deps {
			if got := p.Services[svc].DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s %q, want %q", svc, dep, got, cond)
			}
			if cond == types.ServiceConditionHealthy && p.Services[dep].HealthCheck == nil {
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", svc, dep)
			}
		}
	}

	// Data survives down and up: in named volumes.
	for svc, dir := range map[string]string{"postgres": "/var/lib/postgresql/data", "rabbitmq": "/var/lib/rabbitmq"} {
		var named bool
		for _, v := range p.Services[svc].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Target == dir {
				_, named = p.Volumes[v.Source]
			}
		}
		if !named {
			t.Errorf("%s keeps %s in no named volume", svc, dir)
		}
	}

	// The Orc processes run hardened; the worker node reaches the warm
	// servers' networks.
	for _, svc := range []string{"gateway", "scheduler", "migrate"} {
		s := p.Services[svc]
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || s.User == "root" {
			t.Errorf("%s is not hardened: read_only %v, cap_drop %v", svc, s.ReadOnly, s.CapDrop)
		}
	}
	for _, net := range []string{docker.WarmNetwork, docker.WarmBridgeNetwork} {
		found := false
		for key, n := range p.Networks {
			if n.Name == net {
				_, found = p.Services["ray-worker"].Networks[key]
			}
		}
		if !found {
			t.Errorf("the ray-worker is not on the network %s", net)
		}
	}

	// Passwords come from the environment when it sets them.
	p = loadCompose(t, "ORC_DB_PASSWORD=s3cret", "ORC_ADMIN_PASSWORD=adm1n")
	if url := *p.Services["gateway"].Environment["ORC_DATABASE_URL"]; !strings.Contains(url, ":s3cret@postgres:5432/") {
		t.Errorf("the gateway's database URL ignores ORC_DB_PASSWORD: %s", url)
	}
	if pw := *p.Services["gateway"].Environment["ORC_ADMIN_PASSWORD"]; pw != "adm1n" {
		t.Errorf("the admin's password ignores ORC_ADMIN_PASSWORD: %s", pw)
	}
}

// TestComposeRefusesTypos: the parser the test relies on refuses what
// docker compose refuses.
func TestComposeRefusesTypos(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(raw), "    healthcheck:\n", "    healthchek:\n", 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")}, cli.WithWorkingDirectory(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "healthchek") {
		t.Errorf("a misspelt key loads: %v", err)
	}
}

// dockerfileTargets lists the stages a Dockerfile names (FROM ... AS x).
func dockerfileTargets(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?mi)^FROM\s+\S+\s+AS\s+(\S+)`).FindAllStringSubmatch(string(raw), -1) {
		out = append(out, m[1])
	}
	return out
}

func pluginImage(t *testing.T, plugin string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "plugins", plugin, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Image string `json:"docker_image"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Image
}
