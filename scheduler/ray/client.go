// Package ray places Orc's work on a Ray cluster. Ray has no Go API, so the
// package speaks to the Ray dashboard's REST APIs: the Jobs API
// (/api/jobs/) to run worker replicas and per-invocation jobs, and the State
// API (/api/v0/...) and cluster status to see nodes and their resources.
//
// Client is a small typed client of those APIs. Reconciler keeps each pool's
// worker replicas running as Ray jobs. JobDriver runs one invocation as its
// own Ray job.
package ray

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

// Errors of the Ray client. Test for them with errors.Is.
var (
	// ErrNotFound: no job has that submission id.
	ErrNotFound = errors.New("ray: job not found")
	// ErrAlreadySubmitted: a job with that submission id exists already.
	// For Orc it means "already sent": a retried submission, not a failure.
	ErrAlreadySubmitted = errors.New("ray: job already submitted")
	// ErrNotTerminal: the job still runs, so it cannot be deleted.
	ErrNotTerminal = errors.New("ray: job is not in a terminal state")
	// ErrUnavailable: the dashboard could not be reached or is not ready.
	ErrUnavailable = errors.New("ray: dashboard unavailable")
)

// APIError is an answer of the dashboard that is not a success. Its message
// is Ray's text (often a Python traceback): log it, do not show it to
// clients.
type APIError struct {
	Method, Path string
	StatusCode   int
	Message      string
	err          error // one of the sentinel errors, or nil
}

func (e *APIError) Error() string {
	msg := e.Message
	if i := strings.LastIndexByte(strings.TrimSpace(msg), '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:]) // a traceback's last line says what happened
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return fmt.Sprintf("ray: %s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

func (e *APIError) Unwrap() error { return e.err }

// JobStatus is the state of a Ray job.
type JobStatus string

// Job states, as Ray names them.
const (
	JobPending   JobStatus = "PENDING"
	JobRunning   JobStatus = "RUNNING"
	JobStopped   JobStatus = "STOPPED"
	JobSucceeded JobStatus = "SUCCEEDED"
	JobFailed    JobStatus = "FAILED"
)

// Terminal reports whether the job has ended.
func (s JobStatus) Terminal() bool {
	return s == JobStopped || s == JobSucceeded || s == JobFailed
}

// RuntimeEnv is the part of Ray's runtime environment Orc uses.
type RuntimeEnv struct {
	EnvVars map[string]string `json:"env_vars,omitempty"`
}

// JobSubmission is a job to submit. Always set the entrypoint resources:
// a job that asks for none may run on the head node.
type JobSubmission struct {
	SubmissionID string      `json:"submission_id,omitempty"`
	Entrypoint   string      `json:"entrypoint"`
	RuntimeEnv   *RuntimeEnv `json:"runtime_env,omitempty"`
	// NumCPUs, NumGPUs, Memory (bytes, an integer for Ray) and Resources
	// are what Ray reserves for the entrypoint; they choose its node.
	NumCPUs   float64            `json:"entrypoint_num_cpus,omitempty"`
	NumGPUs   float64            `json:"entrypoint_num_gpus,omitempty"`
	Memory    int64              `json:"entrypoint_memory,omitempty"`
	Resources map[string]float64 `json:"entrypoint_resources,omitempty"`
	Metadata  map[string]string  `json:"metadata,omitempty"`
}

// JobDetails is what Ray knows of a job.
type JobDetails struct {
	SubmissionID string            `json:"submission_id"`
	Entrypoint   string            `json:"entrypoint"`
	Status       JobStatus         `json:"status"`
	Message      string            `json:"message"`
	ErrorType    string            `json:"error_type"`
	StartTime    int64             `json:"start_time"` // ms since the epoch
	EndTime      int64             `json:"end_time"`
	Metadata     map[string]string `json:"metadata"`
	// DriverNodeID is the Ray node where the entrypoint runs (empty until
	// it starts).
	DriverNodeID   string `json:"driver_node_id"`
	DriverExitCode *int   `json:"driver_exit_code"`
}

// Node is a node of the cluster.
type Node struct {
	ID       string             `json:"node_id"`
	IP       string             `json:"node_ip"`
	Head     bool               `json:"is_head_node"`
	State    string             `json:"state"` // ALIVE or DEAD
	Name     string             `json:"node_name"`
	Total    map[string]float64 `json:"resources_total"`
	Labels   map[string]string  `json:"labels,omitempty"`
	StartMS  int64              `json:"start_time_ms"`
	EndMS    int64              `json:"end_time_ms"`
	Used     map[string]float64 `json:"resources_used,omitempty"`
	Messages string             `json:"state_message,omitempty"`
}

// Alive reports whether the node is up.
func (n *Node) Alive() bool { return n.State == "ALIVE" }

// Client talks to a Ray dashboard, e.g. http://127.0.0.1:8265.
type Client struct {
	base string
	http *http.Client
	// Retries is how many times a request that found the dashboard or its
	// job agent not ready is tried again (default 4), with backoff from
	// RetryWait (default 250ms) doubling.
	Retries   int
	RetryWait time.Duration
}

// NewClient returns a client of the dashboard at address (a URL, or
// host:port for http).
func NewClient(address string) (*Client, error) {
	if !strings.Contains(address, "://") {
		address = "http://" + address
	}
	u, err := url.Parse(address)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("ray: bad dashboard address %q", address)
	}
	return &Client{
		base:      strings.TrimRight(u.String(), "/"),
		http:      &http.Client{Timeout: 30 * time.Second},
		Retries:   4,
		RetryWait: 250 * time.Millisecond,
	}, nil
}

// Version returns the cluster's Ray version; it is the cheapest way to see
// that the dashboard answers.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct {
		RayVersion string `json:"ray_version"`
	}
	err := c.do(ctx, http.MethodGet, "/api/version", nil, &v)
	return v.RayVersion, err
}

// SubmitJob submits a job. It returns ErrAlreadySubmitted (wrapped) when a
// job with the same submission id exists.
func (c *Client) SubmitJob(ctx context.Context, job *JobSubmission) (string, error) {
	var out struct {
		SubmissionID string `json:"submission_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/jobs/", job, &out); err != nil {
		return "", err
	}
	return out.SubmissionID, nil
}

// Job returns a job. Returns ErrNotFound.
func (c *Client) Job(ctx context.Context, id string) (*JobDetails, error) {
	var j JobDetails
	if err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Jobs lists the jobs Ray keeps (submitted ones and drivers).
func (c *Client) Jobs(ctx context.Context) ([]*JobDetails, error) {
	var js []*JobDetails
	if err := c.do(ctx, http.MethodGet, "/api/jobs/", nil, &js); err != nil {
		return nil, err
	}
	out := js[:0]
	for _, j := range js {
		if j.SubmissionID != "" { // drivers started outside the Jobs API have none
			out = append(out, j)
		}
	}
	return out, nil
}

// JobLogs returns what a job's entrypoint wrote. Returns ErrNotFound.
func (c *Client) JobLogs(ctx context.Context, id string) (string, error) {
	var out struct {
		Logs string `json:"logs"`
	}
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id)+"/logs", nil, &out)
	return out.Logs, err
}

// StopJob asks Ray to stop a job (SIGTERM to its entrypoint, then SIGKILL).
// It reports whether the job was running. Returns ErrNotFound.
func (c *Client) StopJob(ctx context.Context, id string) (bool, error) {
	var out struct {
		Stopped bool `json:"stopped"`
	}
	err := c.do(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/stop", nil, &out)
	return out.Stopped, err
}

// DeleteJob deletes a finished job and its logs. Returns ErrNotFound, or
// ErrNotTerminal while it runs.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/jobs/"+url.PathEscape(id), nil, nil)
}

// Nodes returns the cluster's nodes (alive and recently dead) with their
// total resources.
func (c *Client) Nodes(ctx context.Context) ([]*Node, error) {
	var out struct {
		Data struct {
			Result struct {
				Result []*Node `json:"result"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v0/nodes?limit=10000&detail=true", nil, &out); err != nil {
		return nil, err
	}
	return out.Data.Result.Result, nil
}

// NodesWithUsage returns the nodes with the resources in use on each
// (Used), from the cluster status the autoscaler reports.
func (c *Client) NodesWithUsage(ctx context.Context) ([]*Node, error) {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var status struct {
		Data struct {
			ClusterStatus struct {
				LoadMetricsReport struct {
					UsageByNode map[string]map[string][2]float64 `json:"usageByNode"`
				} `json:"loadMetricsReport"`
			} `json:"clusterStatus"`
		} `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/cluster_status?format=0", nil, &status); err != nil {
		return nil, err
	}
	usage := status.Data.ClusterStatus.LoadMetricsReport.UsageByNode
	for _, n := range nodes {
		byName := usage[n.ID]
		if byName == nil {
			continue
		}
		n.Used = make(map[string]float64, len(n.Total))
		for name := range n.Total {
			// The status report camel-cases Ray's resource names.
			if u, ok := byName[name]; ok {
				n.Used[name] = u[0]
			} else if u, ok := byName[camel(name)]; ok {
				n.Used[name] = u[0]
			}
		}
	}
	return nodes, nil
}

// camel turns object_store_memory into objectStoreMemory, as Ray's status
// report spells it.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// do sends a request and decodes a JSON answer into out. Connection
// failures and "not ready" answers are tried again with backoff.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("ray: encode request: %w", err)
		}
	}
	wait := c.RetryWait
	for try := 0; ; try++ {
		err := c.once(ctx, method, path, body, out)
		if err == nil || !errors.Is(err, ErrUnavailable) || try >= c.Retries || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("ray: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ray: %s %s: %w", method, path, ctx.Err())
		}
		// Refused, reset, timed out: the dashboard is down or restarting.
		return fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: %s %s: read answer: %v", ErrUnavailable, method, path, err)
	}
	if resp.StatusCode >= 300 {
		return classify(method, path, resp.StatusCode, string(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("ray: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// classify turns an error answer into an APIError wrapping the sentinel
// error it stands for. Ray answers most failures with 500 and a Python
// traceback, so the text is what tells them apart.
func classify(method, path string, status int, msg string) error {
	e := &APIError{Method: method, Path: path, StatusCode: status, Message: msg}
	switch {
	case status == http.StatusNotFound && strings.Contains(msg, "does not exist"):
		e.err = ErrNotFound
	case strings.Contains(msg, "already exists"):
		e.err = ErrAlreadySubmitted
	case strings.Contains(msg, "non-terminal state"):
		e.err = ErrNotTerminal
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout,
		// The head's job agent is not up yet (just after the cluster started).
		strings.Contains(msg, "Failed to get job agent"), strings.Contains(msg, "No available agent"),
		strings.Contains(msg, "not ready"):
		e.err = ErrUnavailable
	}
	return e
}

// Inspector shows the cluster's nodes to Orc (the cluster view).
type Inspector struct{ Client *Client }

var _ orc.ClusterInspector = Inspector{}

// Nodes returns the alive and recently dead nodes with their resources.
// Returns EUNAVAILABLE when Ray cannot be reached.
func (i Inspector) Nodes(ctx context.Context) ([]*orc.ClusterNode, error) {
	nodes, err := i.Client.NodesWithUsage(ctx)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, orc.Errorf(orc.EUNAVAILABLE, "the Ray cluster is unreachable")
		}
		return nil, err
	}
	out := make([]*orc.ClusterNode, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, &orc.ClusterNode{ID: n.ID, IP: n.IP, Head: n.Head, State: n.State,
			Total: n.Total, Used: n.Used})
	}
	return out, nil
}
