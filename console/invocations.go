package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// statuses are the invocation statuses a list can be filtered by.
var statuses = []orc.Status{orc.StatusQueued, orc.StatusRunning, orc.StatusSucceeded, orc.StatusFailed,
	orc.StatusTimedOut, orc.StatusCanceled, orc.StatusDead, orc.StatusRejected, orc.StatusExpired}

type invocationsData struct {
	Plugin, Version, Status, Owner string
	// Since and Until are the time filters as the form's datetime-local
	// inputs show them (UTC); SinceAt and UntilAt as the API reads them.
	Since, Until, SinceAt, UntilAt string
	Statuses                       []orc.Status
	Items                          []*orc.Invocation
	// Next is the query of the next page, "" on the last.
	Next template.URL
	// Paged is set on pages after the first: new invocations are not
	// added to them live.
	Paged bool
}

// invocationFilters are the list filters the page passes to the API.
var invocationFilters = []string{"plugin", "version", "status", "since", "until", "owner_id"}

// handleInvocations lists the invocations the user may see, newest first,
// filtered as the API filters them. A filter the API refuses shows its
// reason above the form, which keeps what was typed.
func (c *Console) handleInvocations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &invocationsData{Plugin: q.Get("plugin"), Version: q.Get("version"), Status: q.Get("status"), Owner: q.Get("owner_id"), Statuses: statuses}
	api, filter := listQuery(q, invocationFilters...)
	d.Since, d.SinceAt = formTime(api, "since")
	d.Until, d.UntilAt = formTime(api, "until")
	p := &page{Title: "Invocations", Nav: "invocations", Data: d}
	var pg listPage[*orc.Invocation]
	if _, err := c.call(r, http.MethodGet, "/api/v1/invocations?"+api.Encode(), nil, &pg); err != nil {
		c.listRefused(w, r, err, "invocations", p)
		return
	}
	d.Items, d.Paged, d.Next = pg.Items, q.Get("cursor") != "", nextPage(filter, pg.NextCursor)
	c.render(w, r, http.StatusOK, "invocations", p)
}

// listRefused shows a list page whose filters the API refused (400) with
// the reason above its form, which keeps what was typed; any other error
// is an error page.
func (c *Console) listRefused(w http.ResponseWriter, r *http.Request, err error, name string, p *page) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		c.fail(w, r, err)
		return
	}
	p.Problem = ae.Message
	c.render(w, r, http.StatusBadRequest, name, p)
}

// The forms of a datetime-local input's value: a time of day without a
// zone, to the minute or to the second.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// formTime reads the time filter name of an API query: a datetime-local
// input's value, which the console takes as UTC (the time its pages show),
// becomes RFC 3339 for the API. It returns the value for the input and
// the value the API gets; RFC 3339 (from a link) goes to the API as it is,
// and anything else too, for the API to refuse.
func formTime(api url.Values, name string) (input, rfc3339 string) {
	v := api.Get(name)
	if v == "" {
		return "", ""
	}
	for _, layout := range localLayouts {
		if at, err := time.Parse(layout, v); err == nil {
			api.Set(name, at.Format(time.RFC3339))
			return v, api.Get(name)
		}
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return v, v
	}
	return localInput(at), v
}

// localInput is a time as a datetime-local input shows it, in UTC.
func localInput(at time.Time) string {
	at = at.UTC()
	if at.Second() == 0 && at.Nanosecond() == 0 {
		return at.Format(localLayouts[0])
	}
	return at.Format(localLayouts[1])
}

type invocationData struct {
	Inv      *orc.Invocation
	Attempts []orc.Attempt
	Logs     []orc.LogLine
	Mine     bool
	// Versions are the plugin's other versions, to replay the input on.
	Versions []string
	// History is the invocation's statuses in time, from its record and
	// its attempts.
	History []historyEntry
}

// historyEntry is one change of an invocation's status.
type historyEntry struct {
	At     time.Time
	Status orc.Status
	Detail string
}

// history puts an invocation's changes in order: accepted, each attempt's
// start and end, the end.
func history(inv *orc.Invocation, attempts []orc.Attempt) []historyEntry {
	h := []historyEntry{{At: inv.CreatedAt, Status: orc.StatusQueued, Detail: "accepted"}}
	for _, a := range attempts {
		where := a.Worker
		if a.Node != "" {
			where += " on " + a.Node
		}
		h = append(h, historyEntry{At: a.StartedAt, Status: orc.StatusRunning, Detail: fmt.Sprintf("attempt %d started by %s", a.Attempt, where)})
		if a.FinishedAt != nil && a.Status != "" {
			d := fmt.Sprintf("attempt %d ended", a.Attempt)
			if a.Error != nil {
				d += ": " + a.Error.Code
			}
			h = append(h, historyEntry{At: *a.FinishedAt, Status: a.Status, Detail: d})
		}
	}
	sort.SliceStable(h, func(i, j int) bool { return h[i].At.Before(h[j].At) })
	if inv.FinishedAt != nil && inv.Status.Terminal() {
		last := h[len(h)-1]
		if last.Status != inv.Status || !last.At.Equal(*inv.FinishedAt) {
			h = append(h, historyEntry{At: *inv.FinishedAt, Status: inv.Status, Detail: "final"})
			sort.SliceStable(h, func(i, j int) bool { return h[i].At.Before(h[j].At) })
		}
	}
	return h
}

// handleInvocation shows one invocation: status, input, output, error,
// timing, attempts and logs.
func (c *Console) handleInvocation(w http.ResponseWriter, r *http.Request) {
	id := url.PathEscape(chi.URLParam(r, "id"))
	d := &invocationData{}
	if _, err := c.call(r, http.MethodGet, "/api/v1/invocations/"+id, nil, &d.Inv); err != nil {
		c.fail(w, r, err)
		return
	}
	var attempts struct {
		Attempts []orc.Attempt `json:"attempts"`
	}
	if _, err := c.call(r, http.MethodGet, "/api/v1/invocations/"+id+"/attempts", nil, &attempts); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Attempts = attempts.Attempts
	d.History = history(d.Inv, d.Attempts)
	var logs struct {
		Lines []orc.LogLine `json:"lines"`
	}
	if _, err := c.call(r, http.MethodGet, "/api/v1/invocations/"+id+"/logs", nil, &logs); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Logs = logs.Lines
	u := userOf(r)
	d.Mine = d.Inv.OwnerID == u.ID || u.Admin()
	if u.CanInvoke() && len(d.Inv.Input) > 0 {
		d.Versions = c.replayVersions(r, d.Inv)
	}
	notice := map[string]string{"cancel": "Cancel requested.", "retry": "This is a new invocation with the same input."}[r.URL.Query().Get("done")]
	c.render(w, r, http.StatusOK, "invocation", &page{Title: "Invocation " + d.Inv.ID, Nav: "invocations", Notice: notice, Data: d})
}

// handleCancel cancels an invocation and shows it.
func (c *Console) handleCancel(w http.ResponseWriter, r *http.Request) {
	c.act(w, r, "cancel", func(*orc.Invocation) string { return chi.URLParam(r, "id") })
}

// handleRetry runs a finished invocation again as a new one and shows
// the new one.
func (c *Console) handleRetry(w http.ResponseWriter, r *http.Request) {
	c.act(w, r, "retry", func(inv *orc.Invocation) string { return inv.ID })
}

// act posts an invocation's action and sends the browser to the
// invocation that shows its effect.
func (c *Console) act(w http.ResponseWriter, r *http.Request, action string, shown func(*orc.Invocation) string) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	var inv orc.Invocation
	if _, err := c.call(r, http.MethodPost, "/api/v1/invocations/"+url.PathEscape(chi.URLParam(r, "id"))+"/"+action, nil, &inv); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/invocations/"+url.PathEscape(shown(&inv))+"?done="+action, http.StatusSeeOther)
}

// listPage is a page of an API list.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// pageSize is how many items a console list shows at a time.
const pageSize = "50"

// listQuery picks a list page's filters from its query: the API's query
// (with the cursor and the page size) and the filters alone.
func listQuery(q url.Values, filters ...string) (api, filter url.Values) {
	api, filter = url.Values{}, url.Values{}
	for _, k := range filters {
		if v := q.Get(k); v != "" {
			api.Set(k, v)
			filter.Set(k, v)
		}
	}
	if c := q.Get("cursor"); c != "" {
		api.Set("cursor", c)
	}
	api.Set("limit", pageSize)
	return api, filter
}

// nextPage is the query of the page after this one: the same filters and
// the API's cursor; "" on the last page. It is a template.URL so that a
// template writing it after a link's '?' keeps its '=' and '&' (a string
// there is escaped as one query value).
func nextPage(filter url.Values, cursor string) template.URL {
	if cursor == "" {
		return ""
	}
	next := url.Values{"cursor": {cursor}}
	for k, v := range filter {
		next[k] = v
	}
	return template.URL(next.Encode()) // url.Values.Encode escapes every value
}
