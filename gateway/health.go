package gateway

import (
	"context"
	"net/http"
	"time"
)

// handleHealthz reports that the process serves HTTP.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the state of each dependency.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz reports whether the gateway can accept invocations: the
// database answers and the broker is connected.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "draining", Checks: map[string]string{}})
		return
	}
	res := readiness{Status: "ok", Checks: map[string]string{"database": "ok", "broker": "ok"}}
	if err := s.DB.Ping(ctx); err != nil {
		res.Status, res.Checks["database"] = "unavailable", "unreachable"
		s.Logger.WarnContext(ctx, "readiness: database", "err", err)
	}
	if err := s.Broker.Ready(); err != nil {
		res.Status, res.Checks["broker"] = "unavailable", "disconnected"
	}
	// Without Ray the gateway still takes invocations (they wait in their
	// queues): a degraded scheduler is reported, not a reason to refuse.
	if check := s.schedulerCheck(ctx); check != "" {
		res.Checks["scheduler"] = check
		if check != schedulerOK && res.Status == "ok" {
			res.Status = schedulerDegraded
		}
	}
	// A paused worker (its container engine down) hands its tasks to the
	// others: reported, the gateway still takes invocations.
	if check := s.workersCheck(ctx); check != "" {
		res.Checks["workers"] = check
		if res.Status == "ok" {
			res.Status = schedulerDegraded
		}
	}
	status := http.StatusOK
	if res.Status != "ok" && res.Status != schedulerDegraded {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, res)
}
