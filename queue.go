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
}

// MaxTaskInput is the largest input a task carries.
const MaxTaskInput = 64 << 10

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

// Publisher queues tasks.
type Publisher interface {
	// Publish queues t persistently and returns once the broker confirmed
	// it. Returns EUNAVAILABLE when the broker cannot take it.
	Publish(ctx context.Context, t *Task) error
}
