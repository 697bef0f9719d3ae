package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// The pages that manage access: everyone's API keys, and for admins the
// users, the audit log and the policy. Each is a form over the API's
// routes; the API decides who may do what.

// roles are the roles, widest first.
var roles = []orc.Role{orc.RoleAdmin, orc.RoleDeveloper, orc.RoleInvoker, orc.RoleViewer}

// keyLifetimes are the lifetimes a new key may be given on the form, in
// seconds ("" lasts until revoked).
var keyLifetimes = []struct{ Seconds, Label string }{
	{"", "never"}, {"86400", "in a day"}, {"2592000", "in 30 days"}, {"7776000", "in 90 days"}, {"31536000", "in a year"},
}

type keysData struct {
	Keys []*orc.APIKey
	// All is set when an admin lists everyone's keys.
	All bool
	// Created is a key just created, and Secret the key itself: shown on
	// this answer only.
	Created *orc.APIKey
	Secret  string
	// Roles are the roles a new key may have: the user's and narrower.
	Roles     []orc.Role
	Lifetimes any
	Name      string
}

// handleKeys lists the user's API keys (an admin's: everyone's with
// ?all=true) and offers to create and revoke them.
func (c *Console) handleKeys(w http.ResponseWriter, r *http.Request) {
	c.keysPage(w, r, http.StatusOK, &keysData{}, "")
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, status int, d *keysData, problem string) {
	u := userOf(r)
	path := "/api/v1/api-keys"
	if u.Admin() && r.URL.Query().Get("all") == "true" {
		d.All, path = true, path+"?all=true"
	}
	if _, err := c.call(r, http.MethodGet, path, nil, &d.Keys); err != nil {
		c.fail(w, r, err)
		return
	}
	for _, role := range roles {
		if u.Role.Covers(role) {
			d.Roles = append(d.Roles, role)
		}
	}
	d.Lifetimes = keyLifetimes
	p := &page{Title: "API keys", Nav: "keys", Problem: problem, Data: d}
	if r.URL.Query().Get("done") == "revoke" {
		p.Notice = "Revoked: the key no longer signs anything in."
	}
	c.render(w, r, status, "keys", p)
}

// handleCreateKey creates a key and shows it, once, on the answer.
func (c *Console) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	body := map[string]any{"name": f.Get("name")}
	if role := f.Get("role"); role != "" {
		body["role"] = role
	}
	if s := f.Get("expires_in"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			c.keysPage(w, r, http.StatusBadRequest, &keysData{Name: f.Get("name")}, "Choose when the key expires from the list.")
			return
		}
		body["expires_in"] = n
	}
	var created struct {
		orc.APIKey
		Key string `json:"key"`
	}
	if _, err := c.call(r, http.MethodPost, "/api/v1/api-keys", body, &created); err != nil {
		if ae, ok := formProblem(err); ok {
			c.keysPage(w, r, ae.Status, &keysData{Name: f.Get("name")}, ae.Message)
			return
		}
		c.fail(w, r, err)
		return
	}
	c.keysPage(w, r, http.StatusCreated, &keysData{Created: &created.APIKey, Secret: created.Key}, "")
}

// handleRevokeKey revokes a key.
func (c *Console) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	if _, err := c.call(r, http.MethodDelete, "/api/v1/api-keys/"+url.PathEscape(chi.URLParam(r, "id")), nil, nil); err != nil {
		c.fail(w, r, err)
		return
	}
	to := Prefix + "/keys?done=revoke"
	if r.PostForm.Get("all") == "true" {
		to += "&all=true"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// formProblem tells an error the user can fix on the form (the API's
// refusal, shown on the page) from one that is shown as an error page.
func formProblem(err error) (*apiError, bool) {
	ae, ok := err.(*apiError)
	return ae, ok && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound
}

// usersPageSize is how many users the users page shows at a time.
const usersPageSize = 100

type usersData struct {
	Users []*orc.User
	Roles []orc.Role
	// Next is the query of the next page, "" on the last.
	Next template.URL
	// Form is what was posted to create a user, kept when it was refused.
	Form url.Values
}

// handleUsers lists the accounts and offers to create one, change a role
// and disable or enable an account. Admins only, as the API.
func (c *Console) handleUsers(w http.ResponseWriter, r *http.Request) {
	c.usersPage(w, r, http.StatusOK, nil, "")
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, status int, form url.Values, problem string) {
	q := url.Values{"limit": {strconv.Itoa(usersPageSize)}}
	if after := r.URL.Query().Get("after_id"); after != "" {
		q.Set("after_id", after)
	}
	d := &usersData{Roles: roles, Form: form}
	if _, err := c.call(r, http.MethodGet, "/api/v1/users?"+q.Encode(), nil, &d.Users); err != nil {
		c.fail(w, r, err)
		return
	}
	if len(d.Users) == usersPageSize {
		d.Next = template.URL(url.Values{"after_id": {strconv.FormatInt(d.Users[len(d.Users)-1].ID, 10)}}.Encode())
	}
	p := &page{Title: "Users", Nav: "users", Problem: problem, Data: d}
	switch r.URL.Query().Get("done") {
	case "create":
		p.Notice = "Created."
	case "update":
		p.Notice = "Saved: it holds from the account's next request."
	}
	c.render(w, r, status, "users", p)
}

// handleCreateUser creates an account.
func (c *Console) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	body := map[string]string{"email": f.Get("email"), "name": f.Get("name"), "role": f.Get("role"), "password": f.Get("password")}
	if _, err := c.call(r, http.MethodPost, "/api/v1/users", body, nil); err != nil {
		if ae, ok := formProblem(err); ok {
			kept := url.Values{"email": {f.Get("email")}, "name": {f.Get("name")}, "role": {f.Get("role")}}
			c.usersPage(w, r, ae.Status, kept, ae.Message)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/admin/users?done=create", http.StatusSeeOther)
}

// handleUpdateUser changes an account's role, or disables or enables it.
func (c *Console) handleUpdateUser(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	body := map[string]any{}
	if role := f.Get("role"); role != "" {
		body["role"] = role
	}
	switch f.Get("disabled") {
	case "true":
		body["disabled"] = true
	case "false":
		body["disabled"] = false
	}
	if len(body) == 0 {
		c.usersPage(w, r, http.StatusBadRequest, nil, "Nothing to change.")
		return
	}
	if _, err := c.call(r, http.MethodPatch, "/api/v1/users/"+url.PathEscape(chi.URLParam(r, "id")), body, nil); err != nil {
		if ae, ok := formProblem(err); ok {
			c.usersPage(w, r, ae.Status, nil, ae.Message)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/admin/users?done=update", http.StatusSeeOther)
}

type auditData struct {
	Items         []*orc.AuditEvent
	Action, Actor string
	Next          template.URL
	Paged         bool
	KnownActions  []string
}

// auditActions are the actions the audit page's filter offers.
var auditActions = []string{
	orc.AuditSignIn, orc.AuditSignOut, orc.AuditUserCreate, orc.AuditUserUpdate, orc.AuditKeyCreate, orc.AuditKeyRevoke,
	orc.AuditPluginCreate, orc.AuditVersionCreate, orc.AuditPluginDelete, orc.AuditHookCreate, orc.AuditHookDelete,
	orc.AuditDeadLetterRedrive, orc.AuditDeadLetterDiscard, orc.AuditPolicyUpdate,
}

// handleAudit shows the audit log, newest first, filtered by action and
// actor. Admins only, as the API.
func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	api, filter := listQuery(q, "action", "actor_id")
	var pg listPage[*orc.AuditEvent]
	if _, err := c.call(r, http.MethodGet, "/api/v1/audit?"+api.Encode(), nil, &pg); err != nil {
		c.fail(w, r, err)
		return
	}
	d := &auditData{Items: pg.Items, Action: q.Get("action"), Actor: q.Get("actor_id"), KnownActions: auditActions,
		Paged: q.Get("cursor") != "", Next: nextPage(filter, pg.NextCursor)}
	c.render(w, r, http.StatusOK, "audit", &page{Title: "Audit log", Nav: "audit", Data: d})
}

type policyData struct {
	Policy *orc.Policy
	// Text is the policy as the editor shows it: the one in force, or
	// what was posted and refused.
	Text string
}

// handlePolicy shows the policy in force; admins edit it as JSON.
func (c *Console) handlePolicy(w http.ResponseWriter, r *http.Request) {
	c.policyPage(w, r, http.StatusOK, "", "")
}

func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, status int, text, problem string) {
	d := &policyData{Text: text}
	a, err := c.call(r, http.MethodGet, "/api/v1/policy", nil, &d.Policy)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if d.Text == "" {
		d.Text = prettyJSON(a.body.Bytes())
	}
	p := &page{Title: "Policy", Nav: "policy", Problem: problem, Data: d}
	if r.URL.Query().Get("done") == "save" {
		p.Notice = "Saved: it applies to registrations from now on."
	}
	c.render(w, r, status, "policy", p)
}

// handleSavePolicy replaces the policy with the posted JSON.
func (c *Console) handleSavePolicy(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	text := r.PostForm.Get("policy")
	raw := json.RawMessage(bytes.TrimSpace([]byte(text)))
	if !json.Valid(raw) {
		c.policyPage(w, r, http.StatusBadRequest, text, "The policy is not valid JSON.")
		return
	}
	if _, err := c.call(r, http.MethodPut, "/api/v1/policy", raw, nil); err != nil {
		if ae, ok := formProblem(err); ok {
			c.policyPage(w, r, ae.Status, text, ae.Message)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/policy?done=save", http.StatusSeeOther)
}
