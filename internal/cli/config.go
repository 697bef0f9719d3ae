package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/orc-gateway/orc/sdk/client"
)

// defaultGatewayURL is the gateway the author commands talk to when
// nothing names another: the one `make run` starts.
const defaultGatewayURL = "http://localhost:5900"

// config is what `orc login` saves for the other author commands.
type config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// configPath returns where the author commands keep their
// configuration: $ORC_CONFIG, else $XDG_CONFIG_HOME/orc/config.json, else
// ~/.config/orc/config.json.
func configPath(env Env) (string, error) {
	if env.ConfigPath != "" {
		return env.ConfigPath, nil
	}
	if env.ConfigHome != "" {
		return filepath.Join(env.ConfigHome, "orc", "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("config file: %w (set ORC_CONFIG)", err)
	}
	return filepath.Join(home, ".config", "orc", "config.json"), nil
}

// loadConfig reads the configuration env names; a missing file is an
// empty one.
func loadConfig(env Env) (config, string, error) {
	var c config
	path, err := configPath(env)
	if err != nil {
		return c, "", err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, path, nil
	}
	if err != nil {
		return c, path, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, path, fmt.Errorf("config %s: %w", path, err)
	}
	return c, path, nil
}

// saveConfig writes the configuration readable by its owner only
// (0600, in a 0700 directory when it makes one), replacing the file in
// one step so that a crash leaves the old token or the new one.
func saveConfig(path string, c config) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// normalizeURL returns a gateway URL without its trailing slash, with
// http:// added when it names no scheme (orc login --url localhost:5900).
func normalizeURL(u string) string {
	u = strings.TrimRight(strings.TrimSpace(u), "/")
	if u != "" && !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return u
}

// gatewayURL picks the gateway: --url, then ORC_URL, then the saved one,
// then the local default.
func gatewayURL(flagURL string, env Env, saved config) string {
	for _, u := range []string{flagURL, env.URL, saved.URL} {
		if u != "" {
			return normalizeURL(u)
		}
	}
	return defaultGatewayURL
}

// apiClient returns a client of the gateway the command should talk to,
// with the token for it: ORC_TOKEN, else the token `orc login` saved for
// that same gateway (a token is never sent to another one).
func apiClient(env Env, flagURL string) (*client.Client, error) {
	saved, _, err := loadConfig(env)
	if err != nil {
		return nil, err
	}
	u := gatewayURL(flagURL, env, saved)
	token := env.Token
	if token == "" && normalizeURL(saved.URL) == u {
		token = saved.Token
	}
	if token == "" {
		hint := "orc login"
		if u != defaultGatewayURL {
			hint += " --url " + u
		}
		return nil, fmt.Errorf("not signed in to %s: run %s (or set ORC_TOKEN)", u, hint)
	}
	return newAPIClient(u, token)
}

// newAPIClient returns a client that says it is the CLI.
func newAPIClient(u, token string) (*client.Client, error) {
	return client.New(u, token, client.WithUserAgent("orc-cli/"+Version))
}
