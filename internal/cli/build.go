package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

const pluginBuildUsage = `Usage: orc plugin build [--quiet] [--verbose] [--json] [DIR]

Builds the image of the plugin in DIR (default .) and tags it with the
docker_image of DIR/plugin.json, without a registry:

  Go (DIR has .go files): CGO_ENABLED=0 go build -trimpath of DIR into a
  temporary build context as ./plugin beside DIR/Dockerfile, then docker
  build of that context.

  Otherwise (Python): docker build of DIR. The base image must exist:
  orc-python-base:bookworm is built by deploy/images/python-base/build.sh.

docker build runs with the legacy builder (DOCKER_BUILDKIT=0), which needs
no build images. Progress (the Dockerfile's steps) goes to standard error.
`

// pythonBaseImage is the base image of Python plugins, and the script of
// Orc's repository that builds it.
const (
	pythonBaseImage  = "orc-python-base"
	pythonBaseScript = "deploy/images/python-base/build.sh"
)

func runPluginBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plugin build", pluginBuildUsage, stderr)
	quiet := fs.Bool("quiet", false, "print no progress")
	verbose := fs.Bool("verbose", false, "print all of docker build's output, not only the steps")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(stderr, "plugin build", rest, 0, 1, ""); err != nil {
		return err
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	p, _, err := readPluginFile(dir)
	if err != nil {
		return err
	}
	dockerfile, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return fmt.Errorf("read Dockerfile: %w", err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("docker is not on PATH: building an image needs the Docker CLI and engine")
	}
	progress := stderr
	if *quiet {
		progress = io.Discard
	}
	if err := checkBaseImages(ctx, dockerfile, progress); err != nil {
		return err
	}

	buildCtx := dir
	goPlugin, err := hasGoFiles(dir)
	if err != nil {
		return err
	}
	if goPlugin {
		tmp, err := os.MkdirTemp("", "orc-build-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := goBuild(ctx, dir, tmp, progress); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "Dockerfile"), dockerfile, 0o644); err != nil {
			return err
		}
		buildCtx = tmp
	}

	fmt.Fprintf(progress, "build: docker build -t %s\n", p.Image)
	if err := dockerBuild(ctx, buildCtx, p, progress, *verbose); err != nil {
		return err
	}
	id, size, err := imageInfo(ctx, p.Image)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSONLine(stdout, map[string]any{"plugin": p.Name, "version": p.Version, "image": p.Image, "id": id, "size": size})
	}
	fmt.Fprintf(stdout, "Built %s (%s, %s).\n", p.Image, shortID(id), megabytes(size))
	return nil
}

// hasGoFiles reports whether dir holds a Go program's sources.
func hasGoFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true, nil
		}
	}
	return false, nil
}

// goBuild compiles the Go program in dir into out/plugin, static and for
// Linux whatever the machine is.
func goBuild(ctx context.Context, dir, out string, progress io.Writer) error {
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("go is not on PATH: a Go plugin is compiled before its image is built")
	}
	fmt.Fprintf(progress, "build: CGO_ENABLED=0 go build -trimpath %s\n", dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", filepath.Join(out, "plugin"), ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, bytes.TrimSpace(output))
	}
	if st, err := os.Stat(filepath.Join(out, "plugin")); err == nil {
		fmt.Fprintf(progress, "build: binary ./plugin, %s\n", megabytes(st.Size()))
	}
	return nil
}

// dockerBuild builds and tags the image of p from buildCtx with the
// legacy builder, showing its steps.
func dockerBuild(ctx context.Context, buildCtx string, p *pluginFile, progress io.Writer, verbose bool) error {
	cmd := exec.CommandContext(ctx, "docker", "build", "--force-rm", "-t", p.Image,
		"--label", "org.opencontainers.image.title="+p.Name,
		"--label", "org.opencontainers.image.version="+p.Version,
		buildCtx)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out := &buildOutput{progress: progress, verbose: verbose}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	out.flush()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("docker build: %w", ctx.Err())
		}
		return fmt.Errorf("docker build: %w\n%s", err, out.tail())
	}
	return nil
}

// buildOutput passes docker build's step lines (all lines when verbose)
// to progress and keeps the last lines for the error of a failed build.
type buildOutput struct {
	progress io.Writer
	verbose  bool

	mu      sync.Mutex
	partial []byte
	last    []string
}

// keptLines is how many of the last lines a failed build shows.
const keptLines = 40

func (b *buildOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		b.line(string(bytes.TrimRight(b.partial[:i], "\r")))
		b.partial = b.partial[i+1:]
	}
}

func (b *buildOutput) line(s string) {
	if b.verbose || strings.HasPrefix(s, "Step ") {
		fmt.Fprintf(b.progress, "build: %s\n", s)
	}
	if s = strings.TrimSpace(s); s != "" {
		b.last = append(b.last, s)
		if len(b.last) > keptLines {
			b.last = b.last[1:]
		}
	}
}

func (b *buildOutput) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		b.line(string(b.partial))
		b.partial = nil
	}
}

func (b *buildOutput) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.last, "\n")
}

// baseImages returns the images a Dockerfile builds FROM, without scratch,
// its own stages and names made of build arguments.
func baseImages(dockerfile []byte) []string {
	var images []string
	stages := map[string]bool{"scratch": true}
	for _, line := range strings.Split(string(dockerfile), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		args := fields[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "--") {
			args = args[1:]
		}
		if len(args) == 0 {
			continue
		}
		image := args[0]
		if !stages[strings.ToLower(image)] && !strings.Contains(image, "$") {
			images = append(images, image)
		}
		if len(args) >= 3 && strings.EqualFold(args[1], "AS") {
			stages[strings.ToLower(args[2])] = true
		}
	}
	return images
}

// checkBaseImages fails when a Dockerfile builds FROM Orc's Python base
// image and the engine does not have it: there is no registry to pull it
// from, and the script that builds it should be named.
func checkBaseImages(ctx context.Context, dockerfile []byte, progress io.Writer) error {
	for _, image := range baseImages(dockerfile) {
		if _, _, err := imageInfo(ctx, image); err == nil {
			continue
		}
		name, _, _ := strings.Cut(image, ":")
		if name == pythonBaseImage {
			return fmt.Errorf("the base image %s is missing: build it with %s (in Orc's repository, as root); Orc builds plugins without a registry", image, pythonBaseScript)
		}
		fmt.Fprintf(progress, "build: the base image %s is not in the Docker engine; docker build will try to pull it\n", image)
	}
	return nil
}

// imageInfo returns an image's id and size, or an error when the engine
// does not have it.
func imageInfo(ctx context.Context, ref string) (string, int64, error) {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref).CombinedOutput()
	if err != nil {
		return "", 0, fmt.Errorf("docker image inspect %s: %w: %s", ref, err, bytes.TrimSpace(out))
	}
	id, sizeText, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	size, _ := strconv.ParseInt(sizeText, 10, 64)
	return id, size, nil
}

// shortID returns the first 12 hex digits of an image id, as docker shows it.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// megabytes formats a size as docker does: 6.14MB.
func megabytes(n int64) string {
	return strconv.FormatFloat(float64(n)/1e6, 'f', 2, 64) + " MB"
}
