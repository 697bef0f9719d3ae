// Package sdk carries the sources of Orc's plugin SDKs so that
// `orc plugin init` can write them into a new plugin project: a project
// that builds without network access and without Orc's module being
// published. The SDKs themselves are sdk/plugin (Go) and sdk/python
// (package orc_plugin).
package sdk

import (
	"embed"
	"io/fs"
	"strings"
)

// The Go SDK is embedded by pattern, so that a new file of it is carried
// too; GoPlugin leaves the tests out. The Python package's module names
// start with "_", which a directory pattern would skip.
var (
	//go:embed plugin/*.go
	goPlugin embed.FS

	//go:embed python/orc_plugin/*.py
	pythonPlugin embed.FS
)

// GoPlugin returns the Go plugin SDK (package plugin, sdk/plugin) without
// its tests: the .go files at the root of the returned file system. They
// import only the standard library.
func GoPlugin() fs.FS {
	sub, err := fs.Sub(goPlugin, "plugin")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return withoutTests{sub}
}

// PythonPlugin returns the Python plugin SDK's package orc_plugin
// (sdk/python/orc_plugin): its .py files at the root of the returned file
// system.
func PythonPlugin() fs.FS {
	sub, err := fs.Sub(pythonPlugin, "python/orc_plugin")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// withoutTests hides Go test files.
type withoutTests struct{ fsys fs.FS }

var _ fs.ReadDirFS = withoutTests{}

func isTest(name string) bool { return strings.HasSuffix(name, "_test.go") }

// Open opens a file unless it is a test.
func (w withoutTests) Open(name string) (fs.File, error) {
	if isTest(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.fsys.Open(name)
}

// ReadDir lists a directory without the tests.
func (w withoutTests) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(w.fsys, name)
	kept := entries[:0]
	for _, e := range entries {
		if !isTest(e.Name()) {
			kept = append(kept, e)
		}
	}
	return kept, err
}
