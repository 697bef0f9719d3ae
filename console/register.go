package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/orc-gateway/orc"
)

// maxManifest bounds a posted plugin.json with its form; the API takes
// bodies of at most 1 MiB.
const maxManifest = 1<<20 + 64<<10

type registerData struct {
	// Text is the plugin.json in the editor.
	Text string
	// From names the plugin whose latest version filled the editor.
	From string
	// Problems are the API's violations, by JSON pointer into the text.
	Problems []orc.Problem
}

// authored is a version as its author writes it in plugin.json, in the
// order of its fields: without what the gateway sets.
type authored struct {
	*orc.Version
	ID        any `json:"id,omitempty"`
	CreatedAt any `json:"created_at,omitempty"`
}

// handleRegisterPage offers to register a version: a plugin.json pasted
// or uploaded; ?plugin= fills the editor with that plugin's latest
// version, to change and register as the next.
func (c *Console) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	d := &registerData{}
	if name := r.URL.Query().Get("plugin"); name != "" {
		var p orc.Plugin
		var v orc.Version
		path := "/api/v1/plugins/" + url.PathEscape(name)
		if _, err := c.call(r, http.MethodGet, path, nil, &p); err != nil {
			c.fail(w, r, err)
			return
		}
		if _, err := c.call(r, http.MethodGet, path+"/versions/"+url.PathEscape(p.LatestVersion), nil, &v); err != nil {
			c.fail(w, r, err)
			return
		}
		raw, err := json.Marshal(authored{Version: &v})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Text, d.From = prettyJSON(raw), name
	}
	c.render(w, r, http.StatusOK, "register", &page{Title: "Register a version", Nav: "plugins", Data: d})
}

// handleRegister posts the plugin.json (the uploaded file, else the
// editor's text) to the API and shows the new version, or what the API
// refused and where.
func (c *Console) handleRegister(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxManifest)
	// The page posts multipart (for the file); a form without a file may
	// come urlencoded.
	err := r.ParseMultipartForm(1 << 20)
	if errors.Is(err, http.ErrNotMultipart) {
		err = r.ParseForm()
	}
	if err != nil {
		c.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "The form could not be read: a plugin.json is at most 1 MiB."})
		return
	}
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll() //nolint:errcheck // temporary files
	}
	if err := c.cfg.Identity.CheckFormToken(r, r.FormValue("csrf")); err != nil {
		c.fail(w, r, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: orc.ErrorMessage(err)})
		return
	}
	text := r.FormValue("manifest")
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if len(bytes.TrimSpace(b)) > 0 {
			text = string(b)
		}
	}
	d := &registerData{Text: text}
	raw := bytes.TrimSpace([]byte(text))
	if !json.Valid(raw) {
		c.render(w, r, http.StatusBadRequest, "register", &page{Title: "Register a version", Nav: "plugins", Data: d,
			Problem: "That is not valid JSON: paste or upload a plugin.json."})
		return
	}
	var v orc.Version
	if _, err := c.call(r, http.MethodPost, "/api/v1/plugins", json.RawMessage(raw), &v); err != nil {
		ae, ok := formProblem(err)
		if !ok {
			c.fail(w, r, err)
			return
		}
		if len(ae.Details) > 0 {
			json.Unmarshal(ae.Details, &d.Problems) //nolint:errcheck // the message is shown either way
		}
		c.render(w, r, ae.Status, "register", &page{Title: "Register a version", Nav: "plugins", Data: d, Problem: ae.Message})
		return
	}
	http.Redirect(w, r, Prefix+"/plugins/"+url.PathEscape(v.Plugin)+"?"+url.Values{"version": {v.Version}, "done": {"register"}}.Encode(), http.StatusSeeOther)
}
