package orc

import (
	"context"
	"encoding/json"
	"time"
)

// Task is the message that asks a worker to run an invocation. The
// invocation's input lives in the store; a task may carry a copy of a small
// one (Input) so that a worker can call a warm container before it reads
// the store.
type Task struct {
	InvocationID string `json:"invocation_id"`
	VersionID    int64  `json:"version_id"`
	Pool         string `json:"pool"`
	Priority     int    `json:"priority,omitempty"`
	// ReplyTo names the gateway queue waiting for the result of a
	// synchronous call; empty for asynchronous ones.
	ReplyTo string `json:"reply_to,omitempty"`
	// Input is the invocation's input as stored, for versions of the http
	// protocol when it is small (MaxTaskInput); CreatedAt is when the
	// invocation was recorded.
	Input     json.RawMessage `json:"input,omitempty"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
	// Redrives is the invocation's redrive count when the task was
	// queued: a dead letter of a task queued before the latest redrive is
	// stale and changes nothing.
	Redrives int `json:"redrives,omitempty"`
}

// MaxTaskInput is the largest input a task carries.
const MaxTaskInput = 64 << 10

// NewTask returns the task of an invocation; replyTo names the queue of a
// gateway waiting for a synchronous result. When v is the invocation's
// version and speaks the http protocol, a small input travels with the
// task, so that a worker can call a warm container before it reads the
// store; v may be nil.
func NewTask(inv *Invocation, v *Version, replyTo string) *Task {
	t := &Task{InvocationID: inv.ID, VersionID: inv.VersionID, Pool: inv.Pool,
		Priority: inv.Priority, ReplyTo: replyTo, CreatedAt: inv.CreatedAt, Redrives: inv.Redrives}
	if v != nil && v.Protocol == ProtocolHTTP && v.ID == inv.VersionID && len(inv.Input) <= MaxTaskInput {
		t.Input = inv.Input
	}
	return t
}

// Reply is what a worker sends back to the gateway waiting on a synchronous
// invocation, once the result is committed.
type Reply struct {
	InvocationID string           `json:"invocation_id"`
	Status       Status           `json:"status"`
	Output       json.RawMessage  `json:"output,omitempty"`
	Error        *InvocationError `json:"error,omitempty"`
	Version      string           `json:"version"`
	Timing       Timing           `json:"timing"`
	ColdStart    bool             `json:"cold_start"`
}

// Reply returns the reply that tells a waiting gateway the invocation's
// state.
func (inv *Invocation) Reply() *Reply {
	return &Reply{InvocationID: inv.ID, Status: inv.Status, Output: inv.Output, Error: inv.Error,
		Version: inv.Version, Timing: inv.Timing, ColdStart: inv.ColdStart}
}

// Publisher queues tasks.
type Publisher interface {
	// Publish queues t persistently and returns once the broker confirmed
	// it. Returns EUNAVAILABLE when the broker cannot take it.
	Publish(ctx context.Context, t *Task) error
}
