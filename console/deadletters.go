package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

type deadLettersData struct {
	Plugin, Version, Reason string
	// Since and Until are the time filters as the form's pickers show
	// them (UTC).
	Since, Until string
	Items        []*orc.DeadLetter
	Next         template.URL
	// Filter is the list's query, for the bulk redrive.
	Filter string
}

// deadLetterFilters are the list filters the page passes to the API.
var deadLetterFilters = []string{"plugin", "version", "reason", "since", "until", "owner_id"}

// handleDeadLetters lists the dead letters the user may see, with their
// reason, deliveries and attempts, and offers redrive (one, or all that
// the filters select) and discard.
func (c *Console) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &deadLettersData{Plugin: q.Get("plugin"), Version: q.Get("version"), Reason: q.Get("reason")}
	api, filter := listQuery(q, deadLetterFilters...)
	d.Since, _ = formTime(api, "since")
	d.Until, _ = formTime(api, "until")
	// The bulk redrive posts the filters as the API reads them.
	for _, k := range []string{"since", "until"} {
		if v := api.Get(k); v != "" {
			filter.Set(k, v)
		}
	}
	p := &page{Title: "Dead letters", Nav: "dead", Data: d}
	var pg listPage[*orc.DeadLetter]
	if _, err := c.call(r, http.MethodGet, "/api/v1/dead-letters?"+api.Encode(), nil, &pg); err != nil {
		c.listRefused(w, r, err, "deadletters", p)
		return
	}
	d.Items, d.Filter, d.Next = pg.Items, filter.Encode(), nextPage(filter, pg.NextCursor)
	switch q.Get("done") {
	case "redrive":
		p.Notice = "Redriven: it runs again under the same id."
	case "discard":
		p.Notice = "Discarded: it stays dead and can still be retried."
	case "bulk":
		p.Notice = fmt.Sprintf("Redriven %s, skipped %s.", q.Get("n"), q.Get("skipped"))
		if q.Get("more") == "true" {
			p.Notice += " More match: redrive again."
		}
	}
	c.render(w, r, http.StatusOK, "deadletters", p)
}

// handleRedrive redrives one dead letter.
func (c *Console) handleRedrive(w http.ResponseWriter, r *http.Request) {
	c.deadLetterAction(w, r, http.MethodPost, "/redrive", "redrive")
}

// handleDiscard discards one dead letter.
func (c *Console) handleDiscard(w http.ResponseWriter, r *http.Request) {
	c.deadLetterAction(w, r, http.MethodDelete, "", "discard")
}

func (c *Console) deadLetterAction(w http.ResponseWriter, r *http.Request, method, suffix, done string) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	if _, err := c.call(r, method, "/api/v1/dead-letters/"+url.PathEscape(chi.URLParam(r, "id"))+suffix, nil, nil); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/dead-letters?done="+done, http.StatusSeeOther)
}

// handleBulkRedrive redrives what the posted filter selects (at most 100
// a time, as the API does).
func (c *Console) handleBulkRedrive(w http.ResponseWriter, r *http.Request) {
	if err := c.checkForm(r); err != nil {
		c.fail(w, r, err)
		return
	}
	filter, err := url.ParseQuery(r.PostForm.Get("filter"))
	if err != nil {
		c.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "The filter could not be read."})
		return
	}
	api := url.Values{}
	for _, k := range deadLetterFilters {
		if v := filter.Get(k); v != "" {
			api.Set(k, v)
		}
	}
	var out struct {
		Redriven []string `json:"redriven"`
		Skipped  int      `json:"skipped"`
		More     bool     `json:"more"`
	}
	if _, err := c.call(r, http.MethodPost, "/api/v1/dead-letters/redrive?"+api.Encode(), nil, &out); err != nil {
		c.fail(w, r, err)
		return
	}
	back := url.Values{"done": {"bulk"}, "n": {fmt.Sprint(len(out.Redriven))}, "skipped": {fmt.Sprint(out.Skipped)}, "more": {fmt.Sprint(out.More)}}
	http.Redirect(w, r, Prefix+"/dead-letters?"+back.Encode(), http.StatusSeeOther)
}
