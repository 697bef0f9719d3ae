package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// pluginFile is the fields of a plugin.json the author commands use. The
// gateway checks the rest.
type pluginFile struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Image   string `json:"docker_image"`
}

// readPluginFile reads DIR/plugin.json and returns its fields and its
// bytes.
func readPluginFile(dir string) (*pluginFile, []byte, error) {
	path := filepath.Join(dir, "plugin.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read plugin.json: %w", err)
	}
	var p pluginFile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case p.Name == "":
		return nil, nil, fmt.Errorf("%s: no name", path)
	case p.Version == "":
		return nil, nil, fmt.Errorf("%s: no version", path)
	case p.Image == "":
		return nil, nil, fmt.Errorf("%s: no docker_image", path)
	}
	return &p, data, nil
}
