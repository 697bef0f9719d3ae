package sdk

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGoPluginIsTheSDKWithoutTests checks that the embedded Go SDK is
// exactly sdk/plugin's non-test files and needs nothing but the standard
// library, which a generated project can build without a network.
func TestGoPluginIsTheSDKWithoutTests(t *testing.T) {
	t.Parallel()
	var want []string
	all, err := filepath.Glob(filepath.Join("plugin", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if !strings.HasSuffix(p, "_test.go") {
			want = append(want, filepath.Base(p))
		}
	}
	var got []string
	err = fs.WalkDir(GoPlugin(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got = append(got, path)
		data, err := fs.ReadFile(GoPlugin(), path)
		if err != nil {
			return err
		}
		disk, err := os.ReadFile(filepath.Join("plugin", path))
		if err != nil || string(disk) != string(data) {
			t.Errorf("%s: embedded copy differs from the file (%v)", path, err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, data, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: a generated plugin could not build it offline", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("embedded %v, want %v", got, want)
	}
	if _, err := GoPlugin().Open("plugin_test.go"); err == nil {
		t.Error("a test file can be opened")
	}
}

func TestPythonPluginHasThePackage(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"__init__.py", "_plugin.py"} {
		if _, err := fs.Stat(PythonPlugin(), name); err != nil {
			t.Errorf("orc_plugin/%s is not embedded: %v", name, err)
		}
	}
	entries, err := fs.ReadDir(PythonPlugin(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".py") {
			t.Errorf("embedded %s", e.Name())
		}
	}
}
