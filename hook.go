package orc

import (
	"context"
	"encoding/json"
	"time"
)

// HookPhase is when a hook runs: before the plugin (pre) or after it (post).
type HookPhase string

// Hook phases.
const (
	HookPre  HookPhase = "pre"
	HookPost HookPhase = "post"
)

// Hook is a WebAssembly module that runs on the invoke path (hook ABI v1,
// docs/hooks.md). Hooks are content addressed: SHA256 names the module.
type Hook struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	SHA256      string `json:"sha256"`
	Size        int    `json:"size"`
	// Global hooks run for every plugin, before the version's own hooks.
	Global    bool      `json:"global"`
	OwnerID   int64     `json:"owner_id"`
	CreatedAt time.Time `json:"created_at"`
	// Module is the WebAssembly binary; it is not part of the JSON form.
	Module []byte `json:"-"`
}

// HookRequest is what a hook receives (ABI v1).
type HookRequest struct {
	Phase        HookPhase         `json:"phase"`
	InvocationID string            `json:"invocation_id"`
	Plugin       HookPlugin        `json:"plugin"`
	Principal    HookPrincipal     `json:"principal"`
	Headers      map[string]string `json:"headers"`
	Input        json.RawMessage   `json:"input"`
	Output       json.RawMessage   `json:"output,omitempty"`
}

// HookPlugin names the plugin version an invocation is for.
type HookPlugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// HookPrincipal is who invoked.
type HookPrincipal struct {
	Subject string   `json:"subject"`
	Roles   []string `json:"roles"`
}

// HookReply is what a hook answers (ABI v1).
type HookReply struct {
	// Allow lets the invocation go on. When false, Status (default 403) and
	// Message are the client's answer (pre) or the invocation's failure
	// (post).
	Allow   bool   `json:"allow"`
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	// Input replaces the input (pre); Output replaces the output (post).
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	// Route sends the invocation elsewhere (pre only).
	Route *HookRoute `json:"route,omitempty"`
}

// HookRoute is where a pre hook sends an invocation.
type HookRoute struct {
	Version  string `json:"version,omitempty"`
	Pool     string `json:"pool,omitempty"`
	Priority int    `json:"priority,omitempty"`
}

// HookOutcome is what the hooks of one phase decided together.
type HookOutcome struct {
	// Input or Output is the document after every rewrite.
	Input, Output json.RawMessage
	// Route is where the pre hooks sent the invocation (the last one wins
	// field by field); nil when none did.
	Route *HookRoute
	// Logs are the hooks' output lines, stream "hook:<name>".
	Logs []LogLine
}

// HookRunner runs the hooks of a version's phase in order: the global
// hooks, then the version's own. A denial is an *Error with code EDENIED
// and the hook's status; a hook that fails is EHOOK.
type HookRunner interface {
	// HasHooks reports whether a phase has any hook to run for v.
	HasHooks(phase HookPhase, v *Version) bool
	// Run runs a phase's hooks for v on req.
	Run(ctx context.Context, req *HookRequest, v *Version) (*HookOutcome, error)
}

// HookService keeps hook modules.
type HookService interface {
	// CreateHook stores a validated hook. Returns ECONFLICT if the name is
	// taken.
	CreateHook(ctx context.Context, h *Hook) error

	// FindHook returns a hook with its module. Returns ENOTFOUND.
	FindHook(ctx context.Context, name string) (*Hook, error)

	// ListHooks returns every hook, without modules, ordered by name.
	ListHooks(ctx context.Context) ([]*Hook, error)

	// DeleteHook removes a hook. Returns ENOTFOUND, or ECONFLICT when a
	// plugin version still names it.
	DeleteHook(ctx context.Context, name string) error

	// HookUses returns the versions that name a hook, by plugin and
	// version.
	HookUses(ctx context.Context, name string) ([]*HookUse, error)
}

// HookUse is a plugin version that names a hook, and in which phase.
type HookUse struct {
	Plugin  string    `json:"plugin"`
	Version string    `json:"version"`
	Phase   HookPhase `json:"phase"`
	// OwnerID and Public are the plugin's, to tell who may see the use.
	OwnerID int64 `json:"-"`
	Public  bool  `json:"-"`
}
