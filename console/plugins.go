package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/console/schemaform"
)

type pluginsData struct {
	Query   string
	Plugins []*orc.Plugin
	Total   int
}

// handlePlugins is the catalogue: every plugin the user may see, searched
// by name and description.
func (c *Console) handlePlugins(w http.ResponseWriter, r *http.Request) {
	var list []*orc.Plugin
	if _, err := c.call(r, http.MethodGet, "/api/v1/plugins", nil, &list); err != nil {
		c.fail(w, r, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := &pluginsData{Query: q, Total: len(list)}
	for _, p := range list {
		if q == "" || strings.Contains(strings.ToLower(p.Name+" "+p.Description), strings.ToLower(q)) {
			d.Plugins = append(d.Plugins, p)
		}
	}
	slices.SortFunc(d.Plugins, func(a, b *orc.Plugin) int { return strings.Compare(a.Name, b.Name) })
	c.render(w, r, http.StatusOK, "plugins", &page{Title: "Plugins", Nav: "plugins", Data: d})
}

// pluginData is a plugin's page: the version shown, its schema as a form,
// and the result of the last try.
type pluginData struct {
	Plugin   *orc.Plugin
	Versions []*orc.Version
	Version  *orc.Version
	Latest   bool
	Inputs   []schemaRow
	Outputs  []schemaRow
	// Form is the generated form's fields; HasForm is false when the
	// schema needs raw JSON.
	Form    template.HTML
	HasForm bool
	// JSON is the raw editor's text; Mode is "form" or "json".
	JSON, Mode string
	// Problems are the input's violations that no form field shows.
	Problems map[string]string
	Result   *tryResult
	Snippets []snippet
}

// tryResult is what a try answered.
type tryResult struct {
	Status       int
	InvocationID string
	Output       string
	Error        *apiError
	Timing       []timing
	Async        bool
}

func (c *Console) pluginPage(r *http.Request) (*pluginData, error) {
	name := chi.URLParam(r, "plugin")
	d := &pluginData{Mode: "form"}
	if _, err := c.call(r, http.MethodGet, "/api/v1/plugins/"+url.PathEscape(name), nil, &d.Plugin); err != nil {
		return nil, err
	}
	if _, err := c.call(r, http.MethodGet, "/api/v1/plugins/"+url.PathEscape(name)+"/versions", nil, &d.Versions); err != nil {
		return nil, err
	}
	want := r.URL.Query().Get("version")
	if r.Method == http.MethodPost {
		want = r.PostForm.Get("version")
	}
	if want == "" {
		want = d.Plugin.LatestVersion
	}
	for _, v := range d.Versions {
		if v.Version == want {
			d.Version = v
		}
	}
	if d.Version == nil {
		return nil, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "This plugin has no version " + want + "."}
	}
	d.Latest = d.Version.Version == d.Plugin.LatestVersion
	d.Inputs = outline(d.Version.InputSchema)
	d.Outputs = outline(d.Version.OutputSchema)
	return d, nil
}

// handlePlugin shows a plugin: its versions, schemas and the try form.
func (c *Console) handlePlugin(w http.ResponseWriter, r *http.Request) {
	d, err := c.pluginPage(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	form := formOf(d.Version)
	if form != nil {
		d.Form, d.HasForm = form.HTML(nil, nil), true
	} else {
		d.Mode = "json"
	}
	d.JSON = "{}"
	d.Snippets = snippets(r, d.Plugin.Name, d.Version.Version, d.Latest, json.RawMessage(d.JSON))
	p := &page{Title: d.Plugin.Name, Nav: "plugins", Data: d}
	if r.URL.Query().Get("done") == "register" {
		p.Notice = "Registered version " + d.Version.Version + "."
	}
	c.render(w, r, http.StatusOK, "plugin", p)
}

// formOf compiles a version's input schema into a form, nil when the form
// cannot express it.
func formOf(v *orc.Version) *schemaform.Form {
	schema := v.InputSchema
	if len(schema) == 0 {
		schema = json.RawMessage(`{"type":"object"}`)
	}
	f, err := schemaform.New(schema)
	if err != nil || !f.Supported() {
		return nil
	}
	return f
}

// handleTry runs the plugin with the posted input (the form's or the raw
// JSON) and shows the page again with the result, or with the input's
// violations on the fields they name.
func (c *Console) handleTry(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	d, err := c.pluginPage(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	form := formOf(d.Version)
	var input json.RawMessage
	var problems map[string]string
	d.Mode = "json"
	if f.Get("mode") == "form" && form != nil {
		d.Mode = "form"
		input, problems = form.Decode(f)
	} else {
		input = json.RawMessage(strings.TrimSpace(f.Get("json")))
		if !json.Valid(input) {
			problems = map[string]string{"": "This is not valid JSON."}
		}
	}
	// The page itself is fine whatever the plugin answered; only input
	// the form could not turn into JSON makes it a 400.
	status := http.StatusOK
	if len(problems) == 0 {
		d.Result, problems = c.try(r, d.Plugin.Name, d.Version.Version, input, f.Get("async") == "1")
	} else {
		status = http.StatusBadRequest
	}
	if d.Mode == "json" {
		d.JSON = f.Get("json")
	} else {
		d.JSON = prettyJSON(input)
	}
	if form != nil {
		d.Form, d.HasForm = form.HTML(input, problems), true
	}
	if d.Mode == "json" || form == nil {
		d.Problems = problems
	}
	d.Snippets = snippets(r, d.Plugin.Name, d.Version.Version, d.Latest, input)
	c.render(w, r, status, "plugin", &page{Title: d.Plugin.Name, Nav: "plugins", Data: d})
}

// try invokes the plugin as POST /invoke/{plugin} does and returns the
// result, or the input's violations by JSON pointer.
func (c *Console) try(r *http.Request, plugin, version string, input json.RawMessage, async bool) (*tryResult, map[string]string) {
	path := "/invoke/" + url.PathEscape(plugin) + "?version=" + url.QueryEscape(version)
	h := http.Header{"Content-Type": {"application/json"}}
	if async {
		h.Set("Prefer", "respond-async")
	}
	a, err := c.send(r, http.MethodPost, path, bytes.NewReader(input), h, nil)
	res := &tryResult{Async: async}
	if a != nil {
		res.Status = a.status
		res.InvocationID = a.header.Get("X-Orc-Invocation-Id")
		res.Timing = serverTiming(a.header.Get("Server-Timing"))
	}
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on our side."}
			c.cfg.Logger.ErrorContext(r.Context(), "console try", "plugin", plugin, "err", err)
		}
		res.Status, res.Error = ae.Status, ae
		if ae.InvocationID != "" {
			res.InvocationID = ae.InvocationID
		}
		if ae.Code == orc.EINVALID && res.InvocationID == "" {
			return res, ae.violations()
		}
		return res, nil
	}
	if !async {
		res.Output = prettyJSON(a.body.Bytes())
	}
	return res, nil
}

// timing is one phase of an invocation and how long it took.
type timing struct{ Name, Value string }

// serverTiming reads the invoke answer's Server-Timing header
// (queue;dur=…, cold;dur=…, run;dur=…), in its order.
func serverTiming(h string) []timing {
	var out []timing
	for _, part := range strings.Split(h, ",") {
		name, rest, _ := strings.Cut(strings.TrimSpace(part), ";")
		if _, dur, ok := strings.Cut(rest, "dur="); ok && name != "" {
			out = append(out, timing{Name: name, Value: dur + " ms"})
		}
	}
	return out
}
