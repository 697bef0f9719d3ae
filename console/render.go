package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

// page is what every page's template gets.
type page struct {
	Title string
	// Nav is the section of the navigation the page belongs to.
	Nav  string
	User *me
	// Token is the form token every form that changes something carries.
	Token string
	// Notice and Problem are a message for the top of the page.
	Notice, Problem string
	Data            any
}

// parsePages parses each page with the layout.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"json":      prettyJSON,
		"since":     since,
		"ms":        func(v float64) string { return fmt.Sprintf("%.1f ms", v) },
		"time":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"pathq":     func(s string) string { return strings.ReplaceAll(template.URLQueryEscaper(s), "+", "%20") },
		"statusOf":  statusClass,
		"list":      func(s ...string) []string { return s },
		"resources": resources,
		"stateOf":   stateClass,
		"usable":    func(k *orc.APIKey) bool { return k.Usable(time.Now()) },
		"stamp":     func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
		"kib": func(n int) string {
			if n >= 1<<20 {
				return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
			}
			return fmt.Sprintf("%.1f KiB", float64(n)/1024)
		},
		"short": func(id string) string {
			if len(id) > 8 {
				return id[:8]
			}
			return id
		},
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := n.Name()
		if name == "layout.html" || name == "partials.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, path.Join("templates", name)))
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages
}

// render writes a page with the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := c.pages[name]
	if t == nil {
		panic("console: no page " + name)
	}
	if p.User == nil {
		p.User = userOf(r)
	}
	if p.User != nil && p.Token == "" {
		p.Token = c.cfg.Identity.FormToken(r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// fail shows an error page: the API's message for its errors, "internal
// error" (and a log line) for anything else.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		c.cfg.Logger.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong on our side."}
	}
	if ae.Status == http.StatusUnauthorized {
		http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
		return
	}
	if ae.RetryAfter() != "" {
		w.Header().Set("Retry-After", ae.RetryAfter())
	}
	c.render(w, r, ae.Status, "error", &page{Title: http.StatusText(ae.Status), Data: ae})
}

// prettyJSON indents a JSON document for reading.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// since says how long ago t was, roughly.
func since(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

// stateClass is the CSS class of a scheduler's or pool's state.
func stateClass(s string) string {
	switch s {
	case "ok", "ready":
		return "ok"
	case "scaling", "waiting":
		return "busy"
	case "unconfigured":
		return "muted"
	}
	return "bad"
}

// statusClass is the CSS class of an invocation status's badge.
func statusClass(s any) string {
	switch fmt.Sprint(s) {
	case "succeeded":
		return "ok"
	case "queued", "running":
		return "busy"
	case "canceled", "expired":
		return "muted"
	}
	return "bad"
}
