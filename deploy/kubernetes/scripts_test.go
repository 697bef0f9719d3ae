package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeEnvScript runs the Ray worker pods' node-env script as its init
// container does and reads what it wrote as orc reads ORC_ENV_FILE: one
// KEY=VALUE a line, readable by its owner only.
func TestNodeEnvScript(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.env")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"ORC_NODE_ENV_FILE=" + file,
		"ORC_DATABASE_URL=postgres://orc:p%40ss$word@db:5432/orc?sslmode=require",
		"ORC_AMQP_URL=amqp://orc:s3cret`x`@mq:5672/",
		"ORC_PULL=true",
	}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command("sh", append([]string{"scripts/node-env.sh"}, args...)...)
		cmd.Dir = "base"
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// ORC_METRICS_TOKEN? is optional and not set: left out.
	if out, err := run(env, "ORC_DATABASE_URL", "ORC_AMQP_URL", "ORC_PULL", "ORC_METRICS_TOKEN?"); err != nil {
		t.Fatalf("node-env.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := "ORC_DATABASE_URL=postgres://orc:p%40ss$word@db:5432/orc?sslmode=require\n" +
		"ORC_AMQP_URL=amqp://orc:s3cret`x`@mq:5672/\n" +
		"ORC_PULL=true\n"
	if string(b) != want {
		t.Errorf("wrote\n%s\nwant\n%s", b, want)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		says string
	}{
		{"unset", env, []string{"ORC_DOCKER_HOST"}, "ORC_DOCKER_HOST is not set"},
		{"empty", append(env, "ORC_DOCKER_HOST="), []string{"ORC_DOCKER_HOST"}, "ORC_DOCKER_HOST is empty"},
		{"optional, then unset", env, []string{"ORC_METRICS_TOKEN?", "ORC_DOCKER_HOST"}, "ORC_DOCKER_HOST is not set"},
		{"two lines", append(env, "ORC_DOCKER_HOST=a\nORC_X=b"), []string{"ORC_DOCKER_HOST"}, "spans lines"},
		{"not a name", env, []string{"ORC_PULL;rm"}, "is not a variable name"},
		{"nothing to write", env, nil, "name the variables"},
		{"no file", env[:1], []string{"ORC_PULL"}, "ORC_NODE_ENV_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.env, tc.args...)
			if err == nil || !strings.Contains(out, tc.says) {
				t.Errorf("node-env.sh %v: %v, %q; want a failure saying %q", tc.args, err, out, tc.says)
			}
			if b2, _ := os.ReadFile(file); string(b2) != want {
				t.Errorf("a failed run changed the file: %q", b2)
			}
		})
	}
}

// TestDindScriptSyntax parses the dind sidecar's script; it runs only in
// the docker:dind image, with a Docker engine.
func TestDindScriptSyntax(t *testing.T) {
	if out, err := exec.Command("sh", "-n", "base/scripts/dind.sh").CombinedOutput(); err != nil {
		t.Fatalf("sh -n dind.sh: %v\n%s", err, out)
	}
}
