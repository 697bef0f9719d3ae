package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/orc-gateway/orc"
)

// The console's overview charts the last hour: the invocations of each
// minute (from the invocations themselves) and each pool's queue, workers
// and warm containers (sampled once a minute by every gateway, the most
// of each count kept, for a day).

const (
	// sampleEvery is how often a gateway samples the pools.
	sampleEvery = time.Minute
	// keepSamples is how long samples are kept.
	keepSamples = 24 * time.Hour
	// maxStatsMinutes is the longest window GET /api/v1/stats gives.
	maxStatsMinutes = 24 * 60
)

// statsResponse is GET /api/v1/stats.
type statsResponse struct {
	Since time.Time `json:"since"`
	// Minutes are the minutes with invocations the principal may see
	// (everyone's for admins), oldest first.
	Minutes []*orc.MinuteStats `json:"minutes"`
	// Total is the whole window's (its at is the window's start).
	Total *orc.MinuteStats `json:"total"`
	// Pools are the pools' samples, for those who may see the cluster;
	// absent for others.
	Pools []*orc.PoolSample `json:"pools,omitempty"`
}

// handleStats is GET /api/v1/stats?minutes=60.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	minutes := 60
	if v := r.URL.Query().Get("minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxStatsMinutes {
			s.error(w, r, orc.Errorf(orc.EINVALID, "minutes must be between 1 and %d", maxStatsMinutes))
			return
		}
		minutes = n
	}
	if s.Stats == nil {
		s.error(w, r, orc.Errorf(orc.EUNAVAILABLE, "statistics are not kept here"))
		return
	}
	p := orc.PrincipalFromContext(r.Context())
	since := s.Clock.Now().Truncate(time.Minute).Add(-time.Duration(minutes-1) * time.Minute)
	owner := p.UserID
	if p.IsAdmin() {
		owner = 0
	}
	res := statsResponse{Since: since}
	var err error
	if res.Minutes, res.Total, err = s.Stats.InvocationStats(r.Context(), since, owner); err != nil {
		s.error(w, r, err)
		return
	}
	if res.Minutes == nil {
		res.Minutes = []*orc.MinuteStats{}
	}
	if res.Total == nil {
		res.Total = &orc.MinuteStats{}
	}
	res.Total.At = since
	if maySeeCluster(p) {
		if res.Pools, err = s.Stats.PoolSamples(r.Context(), since); err != nil {
			s.error(w, r, err)
			return
		}
		if res.Pools == nil {
			res.Pools = []*orc.PoolSample{}
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// maySeeCluster reports whether a principal may see the cluster: its
// nodes, pools and workers.
func maySeeCluster(p *orc.Principal) bool {
	return p.IsAdmin() || p.Role == orc.RoleDeveloper || p.Role == orc.RoleViewer
}

// KeepSampling samples the pools once a minute until ctx ends.
func (s *Server) KeepSampling(ctx context.Context) {
	if s.Stats == nil {
		return
	}
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		s.SamplePools(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// SamplePools stores this minute's sample of every pool: those the versions
// name and those with live workers.
func (s *Server) SamplePools(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := s.Clock.Now()
	at := now.Truncate(time.Minute)
	names, err := s.Stats.PoolNames(ctx)
	if err != nil {
		s.Logger.WarnContext(ctx, "sample pools", "err", err)
		return
	}
	pools := map[string]*orc.PoolSample{orc.DefaultPool: {At: at, Pool: orc.DefaultPool}}
	for _, n := range names {
		pools[n] = &orc.PoolSample{At: at, Pool: n}
	}
	for _, w := range s.liveWorkers(ctx) {
		p := pools[w.Pool]
		if p == nil {
			p = &orc.PoolSample{At: at, Pool: w.Pool}
			pools[w.Pool] = p
		}
		p.Workers++
		p.Warm += w.Warm
	}
	list := make([]*orc.PoolSample, 0, len(pools))
	for _, p := range pools {
		if s.Broker != nil {
			if n, err := s.Broker.QueueDepth(ctx, p.Pool); err == nil {
				p.Queued = n
			}
		}
		list = append(list, p)
	}
	if err := s.Stats.SavePoolSamples(ctx, list, now.Add(-keepSamples)); err != nil {
		s.Logger.WarnContext(ctx, "sample pools", "err", err)
	}
}
