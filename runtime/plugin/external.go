package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/orc-gateway/orc"
)

// ExternalConfig is a driver binary and how to start it.
type ExternalConfig struct {
	// Name names the driver in logs and errors (e.g. "podman").
	Name string
	// Path is the driver binary; Args are its arguments.
	Path string
	Args []string
	// Env is added to the worker's environment for the driver process.
	Env []string
	// SHA256, when set, is the binary's checksum: a binary that does not
	// match is not started (go-plugin's SecureConfig), also on a restart.
	SHA256 []byte
	// Logger receives the driver process's logs and the restarts; nil
	// means slog.Default().
	Logger *slog.Logger
}

// External is a driver in its own process, started by Open and again
// whenever it exits. It implements orc.Driver and the optional interfaces
// by calling the current process; it is safe for concurrent use.
type External struct {
	cfg ExternalConfig
	log *slog.Logger

	mu       sync.Mutex
	proc     *plugin.Client
	client   *Client
	starts   int
	closed   bool
	lastFail time.Time
}

var (
	_ orc.Driver         = (*External)(nil)
	_ orc.Fingerprinter  = (*External)(nil)
	_ orc.Reaper         = (*External)(nil)
	_ orc.OutputStreamer = (*External)(nil)
	_ orc.Servers        = (*External)(nil)
)

// restartEvery bounds how often a driver that keeps failing to start is
// tried again.
const restartEvery = time.Second

// Open starts the driver process and checks that it speaks the protocol.
//
// # Errors
//
// orc.EINVALID when the binary does not match its checksum or does not
// speak this protocol version; orc.EUNAVAILABLE when it cannot be started.
func Open(ctx context.Context, cfg ExternalConfig) (*External, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Path
	}
	e := &External{cfg: cfg, log: cfg.Logger.With("driver", cfg.Name)}
	if _, err := e.current(); err != nil {
		return nil, err
	}
	return e, nil
}

// Starts returns how many times the driver process was started.
func (e *External) Starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts
}

// Pid returns the driver process's id, 0 when none runs.
func (e *External) Pid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc == nil || e.proc.Exited() {
		return 0
	}
	if rc := e.proc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Close ends the driver process. Containers it started are not affected.
func (e *External) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.proc != nil {
		e.proc.Kill()
	}
	return nil
}

// current returns the client of the running driver process, starting it
// when it is not running (at first, or after it exited).
func (e *External) current() (*Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, orc.Errorf(orc.EUNAVAILABLE, "the %s driver is closed", e.cfg.Name)
	}
	if e.proc != nil && !e.proc.Exited() {
		return e.client, nil
	}
	if e.proc != nil {
		e.log.Warn("driver process exited; starting it again", "starts", e.starts)
		e.proc.Kill()
		e.proc, e.client = nil, nil
	}
	if since := time.Since(e.lastFail); since < restartEvery {
		return nil, orc.Errorf(orc.EUNAVAILABLE, "the %s driver process is not running", e.cfg.Name)
	}
	c, proc, err := e.start()
	if err != nil {
		e.lastFail = time.Now()
		return nil, err
	}
	e.proc, e.client = proc, c
	e.starts++
	return c, nil
}

func (e *External) start() (*Client, *plugin.Client, error) {
	cmd := exec.Command(e.cfg.Path, e.cfg.Args...)
	cmd.Env = append(cmd.Environ(), e.cfg.Env...)
	cc := &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: pluginSet(nil)},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclogTo(e.log),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
			grpc.WithInitialWindowSize(windowSize), grpc.WithInitialConnWindowSize(windowSize)},
	}
	if len(e.cfg.SHA256) > 0 {
		cc.SecureConfig = &plugin.SecureConfig{Checksum: e.cfg.SHA256, Hash: sha256.New()}
	}
	proc := plugin.NewClient(cc)
	rpc, err := proc.Client()
	if err != nil {
		proc.Kill()
		return nil, nil, startError(e.cfg.Name, err)
	}
	raw, err := rpc.Dispense(pluginName)
	if err != nil {
		proc.Kill()
		return nil, nil, startError(e.cfg.Name, err)
	}
	e.log.Info("driver process started", "path", e.cfg.Path, "pid", proc.ReattachConfig().Pid, "protocol", proc.NegotiatedVersion())
	return raw.(*Client), proc, nil
}

// startError is the error of a driver process that could not be started.
func startError(name string, err error) error {
	switch {
	case err == plugin.ErrChecksumsDoNotMatch:
		return orc.WrapError(orc.EINVALID, err, fmt.Sprintf("the %s driver binary does not match its checksum", name))
	case strings.Contains(err.Error(), "incompatible API version"):
		return orc.WrapError(orc.EINVALID, err, fmt.Sprintf("the %s driver speaks another protocol version", name))
	}
	return orc.WrapError(orc.EUNAVAILABLE, err, fmt.Sprintf("the %s driver process could not be started", name))
}

// Run implements orc.Driver.
func (e *External) Run(ctx context.Context, spec *orc.ContainerSpec) (*orc.ContainerResult, error) {
	return e.RunStreaming(ctx, spec, nil, nil)
}

// RunStreaming implements orc.OutputStreamer.
func (e *External) RunStreaming(ctx context.Context, spec *orc.ContainerSpec, stdout, stderr io.Writer) (*orc.ContainerResult, error) {
	c, err := e.current()
	if err != nil {
		return nil, err
	}
	return c.RunStreaming(ctx, spec, stdout, stderr)
}

// Fingerprint implements orc.Fingerprinter; it also starts a driver
// process that exited, so that a worker watching its engine gets its
// driver back without a task having to come first.
func (e *External) Fingerprint(ctx context.Context) (*orc.DriverInfo, error) {
	c, err := e.current()
	if err != nil {
		return &orc.DriverInfo{Name: e.cfg.Name, External: true, Detail: orc.ErrorMessage(err)}, err
	}
	info, err := c.Fingerprint(ctx)
	if info != nil {
		info.External = true
		if info.Name == "" {
			info.Name = e.cfg.Name
		}
	}
	return info, err
}

// Reap implements orc.Reaper.
func (e *External) Reap(ctx context.Context, invocationID string, beforeAttempt int) error {
	c, err := e.current()
	if err != nil {
		return err
	}
	return c.Reap(ctx, invocationID, beforeAttempt)
}

// ReapExpired implements orc.Reaper.
func (e *External) ReapExpired(ctx context.Context, now time.Time) error {
	c, err := e.current()
	if err != nil {
		return err
	}
	return c.ReapExpired(ctx, now)
}

// ReapExited implements orc.Reaper.
func (e *External) ReapExited(ctx context.Context) error {
	c, err := e.current()
	if err != nil {
		return err
	}
	return c.ReapExited(ctx)
}

// StartServer implements orc.Servers.
func (e *External) StartServer(ctx context.Context, spec *orc.ServerSpec) (*orc.PluginServer, error) {
	c, err := e.current()
	if err != nil {
		return nil, err
	}
	return c.StartServer(ctx, spec)
}

// StopServer implements orc.Servers.
func (e *External) StopServer(ctx context.Context, id string) error {
	c, err := e.current()
	if err != nil {
		return err
	}
	return c.StopServer(ctx, id)
}

// ListServers implements orc.Servers.
func (e *External) ListServers(ctx context.Context) ([]orc.PluginServer, error) {
	c, err := e.current()
	if err != nil {
		return nil, err
	}
	return c.ListServers(ctx)
}

// hclogTo is a go-plugin logger that writes to log: the driver process's
// log lines arrive through it, and go-plugin's own.
func hclogTo(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Info,
		JSONFormat: true,
		Output:     &slogWriter{log: log},
	})
}

// slogWriter logs the JSON lines of an hclog logger with slog, at their
// level and with their fields.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			if s := strings.TrimSpace(string(line)); s != "" {
				w.log.Info(s)
			}
			continue
		}
		level := slog.LevelInfo
		switch rec["@level"] {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		msg, _ := rec["@message"].(string)
		attrs := make([]slog.Attr, 0, len(rec))
		for _, k := range slices.Sorted(maps.Keys(rec)) {
			if !strings.HasPrefix(k, "@") && k != "timestamp" {
				attrs = append(attrs, slog.Any(k, rec[k]))
			}
		}
		w.log.LogAttrs(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}
