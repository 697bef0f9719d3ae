package orc

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent is one entry of the audit log: who did what to what.
type AuditEvent struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id,omitempty"`
	ActorEmail string          `json:"actor_email,omitempty"`
	Method     string          `json:"method,omitempty"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type,omitempty"`
	Target     string          `json:"target,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
}

// Audited actions.
const (
	AuditSignIn        = "auth.sign_in"
	AuditSignOut       = "auth.sign_out"
	AuditUserCreate    = "user.create"
	AuditUserUpdate    = "user.update"
	AuditKeyCreate     = "api_key.create"
	AuditKeyRevoke     = "api_key.revoke"
	AuditPluginCreate  = "plugin.create"
	AuditVersionCreate = "plugin.version.create"
	AuditPluginDelete  = "plugin.delete"
	AuditHookCreate    = "hook.create"
	AuditHookDelete    = "hook.delete"
	AuditPolicyUpdate  = "policy.update"
	// A redrive of one dead letter (its target) or of a filter's (none).
	AuditDeadLetterRedrive = "dead_letter.redrive"
	AuditDeadLetterDiscard = "dead_letter.discard"
)

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	ActorID int64
	Action  string
	Cursor  string
	Limit   int
}

// AuditService keeps the audit log.
type AuditService interface {
	// RecordAudit appends an event and sets its id and time.
	RecordAudit(ctx context.Context, e *AuditEvent) error

	// ListAudit returns a page of events and the cursor of the next page.
	// Returns EINVALID for a bad cursor.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, string, error)
}
