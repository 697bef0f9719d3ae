// Package console is Orc's web console: server-rendered pages at /console/
// for people who sign in with a browser.
//
// # How it gets its data
//
// The console is a client of Orc's own REST API, called in process: each
// page asks the gateway's handler for what it shows (GET /api/v1/...) with
// the browser's session cookie, and each form it accepts becomes the API
// request it stands for. So the console has no rules of its own about who
// may see or change what: roles, tenancy (others' invocations are 404
// here too), redaction, limits and the audit log are the API's, and a page
// cannot show what the API would refuse. See docs/console.md.
//
// # Security
//
// Sessions are identity's (an HttpOnly, SameSite=Lax cookie, __Host-
// under TLS). Every form that changes something carries identity's
// FormToken, a hash of the session cookie that only the browser holding
// it can know; the sign-in form, before there is a session, carries a
// random token that must match a cookie of its own. Pages are served with
// a Content-Security-Policy that allows no inline script or style, and
// every asset is embedded in the binary.
package console
