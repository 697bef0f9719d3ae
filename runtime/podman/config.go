package podman

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"
)

// Config defaults.
const (
	DefaultBinary         = "podman"
	DefaultStdoutLimit    = 8 << 20 // bytes of stdout kept (the head)
	DefaultStderrLimit    = 1 << 20 // bytes of stderr kept (the tail)
	DefaultTmpfsBytes     = 64 << 20
	DefaultUser           = "65534:65534" // nobody:nogroup
	DefaultCleanupTimeout = 10 * time.Second
)

// maxNproc bounds the default RLIMIT_NPROC of containers. Podman 4.3 as
// root runs with RLIMIT_NPROC at most 32768 (observed: 96369 in its
// caller, 32768 in podman), and its runtime can only lower the limits it
// inherits.
const maxNproc = 32768

// Config configures a Driver. The zero value is usable: every field left
// empty takes its default.
type Config struct {
	// Binary is the podman command, a path or a name looked up in PATH.
	Binary string

	// Root and RunRoot, when set, are Podman's storage and state
	// directories (podman --root, --runroot): a driver with its own sees
	// none of the host's other containers and images.
	Root    string
	RunRoot string

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

	// Ulimits are the containers' rlimits, as podman's --ulimit takes them
	// (nofile=1024:4096). Empty means the driver's own RLIMIT_NOFILE and
	// its RLIMIT_NPROC capped at 32768, which is what a Docker container
	// inherits from its engine. Podman's own default (1048576) exceeds
	// what a process without CAP_SYS_RESOURCE may set, and would make
	// every start fail there.
	Ulimits []string

	// Pull makes Run pull an image once when it is not on the host.
	// Workers normally run only images built or loaded onto them, so it is
	// off by default.
	Pull bool

	// CleanupTimeout bounds each podman command that the run's context
	// does not cut short: the create (a create killed in flight could leave
	// a container behind) and the kill, inspect and remove at the end.
	CleanupTimeout time.Duration

	// Installation is the installation the driver's containers belong to
	// (Orc passes its queue prefix); default "orc". Containers are labelled
	// with it and the driver reaps no other installation's.
	Installation string

	// Logger receives the driver's logs; nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with every empty field set to its default.
func (c Config) withDefaults() Config {
	c.Binary = cmp.Or(c.Binary, DefaultBinary)
	c.Installation = cmp.Or(c.Installation, "orc")
	c.User = cmp.Or(c.User, DefaultUser)
	c.StdoutLimit = positiveOr(c.StdoutLimit, DefaultStdoutLimit)
	c.StderrLimit = positiveOr(c.StderrLimit, DefaultStderrLimit)
	c.TmpfsBytes = positiveOr(c.TmpfsBytes, DefaultTmpfsBytes)
	c.CleanupTimeout = positiveOr(c.CleanupTimeout, DefaultCleanupTimeout)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Ulimits == nil {
		c.Ulimits = inheritedUlimits()
	}
	return c
}

// positiveOr returns v when it is above zero, def otherwise.
func positiveOr[T int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// inheritedUlimits returns the driver's own open-file limit and its process
// limit, capped at maxNproc, as --ulimit values.
func inheritedUlimits() []string {
	var out []string
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &l) == nil {
		out = append(out, "nofile="+rlimit(l.Cur)+":"+rlimit(l.Max))
	}
	if unix.Getrlimit(unix.RLIMIT_NPROC, &l) == nil {
		out = append(out, "nproc="+rlimit(min(l.Cur, maxNproc))+":"+rlimit(min(l.Max, maxNproc)))
	}
	return out
}

// rlimit formats a limit for --ulimit, where -1 is unlimited.
func rlimit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "-1"
	}
	return fmt.Sprint(v)
}
