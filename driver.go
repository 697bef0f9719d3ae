package orc

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrHandedBack is the cause a run's context ends with when its worker
// stops before the run finished and hands the task back to the queue for
// another worker. A driver whose runs outlive it (a Ray job) may leave the
// run going for the next attempt to attach to; others kill it.
var ErrHandedBack = errors.New("worker stopped before the run finished")

// Driver runs plugin containers. It is the one interface every driver must
// implement; optional abilities are separate interfaces found by type
// assertion (Fingerprinter, Reaper). Its arguments and results are plain
// data so that a driver can be served out of process (hashicorp/go-plugin)
// as well as in it.
type Driver interface {
	// Run runs one container to its end and returns what it wrote. When ctx
	// ends first (the plugin's timeout or a cancel), the container is killed
	// and the result has TimedOut or Canceled set; when it ends with the
	// cause ErrHandedBack, what Run returns is not used. The container is always
	// removed before Run returns. An error means the container could not be
	// run at all (bad image, engine down); a plugin that fails is a result
	// with a non-zero ExitCode, not an error.
	Run(ctx context.Context, spec *ContainerSpec) (*ContainerResult, error)
}

// ContainerSpec is one container run.
type ContainerSpec struct {
	// InvocationID and Attempt identify the run; drivers label containers
	// with them so that a later attempt can find an earlier one's leftovers.
	InvocationID string
	Attempt      int
	Image        string
	// Args are appended to the image's entrypoint.
	Args      []string
	Stdin     []byte
	Env       map[string]string
	Resources Resources
	Network   Network
	// Deadline is when the run must be over. Drivers record it on the
	// container so that a container outliving its worker can be found and
	// killed (Reaper.ReapExpired).
	Deadline time.Time
	// Labels are added to the container's labels.
	Labels map[string]string
}

// ContainerResult is what a container did.
type ContainerResult struct {
	// Warm is true when a warm server answered without a start.
	Warm bool
	// Node is where the container ran, when the driver placed it on
	// another node than the worker's (a Ray job); empty otherwise.
	Node      string
	ExitCode  int
	OOMKilled bool
	TimedOut  bool // ctx's deadline passed; the container was killed
	Canceled  bool // ctx was canceled; the container was killed
	// Stdout and Stderr are what the container wrote, each capped by the
	// driver (the head of Stdout and the tail of Stderr are kept).
	Stdout          []byte
	Stderr          []byte
	StdoutTruncated bool
	StderrTruncated bool
	// Cold is the time spent creating and starting the container, Run the
	// time from start to exit.
	Cold time.Duration
	Run  time.Duration
}

// DriverInfo describes a driver and the engine behind it.
type DriverInfo struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail,omitempty"`
	// External is set when the driver runs in a process of its own
	// (hashicorp/go-plugin) rather than in the worker's.
	External bool `json:"external,omitempty"`
}

// Fingerprinter is implemented by drivers that can report their health.
type Fingerprinter interface {
	Fingerprint(ctx context.Context) (*DriverInfo, error)
}

// Reaper is implemented by drivers that can remove what earlier attempts of
// an invocation left behind (a worker killed mid-run leaves its container
// running).
type Reaper interface {
	// Reap kills and removes the containers of the invocation's attempts
	// before the given one.
	Reap(ctx context.Context, invocationID string, beforeAttempt int) error

	// ReapExpired kills and removes the containers whose deadline passed
	// before now, whichever worker started them.
	ReapExpired(ctx context.Context, now time.Time) error

	// ReapExited removes the exited containers of the installation (those
	// of a worker killed mid-run). Running ones are left alone: they may
	// belong to another worker on the same engine. A worker calls it when
	// it starts.
	ReapExited(ctx context.Context) error
}

// OutputStreamer is implemented by drivers that can pass a run's output on
// while the container writes it (the live log).
type OutputStreamer interface {
	// RunStreaming is Run that also writes what the container writes to
	// stdout and stderr, as the driver reads it, to the given writers. They
	// are written from one goroutine at a time and never after RunStreaming
	// returns; their writes must not block and must not keep p. Their
	// errors are ignored: the run's result is the same as Run's.
	RunStreaming(ctx context.Context, spec *ContainerSpec, stdout, stderr io.Writer) (*ContainerResult, error)
}

// ServerSpec is a long-lived plugin server: a container of a version that
// speaks the http protocol (warm containers).
type ServerSpec struct {
	// Key groups a version's servers (its id); drivers label containers
	// with it.
	Key       string
	Image     string
	Env       map[string]string
	Resources Resources
	Network   Network
	Labels    map[string]string
}

// PluginServer is a started plugin server.
type PluginServer struct {
	ID string
	// URL is where the worker reaches it, e.g. http://172.18.0.5:8080.
	URL string
	// Labels are the server's labels (ServerSpec.Labels and the driver's
	// own); set by ListServers.
	Labels map[string]string
}

// Servers is implemented by drivers that can keep warm plugin servers.
type Servers interface {
	// StartServer starts a server and returns once its container runs (not
	// once it answers: the caller polls GET /healthz).
	StartServer(ctx context.Context, spec *ServerSpec) (*PluginServer, error)

	// StopServer stops and removes a server.
	StopServer(ctx context.Context, id string) error

	// ListServers returns the installation's servers on the engine, with
	// their labels, whichever worker started them: a worker stops those
	// of workers that are gone.
	ListServers(ctx context.Context) ([]PluginServer, error)
}
