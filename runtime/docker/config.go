package docker

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config defaults.
const (
	DefaultStdoutLimit    = 8 << 20 // bytes of stdout kept (the head)
	DefaultStderrLimit    = 1 << 20 // bytes of stderr kept (the tail)
	DefaultTmpfsBytes     = 64 << 20
	DefaultUser           = "65534:65534" // nobody:nogroup
	DefaultCleanupTimeout = 10 * time.Second
)

// Config configures a Driver. The zero value is usable: every field left
// empty takes its default.
type Config struct {
	// Host is the engine's address (unix:///var/run/docker.sock,
	// tcp://host:2375). Empty means the DOCKER_HOST environment variable or
	// the engine's default socket.
	Host string

	// StdoutLimit caps the stdout kept per run; the head is kept, because
	// the exec protocol's output is written once, at the end, and an
	// oversized output is an error rather than something to salvage.
	StdoutLimit int64
	// StderrLimit caps the stderr kept per run; the tail is kept, because
	// the last lines carry a failing plugin's message.
	StderrLimit int64

	// TmpfsBytes is the size of the writable tmpfs mounted at /tmp (the
	// root filesystem is read-only).
	TmpfsBytes int64

	// User is the uid:gid containers run as. It must not be root.
	User string

	// Pull makes Run pull an image once when it is not on the engine.
	// Workers normally run only images built or loaded onto them, so it is
	// off by default.
	Pull bool

	// CleanupTimeout bounds each engine call that the run's context does
	// not cut short: the create (a create canceled in flight could leave a
	// container behind) and the kill, inspect and remove at the end.
	CleanupTimeout time.Duration

	// Installation is the installation the driver's containers belong to
	// (Orc passes its queue prefix); default "orc". Containers are labelled
	// with it and the driver reaps no other installation's.
	Installation string

	// Logger receives the driver's logs; nil means slog.Default().
	Logger *slog.Logger

	// Tracer records each run and its create and start as spans; nil
	// means none.
	Tracer trace.Tracer
}

// withDefaults returns c with every empty field set to its default.
func (c Config) withDefaults() Config {
	if c.Tracer == nil {
		c.Tracer = noop.Tracer{}
	}
	if c.Installation == "" {
		c.Installation = "orc"
	}
	if c.StdoutLimit <= 0 {
		c.StdoutLimit = DefaultStdoutLimit
	}
	if c.StderrLimit <= 0 {
		c.StderrLimit = DefaultStderrLimit
	}
	if c.TmpfsBytes <= 0 {
		c.TmpfsBytes = DefaultTmpfsBytes
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.CleanupTimeout <= 0 {
		c.CleanupTimeout = DefaultCleanupTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
