// Package testenv finds the real services (PostgreSQL, RabbitMQ, Docker)
// that integration tests run against. deploy/local/services.sh starts them.
//
// A missing service fails the test: integration tests never skip silently.
// Only `go test -short` skips them, for a quick run of the unit tests.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Default addresses, as deploy/local/services.sh sets them up.
const (
	DefaultDatabaseURL = "postgres://orc:orc@127.0.0.1:5432/orc?sslmode=disable"
	DefaultAMQPURL     = "amqp://orc:orc@127.0.0.1:5672/"
)

// Integration marks a test as needing the real services: it is skipped
// under -short and runs (and fails when a service is missing) otherwise.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs PostgreSQL, RabbitMQ and Docker (run without -short)")
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Suffix returns a random lowercase hex string for unique names.
func Suffix() string {
	b := make([]byte, 5)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// DatabaseURL creates an empty database for the test, drops it when the test
// ends, and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	Integration(t)
	base := env("ORC_DATABASE_URL", DefaultDatabaseURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at ORC_DATABASE_URL (run deploy/local/services.sh): %v", err)
	}
	defer conn.Close(context.Background())
	name := "orc_test_" + Suffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse ORC_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// AMQPURL returns the URL of the test broker.
func AMQPURL(t testing.TB) string {
	t.Helper()
	Integration(t)
	return env("ORC_AMQP_URL", DefaultAMQPURL)
}

// Docker fails the test unless the Docker engine answers.
func Docker(t testing.TB) {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("the Docker engine is not reachable (run deploy/local/services.sh): %v: %s", err, out)
	}
}

// Image fails the test unless the image exists in the local engine.
func Image(t testing.TB, ref string) {
	t.Helper()
	Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput(); err != nil {
		t.Fatalf("image %s is missing (run `make images`): %s", ref, strings.TrimSpace(string(out)))
	}
}

// PodmanImage makes sure an image built for Docker (make images) is in
// Podman's storage too, copying it over (docker save | podman load) when it
// is not. Podman missing fails the test: deploy/local/services.sh installs
// it.
func PodmanImage(t testing.TB, ref string) {
	t.Helper()
	Image(t, ref)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("podman is missing (run deploy/local/services.sh): %v", err)
	}
	if exec.Command("podman", "image", "exists", ref).Run() == nil {
		return
	}
	load := exec.Command("sh", "-c", `docker save "$1" | podman load -q`, "sh", ref)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("copy image %s to podman: %v %s", ref, err, out)
	}
}

// DefaultRayAddress is the Ray dashboard deploy/local/services.sh starts.
const DefaultRayAddress = "http://127.0.0.1:8265"

// RayAddress returns the Ray dashboard's address, failing the test when it
// does not answer.
func RayAddress(t testing.TB) string {
	t.Helper()
	Integration(t)
	addr := env("ORC_RAY_ADDRESS", DefaultRayAddress)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(strings.TrimRight(addr, "/") + "/api/version")
	if err != nil {
		t.Fatalf("the Ray dashboard is not reachable at ORC_RAY_ADDRESS (run deploy/local/services.sh): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the Ray dashboard at %s answered %s", addr, resp.Status)
	}
	return addr
}
