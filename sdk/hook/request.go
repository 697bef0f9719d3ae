package hook

import (
	"bytes"
	"strings"
)

// Request is the request of one hook call (ABI v1). Its fields are read on
// demand from the JSON, so reading only what a hook needs costs only that.
// A Request, and the Values it returns, are valid only during the call of
// the handler that got it: the next call reuses the bytes.
type Request struct {
	d *doc
}

// NewRequest returns the Request whose JSON is raw, e.g. for tests of a
// handler. It does not copy raw.
func NewRequest(raw []byte) Request { return Request{d: &doc{b: raw}} }

// Raw returns the request JSON.
func (r Request) Raw() []byte {
	if r.d == nil {
		return nil
	}
	return r.d.b
}

// Get returns the value at path in the request, e.g. "input.amount",
// "input.items.0.price" or "principal.roles.0"; see Value.Get.
func (r Request) Get(path string) Value { return r.root().Get(path) }

func (r Request) root() Value {
	if r.d == nil {
		return Value{}
	}
	return r.d.root()
}

// Phase returns "pre" (before the plugin runs) or "post" (after).
func (r Request) Phase() string { return r.root().Key("phase").String() }

// InvocationID returns the id of the invocation.
func (r Request) InvocationID() string { return r.root().Key("invocation_id").String() }

// Plugin returns the name of the invoked plugin.
func (r Request) Plugin() string { return r.root().Get("plugin.name").String() }

// Version returns the version of the invoked plugin.
func (r Request) Version() string { return r.root().Get("plugin.version").String() }

// Subject returns who invoked (the principal's subject).
func (r Request) Subject() string { return r.root().Get("principal.subject").String() }

// Roles returns the roles of who invoked.
func (r Request) Roles() []string {
	var roles []string
	for v := range r.root().Get("principal.roles").Items() {
		roles = append(roles, v.String())
	}
	return roles
}

// HasRole reports whether who invoked has role.
func (r Request) HasRole(role string) bool {
	for v := range r.root().Get("principal.roles").Items() {
		if string(v.Bytes()) == role {
			return true
		}
	}
	return false
}

// Header returns the value of the invoke request's header name (any case),
// or "" when it was not sent. Authorization, Cookie and Proxy-Authorization
// are never passed to hooks.
func (r Request) Header(name string) string {
	name = strings.ToLower(name)
	return r.root().Key("headers").Key(name).String()
}

// Input returns a copy of the input JSON, or nil when there is none.
func (r Request) Input() []byte { return rawCopy(r.root().Key("input")) }

// Output returns a copy of the plugin's output JSON (post phase), or nil
// when there is none.
func (r Request) Output() []byte { return rawCopy(r.root().Key("output")) }

func rawCopy(v Value) []byte {
	if v.Kind() == Missing || v.Kind() == Null {
		return nil
	}
	return bytes.Clone(v.Raw())
}
