package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/invoke"
)

// job is the seed's view of an invocation (its /api/v1/jobs API).
type job struct {
	ID            string          `json:"id"`
	UserID        int64           `json:"user_id"`
	PluginName    string          `json:"plugin_name"`
	PluginVersion string          `json:"plugin_version"`
	InputData     json.RawMessage `json:"input_data"`
	OutputData    json.RawMessage `json:"output_data"`
	Status        string          `json:"status"`
	ErrorMessage  *string         `json:"error_message"`
	CreatedAt     time.Time       `json:"created_at"`
	StartedAt     *time.Time      `json:"started_at"`
	CompletedAt   *time.Time      `json:"completed_at"`
}

// jobStatuses maps the seed's job statuses onto invocation statuses: a job
// failed when its invocation ended any way but success or cancel.
var jobStatuses = []struct {
	job         string
	invocations []orc.Status
}{
	{"pending", []orc.Status{orc.StatusQueued}},
	{"running", []orc.Status{orc.StatusRunning}},
	{"completed", []orc.Status{orc.StatusSucceeded}},
	{"failed", []orc.Status{orc.StatusFailed, orc.StatusTimedOut, orc.StatusDead, orc.StatusRejected, orc.StatusExpired}},
	{"cancelled", []orc.Status{orc.StatusCanceled}},
}

// jobStatus maps an invocation status onto the seed's job statuses.
func jobStatus(s orc.Status) string {
	for _, js := range jobStatuses {
		if slices.Contains(js.invocations, s) {
			return js.job
		}
	}
	return "failed"
}

// jobStatusFilter reads a job status, as the job API shows it, into the
// invocation statuses it stands for.
func jobStatusFilter(s string) ([]orc.Status, error) {
	for _, js := range jobStatuses {
		if js.job == s {
			return js.invocations, nil
		}
	}
	return nil, orc.Errorf(orc.EINVALID, "unknown status %q: job statuses are pending, running, completed, failed or cancelled", s)
}

func jobOf(inv *orc.Invocation) job {
	j := job{
		ID: inv.ID, UserID: inv.OwnerID, PluginName: inv.Plugin, PluginVersion: inv.Version,
		InputData: inv.Input, OutputData: inv.Output, Status: jobStatus(inv.Status),
		CreatedAt: inv.CreatedAt, StartedAt: inv.StartedAt, CompletedAt: inv.FinishedAt,
	}
	if inv.Error != nil {
		j.ErrorMessage = &inv.Error.Message
	}
	if len(j.OutputData) == 0 {
		j.OutputData = json.RawMessage("null")
	}
	return j
}

// jobRequest is the seed's job creation body.
type jobRequest struct {
	PluginName    string          `json:"plugin_name"`
	PluginVersion string          `json:"plugin_version"`
	InputData     json.RawMessage `json:"input_data"`
}

// handleCreateJob queues an asynchronous invocation from the seed's body.
func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	var req jobRequest
	// input_data is the plugin's input, stored as sent, as an invoke's body.
	if err := s.decodeJSON(w, r, &req, "/input_data"); err != nil {
		s.error(w, r, err)
		return
	}
	if req.PluginName == "" {
		s.error(w, r, orc.Errorf(orc.EINVALID, "plugin_name is required"))
		return
	}
	if len(req.InputData) == 0 {
		req.InputData = json.RawMessage("{}")
	}
	t, err := s.Invoke.Submit(r.Context(), invoke.Request{
		Plugin: req.PluginName, Version: req.PluginVersion, Input: req.InputData,
		IdempotencyKey: r.Header.Get(headerIdempotency), Async: true, Headers: r.Header,
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer t.Close()
	w.Header().Set(headerInvocationID, t.Invocation.ID)
	w.Header().Set("Location", "/api/v1/jobs/"+t.Invocation.ID)
	writeJSON(w, http.StatusCreated, jobOf(t.Invocation))
}

func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request) {
	list, next, ok := s.listInvocations(w, r, jobStatusFilter)
	if !ok {
		return
	}
	jobs := make([]job, 0, len(list))
	for _, inv := range list {
		jobs = append(jobs, jobOf(inv))
	}
	if next != "" {
		// The next page keeps the filters of this one.
		q := r.URL.Query()
		q.Set("cursor", next)
		w.Header().Set("Link", `</api/v1/jobs?`+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, jobs)
}

func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	inv, err := s.visibleInvocation(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobOf(inv))
}
