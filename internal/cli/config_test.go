package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestConfigPath(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skipf("no home directory: %v", err)
	}
	tests := []struct {
		name string
		env  Env
		want string
	}{
		{"ORC_CONFIG", Env{ConfigPath: "/etc/orc.json", ConfigHome: "/xdg"}, "/etc/orc.json"},
		{"XDG_CONFIG_HOME", Env{ConfigHome: "/xdg"}, filepath.Join("/xdg", "orc", "config.json")},
		{"home", Env{}, filepath.Join(home, ".config", "orc", "config.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := configPath(tt.env); err != nil || got != tt.want {
				t.Errorf("configPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestGatewayURL(t *testing.T) {
	saved := config{URL: "http://saved:5900"}
	tests := []struct {
		name  string
		flag  string
		env   Env
		saved config
		want  string
	}{
		{"flag over ORC_URL", "flag:1", Env{URL: "http://env:2"}, saved, "http://flag:1"},
		{"ORC_URL over the saved one", "", Env{URL: "http://env:2/"}, saved, "http://env:2"},
		{"the saved one", "", Env{}, saved, "http://saved:5900"},
		{"the default", "", Env{}, config{}, defaultGatewayURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gatewayURL(tt.flag, tt.env, tt.saved); got != tt.want {
				t.Errorf("gatewayURL = %q, want %q", got, tt.want)
			}
		})
	}
}
