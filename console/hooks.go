package console

import (
	"bytes"
	"io"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// maxHookUpload bounds an uploaded module with its form: the API takes
// modules of at most 16 MiB.
const maxHookUpload = 16<<20 + 64<<10

type hooksData struct {
	Hooks []*orc.Hook
	Name  string
}

// handleHooks lists the hooks the user may see and offers the upload.
func (c *Console) handleHooks(w http.ResponseWriter, r *http.Request) {
	c.hooksPage(w, r, http.StatusOK, "", "")
}

func (c *Console) hooksPage(w http.ResponseWriter, r *http.Request, status int, name, problem string) {
	d := &hooksData{Name: name}
	if _, err := c.call(r, http.MethodGet, "/api/v1/hooks", nil, &d.Hooks); err != nil {
		c.fail(w, r, err)
		return
	}
	p := &page{Title: "Hooks", Nav: "hooks", Problem: problem, Data: d}
	switch r.URL.Query().Get("done") {
	case "upload":
		p.Notice = "Uploaded: the module was checked and loaded."
	case "delete":
		p.Notice = "Deleted."
	}
	c.render(w, r, status, "hooks", p)
}

// hookDetail is a hook and where it is attached
// (GET /api/v1/hooks/{hook}).
type hookDetail struct {
	orc.Hook
	AttachedTo        []*orc.HookUse `json:"attached_to"`
	AttachedElsewhere int            `json:"attached_elsewhere"`
}

// handleHook shows a hook: its digest, size, owner and the versions that
// name it.
func (c *Console) handleHook(w http.ResponseWriter, r *http.Request) {
	d := &hookDetail{}
	if _, err := c.call(r, http.MethodGet, "/api/v1/hooks/"+url.PathEscape(chi.URLParam(r, "hook")), nil, d); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "hook", &page{Title: "Hook " + d.Name, Nav: "hooks", Data: d})
}

// handleUploadHook posts an uploaded .wasm module to the API.
func (c *Console) handleUploadHook(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxHookUpload)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		c.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "The upload could not be read: a module is at most 16 MiB."})
		return
	}
	defer r.MultipartForm.RemoveAll() //nolint:errcheck // temporary files
	if err := c.cfg.Identity.CheckFormToken(r, r.FormValue("csrf")); err != nil {
		c.fail(w, r, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: orc.ErrorMessage(err)})
		return
	}
	name := r.FormValue("name")
	f, _, err := r.FormFile("module")
	if err != nil {
		c.hooksPage(w, r, http.StatusBadRequest, name, "Choose a .wasm file to upload.")
		return
	}
	defer f.Close()
	module, err := io.ReadAll(f)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	q := url.Values{"name": {name}}
	if d := r.FormValue("description"); d != "" {
		q.Set("description", d)
	}
	if r.FormValue("global") == "true" {
		q.Set("global", "true")
	}
	_, err = c.send(r, http.MethodPost, "/api/v1/hooks?"+q.Encode(), bytes.NewReader(module), http.Header{"Content-Type": {"application/wasm"}}, nil)
	if ae, ok := err.(*apiError); ok && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		c.hooksPage(w, r, ae.Status, name, ae.Message)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/hooks?done=upload", http.StatusSeeOther)
}

// handleDeleteHook deletes a hook.
func (c *Console) handleDeleteHook(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	if _, err := c.call(r, http.MethodDelete, "/api/v1/hooks/"+url.PathEscape(chi.URLParam(r, "hook")), nil, nil); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/hooks?done=delete", http.StatusSeeOther)
}
