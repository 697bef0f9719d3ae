package postgres

import "testing"

// The latest version is the highest semantic version; versions that are
// not semantic versions only count while there is none, the newest first.
func TestNewerVersion(t *testing.T) {
	for _, tc := range []struct {
		registered []string
		latest     string
	}{
		{[]string{"1.0.0", "2.0.0", "1.5.0"}, "2.0.0"},
		{[]string{"2.0.0", "beta", "1.0.0"}, "2.0.0"},
		{[]string{"beta", "1.0.0", "gamma"}, "1.0.0"},
		{[]string{"alpha", "beta"}, "beta"},
		{[]string{"1.0.0-rc.1", "1.0.0", "1.0.0-rc.2"}, "1.0.0"},
		{[]string{"1.0.0+build.2", "1.0.1-rc.1"}, "1.0.1-rc.1"},
	} {
		latest := ""
		for _, v := range tc.registered {
			if latest == "" || newer(v, latest) {
				latest = v
			}
		}
		if latest != tc.latest {
			t.Errorf("registering %v: latest %s, want %s", tc.registered, latest, tc.latest)
		}
	}
}
