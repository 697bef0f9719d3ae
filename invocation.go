package orc

import (
	"context"
	"encoding/json"
	"time"
)

// Status is where an invocation is in its life.
type Status string

// Invocation statuses. Every invocation the gateway accepted ends in one of
// the terminal ones.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusTimedOut  Status = "timed_out"
	StatusCanceled  Status = "canceled"
	StatusDead      Status = "dead"     // dead-lettered after too many deliveries
	StatusRejected  Status = "rejected" // refused by a pre hook; never queued
	StatusExpired   Status = "expired"  // waited in its queue past its version's queue_timeout_s
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusTimedOut, StatusCanceled, StatusDead, StatusRejected, StatusExpired:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusQueued || s == StatusRunning || s.Terminal()
}

// MaxDocumentDepth is how deep an invocation's input or output, or a hook's
// reply, may nest: deeper documents are refused before any decoder,
// validator or client has to read them.
const MaxDocumentDepth = 512

// InvocationError is why an invocation did not succeed, as the client sees it.
type InvocationError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Invocation is one call of a plugin version.
type Invocation struct {
	ID             string           `json:"id"`
	Plugin         string           `json:"plugin"`
	Version        string           `json:"version"`
	VersionID      int64            `json:"-"`
	Status         Status           `json:"status"`
	Input          json.RawMessage  `json:"input,omitempty"`
	Output         json.RawMessage  `json:"output,omitempty"`
	Error          *InvocationError `json:"error,omitempty"`
	Attempts       int              `json:"attempts"`
	IdempotencyKey string           `json:"idempotency_key,omitempty"`
	OwnerID        int64            `json:"owner_id"`
	Async          bool             `json:"async"`
	Pool           string           `json:"pool"`
	Priority       int              `json:"priority,omitempty"`
	Worker         string           `json:"worker,omitempty"`
	Node           string           `json:"node,omitempty"`
	// Driver is the container driver the result came from (its name, as
	// its Fingerprint gives it: docker, podman), empty before one.
	Driver string `json:"driver,omitempty"`
	// QueueReason says why a queued invocation waits, when the scheduler
	// knows (its pool cannot be placed on Ray); filled in on reads.
	QueueReason string `json:"queue_reason,omitempty"`
	ColdStart   bool   `json:"cold_start"`
	// RetryOf is the invocation this one retries
	// (POST /api/v1/invocations/{id}/retry); empty for others.
	RetryOf string `json:"retry_of,omitempty"`
	// Redrives counts the times the invocation was redriven from the
	// dead-letter list.
	Redrives  int  `json:"redrives,omitempty"`
	Published bool `json:"-"`
	// Logs are stored with a new invocation (its pre hooks' output).
	Logs       []LogLine  `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Timing     Timing     `json:"timing"`
}

// Timing is where an invocation's time went, in milliseconds.
type Timing struct {
	QueueMS float64 `json:"queue_ms"` // accepted until a worker picked it up
	ColdMS  float64 `json:"cold_ms"`  // creating and starting the container
	RunMS   float64 `json:"run_ms"`   // the plugin running
}

// Result is the end of one attempt, as a worker commits it.
type Result struct {
	// Attempt is the attempt this is the result of. Only the latest attempt
	// may commit: an earlier one that finishes late is discarded.
	Attempt    int
	Status     Status
	Output     json.RawMessage
	Error      *InvocationError
	Worker     string
	Node       string
	Driver     string
	ColdStart  bool
	Timing     Timing
	FinishedAt time.Time
	// Logs are the attempt's log lines, stored with the result.
	Logs []LogLine
	// StartedAt, VersionID and Input are for FinishUnstarted: when the run
	// that was never marked started began, and the version and input it
	// ran.
	StartedAt time.Time
	VersionID int64
	Input     json.RawMessage
}

// LogLine is one line a plugin wrote.
type LogLine struct {
	Seq     int       `json:"seq"`
	Attempt int       `json:"attempt"`
	Stream  string    `json:"stream"` // stdout, stderr or orc
	Time    time.Time `json:"time"`
	Line    string    `json:"line"`
}

// InvocationFilter selects invocations. Results are newest first.
type InvocationFilter struct {
	Plugin string
	// Version selects one version of Plugin; versions are a plugin's, so
	// it is set only with Plugin.
	Version string
	// Statuses selects invocations in any of them; none: every status.
	Statuses []Status
	// Since and Until bound CreatedAt (Since inclusive, Until exclusive);
	// zero means unbounded.
	Since, Until time.Time
	OwnerID      int64 // 0 means everyone's
	Cursor       string
	Limit        int
}

// Invocation list page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// InvocationService keeps invocations and their logs.
type InvocationService interface {
	// CreateInvocation records a queued invocation. When one with the same
	// owner and idempotency key exists, it returns that one and false.
	CreateInvocation(ctx context.Context, inv *Invocation) (*Invocation, bool, error)

	// RecordRejected records an invocation that a pre hook refused, with its
	// error and the hooks' log lines; it is final from the start.
	RecordRejected(ctx context.Context, inv *Invocation, logs []LogLine) error

	// DeleteInvocation removes an invocation whose task the broker refused,
	// unless a worker started it meanwhile. Returns ENOTFOUND, ECONFLICT.
	DeleteInvocation(ctx context.Context, id string) error

	// MarkPublished records that the broker confirmed the tasks of queued
	// invocations; those that started or ended meanwhile need no mark.
	MarkPublished(ctx context.Context, ids ...string) error

	// UnpublishedInvocations returns the queued invocations whose task is
	// lost, oldest first: those created before the given time whose task
	// was never confirmed (their gateway died between recording and
	// queueing them), and those never started whose task a worker dropped
	// (DropTask) before their row was recorded.
	UnpublishedInvocations(ctx context.Context, before time.Time, limit int) ([]*Invocation, error)

	// DropTask records that a worker dropped the task of an invocation it
	// did not find: should the invocation be recorded after all,
	// UnpublishedInvocations returns it.
	DropTask(ctx context.Context, id string, at time.Time) error

	// ForgetDroppedTasks removes the drop records of ids (queued again),
	// and those made before the given time whose invocation is not queued
	// (never recorded, or done).
	ForgetDroppedTasks(ctx context.Context, before time.Time, ids ...string) error

	// FindInvocation returns one invocation. Returns ENOTFOUND.
	FindInvocation(ctx context.Context, id string) (*Invocation, error)

	// ListInvocations returns a page of invocations and the cursor of the
	// next page ("" when there is none). Returns EINVALID for a bad cursor.
	ListInvocations(ctx context.Context, f InvocationFilter) ([]*Invocation, string, error)

	// StartAttempt marks an invocation running on a worker and counts the
	// attempt. Returns ECONFLICT with the invocation when it is already
	// terminal, ENOTFOUND when it does not exist.
	StartAttempt(ctx context.Context, id, worker, node string, at time.Time) (*Invocation, error)

	// FinishInvocation commits an attempt's result and logs, unless the
	// invocation is already terminal or a later attempt started; it reports
	// whether this call made it terminal.
	FinishInvocation(ctx context.Context, id string, r *Result) (bool, error)

	// FinishUnstarted commits the result of a run that was never marked
	// started (a short warm call) and counts its attempt, started at
	// r.StartedAt. It wins only while the invocation is still queued with
	// version r.VersionID and input r.Input, that is while no attempt has
	// started and nobody canceled it, and the run was what was recorded;
	// it reports whether it won.
	FinishUnstarted(ctx context.Context, id string, r *Result) (bool, error)

	// CancelInvocation marks a queued or running invocation canceled.
	// Returns ECONFLICT when it is already terminal, ENOTFOUND.
	CancelInvocation(ctx context.Context, id string, at time.Time) (*Invocation, error)

	// AppendLogs stores log lines of an invocation.
	AppendLogs(ctx context.Context, id string, lines []LogLine) error

	// InvocationLogs returns an invocation's log lines after seq, in order.
	InvocationLogs(ctx context.Context, id string, afterSeq int) ([]LogLine, error)
}
