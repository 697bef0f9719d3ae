package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// nodeEnvVar names the file of settings that a process Ray starts (a
// worker replica, a ray-job's entrypoint) reads on its node: the database
// and broker URLs, with their passwords, stay out of Ray's job records,
// which its dashboard shows to anyone who reaches it.
const nodeEnvVar = "ORC_ENV_FILE"

// processEnv returns the environment of this process as ORC_* settings
// see it: the process's own variables, over those of the file that
// ORC_ENV_FILE names, if any.
func processEnv() (func(string) string, error) {
	path := os.Getenv(nodeEnvVar)
	if path == "" {
		return os.Getenv, nil
	}
	file, err := readNodeEnv(path)
	if err != nil {
		return nil, err
	}
	return func(k string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return file[k]
	}, nil
}

// readNodeEnv reads a file of KEY=VALUE lines (# comments and blank lines
// allowed).
func readNodeEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nodeEnvVar, err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %s line %d: want KEY=VALUE", nodeEnvVar, path, n)
		}
		env[k] = v
	}
	return env, sc.Err()
}

// writeNodeEnv writes env to path, readable by its owner only (and the
// folder it makes, 0700), replacing what was there at once.
func writeNodeEnv(path string, env map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by orc scheduler: the settings of the processes Ray starts on this node.\n")
	for _, k := range keys {
		if strings.ContainsAny(env[k], "\n\r") {
			return fmt.Errorf("%s: a value of %s spans lines", path, k)
		}
		b.WriteString(k + "=" + env[k] + "\n")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".node-env-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
