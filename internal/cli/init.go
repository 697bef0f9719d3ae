package cli

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/sdk"
)

const pluginInitUsage = `Usage: orc plugin init --lang go|python [--dir DIR] [--image IMAGE] [--protocol exec|http] NAME

Creates a plugin project in DIR (default ./NAME) that is ready to build:
plugin.json, a Dockerfile, a handler that greets someone by name, its test,
and a copy of Orc's plugin SDK for the language, so that it builds without
a network. Then: orc plugin build DIR && orc plugin deploy DIR.
`

// templates are the files of new plugin projects, per language. A name's
// ".tmpl" is dropped; "dockerignore" becomes ".dockerignore" (the embed
// pattern skips dot files).
//
//go:embed templates
var templates embed.FS

// generatedGoVersion is the go directive of a generated go.mod.
const generatedGoVersion = "1.26"

// initialPluginVersion is the version of a new plugin.
const initialPluginVersion = "0.1.0"

// pluginNameRE is the gateway's rule for plugin names (registry.nameRE);
// the name is also the Go module path and part of the image name, which
// the rule keeps valid.
var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,62}$`)

// imageRE is the gateway's rule for docker_image (registry.imageRE).
var imageRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$`)

// projectData fills the templates.
type projectData struct {
	Name      string
	Module    string
	Image     string
	Version   string
	Protocol  orc.Protocol
	GoVersion string
	SDK       string
}

// pluginLang is a language `orc plugin init` writes projects in.
type pluginLang struct {
	templates string       // directory under templates/
	sdkDir    string       // where the SDK copy goes in the project
	sdk       func() fs.FS // the SDK's sources
}

var pluginLangs = map[string]pluginLang{
	"go": {
		templates: "templates/go", sdkDir: "plugin", sdk: sdk.GoPlugin,
	},
	"python": {
		templates: "templates/python", sdkDir: "orc_plugin", sdk: sdk.PythonPlugin,
	},
}

func runPluginInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("plugin init", pluginInitUsage, stderr)
	lang := flags.String("lang", "", "language of the handler: go or python")
	dir := flags.String("dir", "", "directory of the new project (default ./NAME); it must not exist or be empty")
	image := flags.String("image", "", "docker_image of plugin.json (default orc-NAME:"+initialPluginVersion+")")
	protocol := flags.String("protocol", string(orc.ProtocolExec), "exec (a container per call) or http (warm containers)")
	jsonOut := flags.Bool("json", false, "print the created files as JSON")
	rest, err := parseArgs(flags, args)
	if err != nil {
		return err
	}
	if err := wantArgs(stderr, "plugin init", rest, 1, 1, "plugin NAME"); err != nil {
		return err
	}
	name := rest[0]
	l, ok := pluginLangs[*lang]
	switch {
	case *lang == "":
		return usageError(stderr, "plugin init", "--lang is required: go or python")
	case !ok:
		return usageError(stderr, "plugin init", "--lang %q: want go or python", *lang)
	case !pluginNameRE.MatchString(name):
		return usageError(stderr, "plugin init", "plugin name %q: use lowercase letters, digits, '.', '_' and '-', starting with a letter (at most 63)", name)
	case *image != "" && !imageRE.MatchString(*image):
		return usageError(stderr, "plugin init", "--image %q is not an image reference", *image)
	case *protocol != string(orc.ProtocolExec) && *protocol != string(orc.ProtocolHTTP):
		return usageError(stderr, "plugin init", "--protocol %q: want exec or http", *protocol)
	}
	if *dir == "" {
		*dir = name
	}
	if *image == "" {
		*image = "orc-" + name + ":" + initialPluginVersion
	}
	data := projectData{
		Name: name, Module: name, Version: initialPluginVersion, Image: *image, Protocol: orc.Protocol(*protocol),
		GoVersion: generatedGoVersion, SDK: "from orc " + Version,
	}
	files, err := writeProject(*dir, l, data)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSONLine(stdout, map[string]any{"name": name, "lang": *lang, "dir": *dir, "image": *image, "files": files})
	}
	fmt.Fprintf(stdout, "Created %s plugin %s in %s:\n", *lang, name, *dir)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	fmt.Fprintf(stdout, "Next: orc plugin build %s && orc plugin deploy %s && orc invoke %s -d '{\"name\": \"Ada\"}'\n", *dir, *dir, name)
	return nil
}

// writeProject writes a new project and returns its files' paths relative
// to dir, the SDK's directory as one entry.
func writeProject(dir string, l pluginLang, data projectData) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	manifest, err := render("templates/plugin.json.tmpl", data)
	if err != nil {
		return nil, err
	}
	if !json.Valid(manifest) {
		return nil, fmt.Errorf("plugin.json of %s is not JSON", data.Name) // a bug in the template
	}
	out := map[string][]byte{"plugin.json": manifest}
	err = fs.WalkDir(templates, l.templates, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := render(p, data)
		if err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, l.templates+"/"), ".tmpl")
		if path.Base(rel) == "dockerignore" {
			rel = path.Join(path.Dir(rel), ".dockerignore")
		}
		out[rel] = b
		return nil
	})
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for rel, content := range out {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), content, 0o644); err != nil {
			return nil, err
		}
		names = append(names, rel)
	}
	if err := os.CopyFS(filepath.Join(dir, l.sdkDir), l.sdk()); err != nil {
		return nil, fmt.Errorf("copy the SDK: %w", err)
	}
	names = append(names, l.sdkDir+"/")
	slices.Sort(names)
	return names, nil
}

// templateFuncs are the functions templates may call: json quotes a value
// for plugin.json.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// render executes one template of templates with data.
func render(name string, data projectData) ([]byte, error) {
	text, err := fs.ReadFile(templates, name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(path.Base(name)).Funcs(templateFuncs).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return b.Bytes(), nil
}
