package ray

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orc-gateway/orc"
)

// Metadata keys Orc sets on its Ray jobs.
const (
	metaPrefix = "orc_prefix" // the installation (its queue prefix)
	metaRole   = "orc_role"   // worker or invocation
	metaPool   = "orc_pool"
	roleWorker = "worker"
	roleInvoke = "invocation"

	// settleTime is how long after its end a job is deleted.
	settleTime = 5 * time.Second
)

// ReconcilerConfig tunes a Reconciler. The zero value of each field means
// its default.
type ReconcilerConfig struct {
	// Prefix names this installation's Ray jobs (the queue prefix), so
	// that installations sharing a cluster leave each other's alone.
	Prefix string
	// Command is the argv that starts a worker replica, before Orc's own
	// flags (--pool, --id): e.g. ["/usr/local/bin/orc", "worker"].
	Command []string
	// Env is set in each replica's environment (database and broker URLs).
	Env map[string]string
	// Driver is the container driver of the replicas (their --driver),
	// and PoolDrivers that of the replicas of the pools it names; empty:
	// the worker's default (docker).
	Driver      string
	PoolDrivers map[string]string
	// WorkerConcurrency is how many invocations one replica runs at once;
	// desired replicas are the pool's unfinished invocations divided by it
	// (default 4).
	WorkerConcurrency int
	// ScaleDownAfter is how long a pool must want fewer replicas before one
	// is drained (default 30s): bursts do not make replicas come and go.
	ScaleDownAfter time.Duration
	// Interval is the time between two reconciliations (default 2s).
	Interval time.Duration
}

func (c *ReconcilerConfig) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = "orc"
	}
	if c.WorkerConcurrency == 0 {
		c.WorkerConcurrency = 4
	}
	if c.ScaleDownAfter == 0 {
		c.ScaleDownAfter = 30 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = 2 * time.Second
	}
}

// Reconciler keeps each pool's worker replicas running on Ray as Ray jobs:
// as many as the pool's unfinished invocations call for, within the bounds
// of its versions. Replicas that end are deleted and replaced; surplus ones
// drain (they finish what they run, then exit). It also deletes the Ray
// jobs of per-invocation runs once their invocation is final.
type Reconciler struct {
	Ray         *Client
	Pools       orc.PoolStore
	Invocations orc.InvocationService
	Logger      *slog.Logger
	Clock       orc.Clock

	cfg      ReconcilerConfig
	lowSince map[string]time.Time // pool -> since when it wants fewer replicas
	draining map[string]bool      // replicas asked to drain
}

// NewReconciler returns a reconciler. Set its service fields before use.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	cfg.setDefaults()
	return &Reconciler{cfg: cfg, Logger: slog.Default(), Clock: orc.SystemClock{},
		lowSince: map[string]time.Time{}, draining: map[string]bool{}}
}

// Run reconciles every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Reconcile(ctx); err != nil && ctx.Err() == nil {
			r.Logger.Warn("reconcile", "err", err)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// Reconcile compares the pools' demand with the replicas on Ray once, acts
// on the difference and saves the pools' status.
func (r *Reconciler) Reconcile(ctx context.Context) error {
	demands, err := r.Pools.PoolDemands(ctx)
	if err != nil {
		return fmt.Errorf("pool demand: %w", err)
	}
	jobs, err := r.Ray.Jobs(ctx)
	if err != nil {
		return fmt.Errorf("list ray jobs: %w", err)
	}
	nodes, err := r.Ray.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("list ray nodes: %w", err)
	}
	now := r.Clock.Now()
	replicas := map[string][]*JobDetails{}
	for _, j := range jobs {
		// Ray's job supervisor may still be exiting just after the job
		// ends; a job deleted then comes back as a FAILED record without
		// metadata. So ended jobs are deleted a little later.
		settled := j.Status.Terminal() && j.EndTime > 0 && now.Sub(time.UnixMilli(j.EndTime)) > settleTime
		switch {
		case j.Metadata[metaPrefix] != r.cfg.Prefix:
			if settled && j.Metadata == nil && uuid.Validate(j.SubmissionID) == nil {
				r.collect(ctx, j) // such a record of one of this installation's invocations
			}
		case j.Metadata[metaRole] == roleWorker:
			if j.Status.Terminal() {
				if settled {
					r.forget(ctx, j)
				}
				continue
			}
			replicas[j.Metadata[metaPool]] = append(replicas[j.Metadata[metaPool]], j)
		case j.Metadata[metaRole] == roleInvoke:
			if settled {
				r.collect(ctx, j)
			}
		}
	}

	statuses := make([]*orc.PoolStatus, 0, len(demands))
	for _, d := range demands {
		statuses = append(statuses, r.reconcilePool(ctx, d, replicas[d.Pool], nodes, now))
		delete(replicas, d.Pool)
	}
	// Pools no version runs any more: their replicas drain.
	for pool, js := range replicas {
		for _, j := range js {
			r.drain(ctx, j)
		}
		delete(r.lowSince, pool)
	}
	return r.Pools.SavePoolStatuses(ctx, statuses)
}

// reconcilePool brings one pool's replicas to its desired count.
func (r *Reconciler) reconcilePool(ctx context.Context, d *orc.PoolDemand, js []*JobDetails, nodes []*Node, now time.Time) *orc.PoolStatus {
	st := &orc.PoolStatus{Pool: d.Pool, MinWorkers: d.MinWorkers, MaxWorkers: d.MaxWorkers,
		Resources: d.Resources, Unfinished: d.Unfinished, UpdatedAt: now, Replicas: []orc.Replica{}}
	st.Desired = desired(d, r.cfg.WorkerConcurrency)
	log := r.Logger.With("pool", d.Pool)

	var active []*JobDetails // not draining, newest last
	sort.Slice(js, func(i, k int) bool { return js[i].StartTime < js[k].StartTime })
	for _, j := range js {
		if !r.draining[j.SubmissionID] {
			active = append(active, j)
		}
	}

	if reason := unschedulable(d.Resources, nodes); reason != "" {
		st.State, st.Reason = orc.PoolUnschedulable, reason
		// Replicas that Ray still holds wait for a node that will not come.
		for _, j := range active {
			if j.Status == JobPending {
				r.stop(ctx, j)
			}
		}
		st.Replicas = replicasOf(js, r.draining)
		return st
	}

	switch n := len(active); {
	case n < st.Desired:
		delete(r.lowSince, d.Pool)
		for i := n; i < st.Desired; i++ {
			j, err := r.submit(ctx, d)
			if err != nil {
				log.Warn("submit worker replica", "err", err)
				st.Reason = "Ray did not accept a worker replica; trying again"
				break
			}
			js = append(js, j)
		}
	case n > st.Desired:
		since, ok := r.lowSince[d.Pool]
		if !ok {
			r.lowSince[d.Pool] = now
			break
		}
		if now.Sub(since) < r.cfg.ScaleDownAfter {
			break
		}
		// Drain pending replicas first (they run nothing), then the newest.
		surplus := n - st.Desired
		sort.SliceStable(active, func(i, k int) bool {
			pi, pk := active[i].Status == JobPending, active[k].Status == JobPending
			if pi != pk {
				return pi
			}
			return active[i].StartTime > active[k].StartTime
		})
		for _, j := range active[:surplus] {
			r.drain(ctx, j)
		}
		delete(r.lowSince, d.Pool)
	default:
		delete(r.lowSince, d.Pool)
	}

	st.Replicas = replicasOf(js, r.draining)
	running, pending := 0, 0
	for _, rep := range st.Replicas {
		switch {
		case rep.Draining:
		case rep.State == string(JobRunning):
			running++
		default:
			pending++
		}
	}
	switch {
	case pending > 0 && running < st.Desired:
		st.State = orc.PoolWaiting
		if st.Reason == "" {
			st.Reason = fmt.Sprintf("%d worker replica(s) wait for Ray to place them (%s each)", pending, describe(d.Resources))
		}
	case running == st.Desired && pending == 0:
		st.State = orc.PoolReady
	default:
		st.State = orc.PoolScaling
	}
	return st
}

// desired is the number of replicas a pool wants.
func desired(d *orc.PoolDemand, perReplica int) int {
	n := int(math.Ceil(float64(d.Unfinished) / float64(perReplica)))
	return min(max(n, d.MinWorkers), max(d.MaxWorkers, d.MinWorkers))
}

// submit starts a new replica of a pool.
func (r *Reconciler) submit(ctx context.Context, d *orc.PoolDemand) (*JobDetails, error) {
	id := fmt.Sprintf("%s-worker-%s-%s", r.cfg.Prefix, d.Pool, randomSuffix())
	argv := append(append([]string{}, r.cfg.Command...), "--pool", d.Pool, "--id", id)
	if driver := cmp.Or(r.cfg.PoolDrivers[d.Pool], r.cfg.Driver); driver != "" {
		argv = append(argv, "--driver", driver)
	}
	job := &JobSubmission{
		SubmissionID: id,
		Entrypoint:   shellJoin(argv),
		RuntimeEnv:   &RuntimeEnv{EnvVars: r.cfg.Env},
		Metadata:     map[string]string{metaPrefix: r.cfg.Prefix, metaRole: roleWorker, metaPool: d.Pool},
	}
	entrypointResources(job, d.Resources)
	if _, err := r.Ray.SubmitJob(ctx, job); err != nil && !errors.Is(err, ErrAlreadySubmitted) {
		return nil, err
	}
	r.Logger.Info("worker replica submitted", "pool", d.Pool, "replica", id)
	return &JobDetails{SubmissionID: id, Status: JobPending, Metadata: job.Metadata,
		StartTime: r.Clock.Now().UnixMilli()}, nil
}

// entrypointResources sets what Ray reserves for a job's entrypoint. Every
// job asks for some CPU: one that asks for nothing may land on the head.
func entrypointResources(job *JobSubmission, res orc.Resources) {
	job.NumCPUs = res.CPU
	if job.NumCPUs <= 0 {
		job.NumCPUs = 0.1
	}
	job.NumGPUs = float64(res.GPU)
	job.Memory = res.MemoryMB << 20
	if len(res.Custom) > 0 {
		job.Resources = res.Custom
	}
}

// drain retires a replica: a pending one is stopped (it runs nothing), a
// running one is asked to finish its work and exit.
func (r *Reconciler) drain(ctx context.Context, j *JobDetails) {
	if r.draining[j.SubmissionID] {
		return
	}
	if j.Status == JobPending {
		r.stop(ctx, j)
		return
	}
	if err := r.Pools.RequestDrain(ctx, j.SubmissionID); err != nil {
		r.Logger.Warn("drain worker replica", "replica", j.SubmissionID, "err", err)
		return
	}
	r.draining[j.SubmissionID] = true
	r.Logger.Info("worker replica draining", "pool", j.Metadata[metaPool], "replica", j.SubmissionID)
}

func (r *Reconciler) stop(ctx context.Context, j *JobDetails) {
	if _, err := r.Ray.StopJob(ctx, j.SubmissionID); err != nil && !errors.Is(err, ErrNotFound) {
		r.Logger.Warn("stop worker replica", "replica", j.SubmissionID, "err", err)
		return
	}
	r.draining[j.SubmissionID] = true
}

// forget deletes a replica that ended; the pool's next reconciliation
// replaces it if the pool still wants it.
func (r *Reconciler) forget(ctx context.Context, j *JobDetails) {
	log := r.Logger.With("pool", j.Metadata[metaPool], "replica", j.SubmissionID, "status", j.Status)
	if r.draining[j.SubmissionID] {
		log.Info("worker replica ended")
	} else {
		log.Warn("worker replica ended unexpectedly; replacing it", "message", j.Message)
	}
	if err := r.Ray.DeleteJob(ctx, j.SubmissionID); err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("delete ended worker replica", "err", err)
		return
	}
	delete(r.draining, j.SubmissionID)
}

// collect deletes the Ray job of a per-invocation run once its invocation
// is final: until then a redelivered task may still read its result.
func (r *Reconciler) collect(ctx context.Context, j *JobDetails) {
	inv, err := r.Invocations.FindInvocation(ctx, j.SubmissionID)
	switch {
	case orc.ErrorCode(err) == orc.ENOTFOUND:
	case err != nil:
		return
	case !inv.Status.Terminal():
		return
	}
	if err := r.Ray.DeleteJob(ctx, j.SubmissionID); err != nil && !errors.Is(err, ErrNotFound) {
		r.Logger.Warn("delete finished ray job", "invocation_id", j.SubmissionID, "err", err)
	}
}

// unschedulable explains why no alive node could run a replica with res,
// or returns "".
func unschedulable(res orc.Resources, nodes []*Node) string {
	need := needs(res)
	alive := 0
	for _, n := range nodes {
		if !n.Alive() {
			continue
		}
		alive++
		fits := true
		for name, amount := range need {
			if n.Total[name] < amount {
				fits = false
				break
			}
		}
		if fits {
			return ""
		}
	}
	if alive == 0 {
		return "the Ray cluster has no alive node"
	}
	return fmt.Sprintf("no Ray node offers %s", describe(res))
}

// needs is what Ray must reserve for res, by Ray's resource names.
func needs(res orc.Resources) map[string]float64 {
	need := map[string]float64{"CPU": res.CPU, "memory": float64(res.MemoryMB << 20)}
	if res.GPU > 0 {
		need["GPU"] = float64(res.GPU)
	}
	for name, amount := range res.Custom {
		need[name] = amount
	}
	return need
}

// describe writes resources the way people read them.
func describe(res orc.Resources) string {
	parts := []string{fmt.Sprintf("cpu=%g", res.CPU), fmt.Sprintf("memory=%dMB", res.MemoryMB)}
	if res.GPU > 0 {
		parts = append(parts, fmt.Sprintf("gpu=%d", res.GPU))
	}
	names := make([]string, 0, len(res.Custom))
	for name := range res.Custom {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s=%g", name, res.Custom[name]))
	}
	return strings.Join(parts, ", ")
}

func replicasOf(js []*JobDetails, draining map[string]bool) []orc.Replica {
	out := make([]orc.Replica, 0, len(js))
	for _, j := range js {
		rep := orc.Replica{ID: j.SubmissionID, State: string(j.Status), Node: j.DriverNodeID,
			Draining: draining[j.SubmissionID]}
		if j.Status == JobPending {
			rep.Message = j.Message
		}
		out = append(out, rep)
	}
	return out
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// shellJoin quotes argv for Ray, which runs an entrypoint with a shell.
func shellJoin(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@") == "" {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
