package gateway

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/orc-gateway/orc"
)

// Scheduler states in the cluster view and /readyz.
const (
	schedulerOK           = "ok"
	schedulerDegraded     = "degraded"
	schedulerUnconfigured = "unconfigured"
	// staleReport is how old the scheduler's last report may be before the
	// scheduler is taken for stopped.
	staleReport = 30 * time.Second
)

// ClusterView is what the gateway shows of the Ray cluster: its nodes
// (asked of Ray) and the scheduler's report of each pool (from the
// database). Both nil: no Ray.
type ClusterView struct {
	Nodes orc.ClusterInspector
	Pools orc.PoolStore
	// Workers lists the workers that report (with Ray or without).
	Workers orc.WorkerRegistry

	mu      sync.Mutex
	checked time.Time
	reach   error
}

// clusterResponse is GET /api/v1/cluster.
type clusterResponse struct {
	Scheduler schedulerState     `json:"scheduler"`
	Nodes     []*orc.ClusterNode `json:"nodes"`
	Pools     []clusterPool      `json:"pools"`
	// Workers are those heard from within workersSeen, with why any takes
	// no tasks.
	Workers []*orc.WorkerInfo `json:"workers"`
}

// workersSeen is how recent a worker's heartbeat must be for the cluster
// view and /readyz to count it.
const workersSeen = time.Minute

// liveWorkers lists the workers heard from within workersSeen; nil when
// there is no registry or it cannot answer.
func (s *Server) liveWorkers(ctx context.Context) []*orc.WorkerInfo {
	if s.Cluster == nil || s.Cluster.Workers == nil {
		return nil
	}
	list, err := s.Cluster.Workers.ListWorkers(ctx, s.Clock.Now().Add(-workersSeen))
	if err != nil {
		s.Logger.WarnContext(ctx, "cluster: workers", "err", err)
		return nil
	}
	return list
}

// workersCheck is the workers' line in /readyz: "" when none is paused.
func (s *Server) workersCheck(ctx context.Context) string {
	list := s.liveWorkers(ctx)
	paused, why := 0, ""
	for _, w := range list {
		if w.Paused != "" {
			paused, why = paused+1, w.Paused
		}
	}
	if paused == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d workers paused: %s", paused, len(list), why)
}

type schedulerState struct {
	State      string     `json:"state"`
	Reason     string     `json:"reason,omitempty"`
	ReportedAt *time.Time `json:"reported_at,omitempty"`
}

type clusterPool struct {
	*orc.PoolStatus
	QueueDepth int `json:"queue_depth"`
}

func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	p := orc.PrincipalFromContext(r.Context())
	if !s.require(w, r, maySeeCluster(p), "see the cluster") {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	res := clusterResponse{Nodes: []*orc.ClusterNode{}, Pools: []clusterPool{}, Workers: []*orc.WorkerInfo{}}
	if list := s.liveWorkers(ctx); list != nil {
		res.Workers = list
	}
	cv := s.Cluster
	if cv == nil || cv.Nodes == nil {
		res.Scheduler = schedulerState{State: schedulerUnconfigured, Reason: "no Ray cluster is configured (--ray-address)"}
		writeJSON(w, http.StatusOK, res)
		return
	}
	res.Scheduler.State = schedulerOK
	nodes, err := cv.Nodes.Nodes(ctx)
	cv.remember(s.Clock.Now(), err)
	if err != nil {
		s.Logger.WarnContext(ctx, "cluster: ray nodes", "err", err)
		res.Scheduler = schedulerState{State: schedulerDegraded, Reason: "the Ray cluster is unreachable; invocations wait in their queues"}
	} else {
		res.Nodes = nodes
	}
	pools, err := cv.Pools.PoolStatuses(ctx)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var latest time.Time
	for _, ps := range pools {
		depth, err := s.Broker.QueueDepth(ctx, ps.Pool)
		if err != nil {
			depth = -1 // unknown: the broker is unreachable
		}
		res.Pools = append(res.Pools, clusterPool{PoolStatus: ps, QueueDepth: depth})
		if ps.UpdatedAt.After(latest) {
			latest = ps.UpdatedAt
		}
	}
	if !latest.IsZero() {
		res.Scheduler.ReportedAt = &latest
	}
	if res.Scheduler.State == schedulerOK {
		if reason := staleness(s.Clock.Now(), latest, len(pools)); reason != "" {
			res.Scheduler = schedulerState{State: schedulerDegraded, Reason: reason, ReportedAt: res.Scheduler.ReportedAt}
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// staleness says why the scheduler's report is too old, or "".
func staleness(now, reported time.Time, pools int) string {
	if pools == 0 {
		return ""
	}
	if age := now.Sub(reported); age > staleReport {
		return fmt.Sprintf("the scheduler has not reported for %s; is orc scheduler running?", age.Round(time.Second))
	}
	return ""
}

// schedulerCheck is the scheduler's line in /readyz: the Ray cluster is
// asked at most every few seconds.
func (s *Server) schedulerCheck(ctx context.Context) string {
	cv := s.Cluster
	if cv == nil || cv.Nodes == nil {
		return ""
	}
	now := s.Clock.Now()
	cv.mu.Lock()
	fresh, reach := now.Sub(cv.checked) < 5*time.Second, cv.reach
	cv.mu.Unlock()
	if !fresh {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, reach = cv.Nodes.Nodes(ctx)
		cv.remember(now, reach)
	}
	if reach != nil {
		return schedulerDegraded
	}
	return schedulerOK
}

func (cv *ClusterView) remember(at time.Time, err error) {
	cv.mu.Lock()
	cv.checked, cv.reach = at, err
	cv.mu.Unlock()
}

// queueReason says why a queued invocation waits, from the scheduler's
// report of its pool: "" unless the pool cannot be placed or waits for
// Ray to free resources.
func (s *Server) queueReason(ctx context.Context, inv *orc.Invocation) string {
	if inv.Status != orc.StatusQueued || s.Cluster == nil || s.Cluster.Pools == nil {
		return ""
	}
	pools, err := s.Cluster.Pools.PoolStatuses(ctx)
	if err != nil {
		return ""
	}
	for _, p := range pools {
		if p.Pool == inv.Pool && (p.State == orc.PoolUnschedulable || p.State == orc.PoolWaiting) {
			return "pool " + p.Pool + " is " + p.State + ": " + p.Reason
		}
	}
	return ""
}
