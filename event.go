package orc

import (
	"context"
	"time"
)

// InvocationEvent says that an invocation was created or changed status.
// Events are best effort: a reader that needs the truth reads the
// invocation; events only tell it when to look. Plugin, Version and
// OwnerID are set on creation and may be empty on later events.
type InvocationEvent struct {
	ID      string    `json:"id"`
	Status  Status    `json:"status"`
	Plugin  string    `json:"plugin,omitempty"`
	Version string    `json:"version,omitempty"`
	OwnerID int64     `json:"owner_id,omitempty"`
	At      time.Time `json:"at"`
}

// LogEvent carries log lines of a running attempt, sent while its
// container writes them (the live log). Like invocation events, log
// events are best effort and bounded: the invocation's stored log,
// written when the attempt ends, is the authoritative copy.
type LogEvent struct {
	ID      string     `json:"id"`
	Attempt int        `json:"attempt"`
	Lines   []LiveLine `json:"lines"`
	// Skipped counts the lines before these that were not sent: over the
	// live log's rate, or too long to send.
	Skipped int `json:"skipped,omitempty"`
}

// LiveLine is one line of a live log: the stream it was written to
// (stdout or stderr), when the worker read it, and its text.
type LiveLine struct {
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Line   string    `json:"line"`
}

// LogPublisher sends log events to whoever follows the invocation.
// PublishLogs must not block: an event it cannot send at once is
// dropped.
type LogPublisher interface {
	PublishLogs(e *LogEvent)
}

// EventPublisher sends invocation events to whoever listens (the
// gateways' live views). PublishEvent must not block: an event it cannot
// send at once is dropped.
type EventPublisher interface {
	PublishEvent(e *InvocationEvent)
}

// WithEvents returns invocations that also publish an event each time one
// is created, rejected, started, finished or canceled through them. The
// optional interfaces of s stay reachable through the result's Unwrap
// method (see UnwrapInvocations).
func WithEvents(s InvocationService, p EventPublisher, clock Clock) InvocationService {
	if clock == nil {
		clock = SystemClock{}
	}
	return &publishing{InvocationService: s, p: p, clock: clock}
}

type publishing struct {
	InvocationService
	p     EventPublisher
	clock Clock
}

// Unwrap returns the invocations that s publishes the events of.
func (s *publishing) Unwrap() InvocationService { return s.InvocationService }

// UnwrapInvocations returns s, then what each wrapper around it wraps, in
// turn: a caller looking for an optional interface of the store tries
// each.
func UnwrapInvocations(s InvocationService) []InvocationService {
	chain := []InvocationService{s}
	for {
		u, ok := s.(interface{ Unwrap() InvocationService })
		if !ok {
			return chain
		}
		s = u.Unwrap()
		chain = append(chain, s)
	}
}

func (s *publishing) event(inv *Invocation) { s.p.PublishEvent(EventOf(inv, s.clock.Now())) }

// EventOf is the event of an invocation's status at a time.
func EventOf(inv *Invocation, at time.Time) *InvocationEvent {
	return &InvocationEvent{ID: inv.ID, Status: inv.Status, Plugin: inv.Plugin, Version: inv.Version, OwnerID: inv.OwnerID, At: at}
}

func (s *publishing) CreateInvocation(ctx context.Context, inv *Invocation) (*Invocation, bool, error) {
	out, created, err := s.InvocationService.CreateInvocation(ctx, inv)
	if err == nil && created {
		s.event(out)
	}
	return out, created, err
}

func (s *publishing) RecordRejected(ctx context.Context, inv *Invocation, logs []LogLine) error {
	err := s.InvocationService.RecordRejected(ctx, inv, logs)
	if err == nil {
		s.event(inv)
	}
	return err
}

func (s *publishing) StartAttempt(ctx context.Context, id, worker, node string, at time.Time) (*Invocation, error) {
	inv, err := s.InvocationService.StartAttempt(ctx, id, worker, node, at)
	if err == nil {
		s.event(inv)
	}
	return inv, err
}

func (s *publishing) FinishInvocation(ctx context.Context, id string, r *Result) (bool, error) {
	won, err := s.InvocationService.FinishInvocation(ctx, id, r)
	if err == nil && won {
		s.p.PublishEvent(&InvocationEvent{ID: id, Status: r.Status, At: s.clock.Now()})
	}
	return won, err
}

func (s *publishing) FinishUnstarted(ctx context.Context, id string, r *Result) (bool, error) {
	won, err := s.InvocationService.FinishUnstarted(ctx, id, r)
	if err == nil && won {
		s.p.PublishEvent(&InvocationEvent{ID: id, Status: r.Status, At: s.clock.Now()})
	}
	return won, err
}

func (s *publishing) CancelInvocation(ctx context.Context, id string, at time.Time) (*Invocation, error) {
	inv, err := s.InvocationService.CancelInvocation(ctx, id, at)
	if err == nil {
		s.event(inv)
	}
	return inv, err
}

// DeadLettersWithEvents returns dead letters that also publish an event
// when an invocation dies (MarkDead) or is redriven through them.
func DeadLettersWithEvents(d DeadLetterService, p EventPublisher, clock Clock) DeadLetterService {
	if clock == nil {
		clock = SystemClock{}
	}
	return &publishingDead{DeadLetterService: d, p: p, clock: clock}
}

type publishingDead struct {
	DeadLetterService
	p     EventPublisher
	clock Clock
}

func (s *publishingDead) MarkDead(ctx context.Context, id string, d Death, e *InvocationError, at time.Time) (bool, error) {
	won, err := s.DeadLetterService.MarkDead(ctx, id, d, e, at)
	if err == nil && won {
		s.p.PublishEvent(&InvocationEvent{ID: id, Status: StatusDead, At: s.clock.Now()})
	}
	return won, err
}

func (s *publishingDead) RedriveDeadLetter(ctx context.Context, id string) (*Invocation, error) {
	inv, err := s.DeadLetterService.RedriveDeadLetter(ctx, id)
	if err == nil {
		s.p.PublishEvent(EventOf(inv, s.clock.Now()))
	}
	return inv, err
}
