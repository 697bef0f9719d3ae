package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
	"github.com/orc-gateway/orc/internal/testenv"
	"github.com/orc-gateway/orc/store/postgres"
)

func TestParseAppliesEnvironmentUnderFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := newFlagSet("gateway", "", &bytes.Buffer{})
	commonFlags(fs, &cfg)
	fs.StringVar(&cfg.Gateway.Addr, "addr", cfg.Gateway.Addr, "")
	env := map[string]string{"ORC_ADDR": ":7000", "ORC_AMQP_URL": "amqp://env", "ORC_DELIVERY_LIMIT": "9"}
	if err := parse(fs, []string{"--amqp-url", "amqp://flag"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway.Addr != ":7000" || cfg.AMQPURL != "amqp://flag" || cfg.DeliveryLimit != 9 {
		t.Fatalf("config = %+v", cfg)
	}
	bad := DefaultConfig()
	fs = newFlagSet("gateway", "", &bytes.Buffer{})
	commonFlags(fs, &bad)
	if err := parse(fs, nil, func(k string) string {
		if k == "ORC_DELIVERY_LIMIT" {
			return "many"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "ORC_DELIVERY_LIMIT") {
		t.Fatalf("a bad environment value must name its variable: %v", err)
	}
}

func TestRunUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr = %s", errOut.String())
	}
}

// TestRunAuthorCommands checks that run hands the author commands to
// package cli and turns their errors into exit codes as docs/cli.md says: 2
// for a bad command line, 0 for -h, 1 with the message on stderr for a
// failure.
func TestRunAuthorCommands(t *testing.T) {
	cliEnv(t)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"login usage", []string{"login", "extra"}, 2, "orc login: unexpected arguments: extra"},
		{"plugin usage", []string{"plugin"}, 2, "Usage: orc plugin <command>"},
		{"plugin failure", []string{"plugin", "build", t.TempDir()}, 1, "orc: read plugin.json"},
		{"invoke help", []string{"invoke", "-h"}, 0, "Usage: orc invoke"},
		{"invoke failure", []string{"invoke", "hello", "--url", "http://orc.example.com:5900"}, 1, "orc: not signed in to http://orc.example.com:5900"},
		{"logs usage", []string{"logs"}, 2, "missing INVOCATION id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
}

// TestMigrateAndUserCreate runs `orc migrate` and `orc user create --admin`
// as a person would, against a database of its own.
func TestMigrateAndUserCreate(t *testing.T) {
	url := testenv.DatabaseURL(t)
	t.Setenv("ORC_DATABASE_URL", url)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"migrate"}, &out, &errOut); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "applied 0001_init") {
		t.Fatalf("migrate printed %q", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"migrate"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("second migrate: %d %q", code, out.String())
	}

	t.Setenv("ORC_USER_PASSWORD", "s3cret-pass")
	out.Reset()
	if code := run(ctx, []string{"user", "create", "--admin", "--email", "root@example.com"}, &out, &errOut); code != 0 {
		t.Fatalf("user create: %d %s", code, errOut.String())
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.FindUserByEmail(ctx, "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != orc.RoleAdmin || !identity.CheckPassword(u.PasswordHash, "s3cret-pass") || strings.Contains(u.PasswordHash, "s3cret") {
		t.Fatalf("user = %+v", u)
	}
	errOut.Reset()
	if code := run(ctx, []string{"user", "create", "--email", "root@example.com"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "exists") {
		t.Fatalf("duplicate user: %d %s", code, errOut.String())
	}
}
