package console

import (
	"bytes"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// Replay runs an invocation's input on another version of its plugin, and
// the compare page shows the two side by side: outputs with their
// differences marked, statuses and timings. It is the check an author
// makes before a new version takes the traffic.

// replayVersions lists the versions of an invocation's plugin other than
// its own, newest first, for the replay form; nil when there are none or
// they cannot be read.
func (c *Console) replayVersions(r *http.Request, inv *orc.Invocation) []string {
	var versions []*orc.Version
	if _, err := c.call(r, http.MethodGet, "/api/v1/plugins/"+url.PathEscape(inv.Plugin)+"/versions", nil, &versions); err != nil {
		return nil
	}
	var out []string
	for i := len(versions) - 1; i >= 0; i-- {
		if v := versions[i].Version; v != inv.Version {
			out = append(out, v)
		}
	}
	return out
}

// handleReplay runs the invocation's input on the version posted, as a
// new invocation of the user's (asynchronously), and shows the two side
// by side.
func (c *Console) handleReplay(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	var inv orc.Invocation
	if _, err := c.call(r, http.MethodGet, "/api/v1/invocations/"+url.PathEscape(chi.URLParam(r, "id")), nil, &inv); err != nil {
		c.fail(w, r, err)
		return
	}
	version := r.PostForm.Get("version")
	if version == "" || version == inv.Version {
		c.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "Choose another version to replay on."})
		return
	}
	path := "/invoke/" + url.PathEscape(inv.Plugin) + "?version=" + url.QueryEscape(version)
	h := http.Header{"Content-Type": {"application/json"}, "Prefer": {"respond-async"}}
	a, err := c.send(r, http.MethodPost, path, bytes.NewReader(inv.Input), h, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	replay := a.header.Get("X-Orc-Invocation-Id")
	http.Redirect(w, r, Prefix+"/compare?"+url.Values{"a": {inv.ID}, "b": {replay}}.Encode(), http.StatusSeeOther)
}

type compareData struct {
	A, B *orc.Invocation
	// Changes are where B's output differs from A's, by JSON pointer.
	Changes []change
	More    bool
	// LinesA and LinesB are the outputs, their differing lines marked.
	LinesA, LinesB []line
	Marked         bool
	// Done is set when both have ended.
	Done bool
	// Follow is the invocation the page reloads for, "" when both ended.
	Follow, FollowStatus string
}

// handleCompare shows two invocations side by side (?a=&b=): the first
// is the reference.
func (c *Console) handleCompare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &compareData{}
	for _, side := range []struct {
		id  string
		out **orc.Invocation
	}{{q.Get("a"), &d.A}, {q.Get("b"), &d.B}} {
		if side.id == "" {
			c.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "Name two invocations to compare: ?a= and ?b=."})
			return
		}
		if _, err := c.call(r, http.MethodGet, "/api/v1/invocations/"+url.PathEscape(side.id), nil, side.out); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	d.Done = d.A.Status.Terminal() && d.B.Status.Terminal()
	switch {
	case !d.B.Status.Terminal():
		d.Follow, d.FollowStatus = d.B.ID, string(d.B.Status)
	case !d.A.Status.Terminal():
		d.Follow, d.FollowStatus = d.A.ID, string(d.A.Status)
	}
	if d.Done {
		d.Changes, d.More = diffJSON(d.A.Output, d.B.Output)
		d.LinesA, d.LinesB, d.Marked = sideBySide(prettyJSON(d.A.Output), prettyJSON(d.B.Output))
	}
	c.render(w, r, http.StatusOK, "compare", &page{Title: "Compare", Nav: "invocations", Data: d})
}
