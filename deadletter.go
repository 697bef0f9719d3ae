package orc

import (
	"context"
	"time"
)

// Attempt is one attempt at an invocation: a delivery of its task that a
// worker started to run. An attempt without an end (FinishedAt nil) never
// committed a result: its worker died, lost the broker or was stopped, or
// failed before it could commit, and the task was delivered again (or
// dead-lettered).
type Attempt struct {
	Attempt    int              `json:"attempt"`
	Worker     string           `json:"worker"`
	Node       string           `json:"node,omitempty"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	Status     Status           `json:"status,omitempty"`
	Error      *InvocationError `json:"error,omitempty"`
}

// DeadLetter is a dead invocation an operator has not dealt with yet: its
// task was dead-lettered by the broker, and it was neither redriven since
// nor discarded.
type DeadLetter struct {
	*Invocation
	// Reason is the broker's: "delivery_limit" (delivered too often
	// without a result), "rejected", "expired".
	Reason string `json:"reason"`
	// Deliveries is how many times the broker delivered the task before it
	// gave up on it, when the broker says; 0 when it does not.
	Deliveries int `json:"deliveries,omitempty"`
	// DeadAt is when the invocation was marked dead.
	DeadAt time.Time `json:"dead_at"`
	// History holds every attempt, oldest first; filled in by
	// FindDeadLetter only.
	History []Attempt `json:"attempt_history,omitempty"`
}

// Death is how a task was dead-lettered, as the broker tells it.
type Death struct {
	Reason     string
	Deliveries int
	// Redrives is the redrive of the invocation the task was for (the
	// task's Redrives): a dead letter of an earlier one is stale.
	Redrives int
}

// DeadLetterFilter selects dead letters. Results are the most recently
// dead first.
type DeadLetterFilter struct {
	Plugin  string
	Version string
	Reason  string
	// Since and Until bound DeadAt (Since inclusive, Until exclusive);
	// zero means unbounded.
	Since, Until time.Time
	OwnerID      int64 // 0 means everyone's
	Cursor       string
	Limit        int
}

// MaxBulkRedrive is the most dead letters one bulk redrive queues again.
const MaxBulkRedrive = 100

// DeadLetterService keeps the dead letters and what redriving them needs.
type DeadLetterService interface {
	// MarkDead records that an invocation's task was dead-lettered: a
	// queued or running invocation, at redrive d.Redrives, becomes dead
	// with the error and enters the dead-letter list. It reports whether
	// it did; a final or since redriven invocation is left alone. Returns
	// ENOTFOUND.
	MarkDead(ctx context.Context, id string, d Death, e *InvocationError, at time.Time) (bool, error)

	// ListDeadLetters returns a page of dead letters and the cursor of the
	// next page ("" when there is none). Returns EINVALID for a bad cursor.
	ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]*DeadLetter, string, error)

	// FindDeadLetter returns a dead letter with its attempts. Returns
	// ENOTFOUND when the invocation does not exist or is not in the list.
	FindDeadLetter(ctx context.Context, id string) (*DeadLetter, error)

	// RedriveDeadLetter puts a dead letter back in the queued state, its
	// task not yet published, and counts the redrive: of concurrent
	// callers exactly one wins. Attempts count on. Returns ENOTFOUND, and
	// ECONFLICT (with the invocation) when it is not in the list (any
	// more) or its version was deleted.
	RedriveDeadLetter(ctx context.Context, id string) (*Invocation, error)

	// InvocationAttempts returns the attempts at an invocation, oldest
	// first. Returns ENOTFOUND.
	InvocationAttempts(ctx context.Context, id string) ([]Attempt, error)

	// DiscardDeadLetter takes a dead letter out of the list; the
	// invocation stays dead. Returns ENOTFOUND when it is not in the list.
	DiscardDeadLetter(ctx context.Context, id string) error
}
