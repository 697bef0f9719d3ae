package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNodeEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orc-x", "node.env")
	secrets := map[string]string{"ORC_DATABASE_URL": "postgres://u:secret@db/orc", "ORC_AMQP_URL": "amqp://u:secret@mq/"}
	if err := writeNodeEnv(path, secrets); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
	got, err := readNodeEnv(path)
	if err != nil || len(got) != 2 || got["ORC_DATABASE_URL"] != secrets["ORC_DATABASE_URL"] {
		t.Fatalf("read back %v, %v", got, err)
	}
	// The process's own variables win over the file's.
	t.Setenv(nodeEnvVar, path)
	t.Setenv("ORC_AMQP_URL", "amqp://own/")
	getenv, err := processEnv()
	if err != nil {
		t.Fatal(err)
	}
	if getenv("ORC_DATABASE_URL") != secrets["ORC_DATABASE_URL"] || getenv("ORC_AMQP_URL") != "amqp://own/" {
		t.Errorf("settings: database %q, broker %q", getenv("ORC_DATABASE_URL"), getenv("ORC_AMQP_URL"))
	}
	if err := os.WriteFile(path, []byte("no equals sign\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := processEnv(); err == nil {
		t.Error("a malformed file was read")
	}
	if err := writeNodeEnv(path, map[string]string{"K": "two\nlines"}); err == nil {
		t.Error("a value with a newline was written")
	}
}
