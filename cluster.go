package orc

import (
	"context"
	"time"
)

// RayJobPool is the pool of versions whose execution is ray-job: the
// scheduler consumes its queue and runs each invocation as its own Ray job.
const RayJobPool = "ray-job"

// Pool states, as the scheduler reports them.
const (
	PoolReady         = "ready"         // the replicas it wants run
	PoolScaling       = "scaling"       // replicas are starting or draining
	PoolWaiting       = "waiting"       // replicas wait for Ray to free resources
	PoolUnschedulable = "unschedulable" // no Ray node could ever run a replica
)

// PoolDemand is what the versions of a pool ask of its worker replicas.
type PoolDemand struct {
	Pool string
	// Resources is what one worker replica reserves on its Ray node: the
	// largest of each resource among the pool's versions.
	Resources Resources
	// MinWorkers and MaxWorkers bound the replicas (the largest among the
	// pool's versions).
	MinWorkers int
	MaxWorkers int
	// Unfinished counts the pool's queued and running invocations.
	Unfinished int
}

// Replica is one worker of a pool, placed on Ray.
type Replica struct {
	ID       string `json:"id"`    // the Ray job's submission id, also the worker id
	State    string `json:"state"` // the Ray job's status
	Node     string `json:"node,omitempty"`
	Draining bool   `json:"draining,omitempty"`
	Message  string `json:"message,omitempty"`
}

// PoolStatus is the scheduler's latest view of a pool.
type PoolStatus struct {
	Pool       string    `json:"pool"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Desired    int       `json:"desired"`
	MinWorkers int       `json:"min_workers"`
	MaxWorkers int       `json:"max_workers"`
	Resources  Resources `json:"resources"`
	Unfinished int       `json:"unfinished"`
	Replicas   []Replica `json:"replicas"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// PoolStore keeps what the scheduler needs and reports.
type PoolStore interface {
	// PoolDemands returns the demand of every pool that runs the latest
	// version of a plugin (execution pooled) or has unfinished invocations.
	PoolDemands(ctx context.Context) ([]*PoolDemand, error)

	// SavePoolStatuses replaces the scheduler's report.
	SavePoolStatuses(ctx context.Context, pools []*PoolStatus) error

	// PoolStatuses returns the scheduler's latest report.
	PoolStatuses(ctx context.Context) ([]*PoolStatus, error)

	// RequestDrain asks a worker to stop taking tasks, finish what it runs
	// and exit. It sees the request at its next heartbeat.
	RequestDrain(ctx context.Context, workerID string) error
}

// ClusterNode is a node of the Ray cluster.
type ClusterNode struct {
	ID    string             `json:"id"`
	IP    string             `json:"ip"`
	Head  bool               `json:"head"`
	State string             `json:"state"`
	Total map[string]float64 `json:"total"`
	Used  map[string]float64 `json:"used"`
}

// ClusterInspector sees the nodes of the cluster Orc places work on.
type ClusterInspector interface {
	// Nodes returns the nodes with their total and used resources. Returns
	// EUNAVAILABLE when the cluster cannot be reached.
	Nodes(ctx context.Context) ([]*ClusterNode, error)
}
