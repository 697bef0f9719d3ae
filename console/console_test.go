package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

func TestReturnTo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/console/plugins?q=a", "/console/plugins?q=a"},
		{"/console/", "/console/"},
		{"", "/console/"},
		{"https://evil.example/console/", "/console/"},
		{"//evil.example/console/", "/console/"},
		{"/\\evil.example", "/console/"},
		{"/console/\t/x", "/console/"},
		{"/api/v1/users", "/console/"},
		{"/consolex", "/console/"},
		{"javascript:alert(1)", "/console/"},
	} {
		if got := returnTo(tc.in); got != tc.want {
			t.Errorf("returnTo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSnippets(t *testing.T) {
	r := httptest.NewRequest("GET", "http://orc.example:5900/console/plugins/x", nil)
	input := json.RawMessage(`{"name": "it's", "ok": true, "n": null}`)
	got := map[string]string{}
	for _, s := range snippets(r, "hello", "1.0.0-rc.1+b", false, input) {
		got[s.ID] = s.Code
	}
	for id, want := range map[string][]string{
		"curl":   {`'http://orc.example:5900/invoke/hello?version=1.0.0-rc.1%2Bb'`, `-d '{"name":"it'\''s","ok":true,"n":null}'`, `$ORC_TOKEN`},
		"cli":    {`orc invoke 'hello' --version '1.0.0-rc.1+b'`},
		"go":     {`client.InvokeOptions{Version: "1.0.0-rc.1+b"}`, "[]byte(`{\"name\":\"it's\",\"ok\":true,\"n\":null}`)"},
		"python": {`{"n": None, "name": "it's", "ok": True}`, `os.environ["ORC_TOKEN"]`},
	} {
		for _, w := range want {
			if !strings.Contains(got[id], w) {
				t.Errorf("%s snippet:\n%s\nwant it to contain %s", id, got[id], w)
			}
		}
	}
	// The latest version is called without naming it.
	for _, s := range snippets(r, "hello", "2.0.0", true, input) {
		if strings.Contains(s.Code, "2.0.0") {
			t.Errorf("%s names the latest version: %s", s.ID, s.Code)
		}
	}
}

func TestServerTiming(t *testing.T) {
	got := serverTiming("queue;dur=7.1, cold;dur=231.7, run;dur=58.7")
	if len(got) != 3 || got[0].Name != "queue" || got[1].Value != "231.7 ms" || got[2].Name != "run" {
		t.Errorf("serverTiming = %+v", got)
	}
}

func TestOutline(t *testing.T) {
	rows := outline(json.RawMessage(`{"type":"object","required":["a"],"$defs":{"p":{"type":"object","properties":{"x":{"type":"integer","minimum":1}}}},
		"properties":{"a":{"$ref":"#/$defs/p"},"b":{"type":"array","items":{"type":"string","format":"uri"}},"c":{"$ref":"#/$defs/c"}}}`))
	var paths []string
	for _, r := range rows {
		paths = append(paths, r.Path+":"+r.Type)
	}
	want := "a:object a.x:integer b:array b[]:string (uri) c:any"
	if strings.Join(paths, " ") != want || !rows[0].Required || rows[1].Rules != "≥ 1" {
		t.Errorf("outline = %v (%+v), want %s", paths, rows, want)
	}
}

func TestListQuery(t *testing.T) {
	q := url.Values{"plugin": {"echo"}, "status": {""}, "cursor": {"c1"}, "done": {"cancel"}, "x": {"y"}}
	api, filter := listQuery(q, "plugin", "status")
	if got := api.Encode(); got != "cursor=c1&limit=50&plugin=echo" {
		t.Errorf("api query %q", got)
	}
	if got := filter.Encode(); got != "plugin=echo" {
		t.Errorf("filter %q, want the filters without cursor or page state", got)
	}
	if got := nextPage(filter, "c2"); got != "cursor=c2&plugin=echo" {
		t.Errorf("next page %q", got)
	}
	if got := nextPage(filter, ""); got != "" {
		t.Errorf("next page of the last %q", got)
	}
	// Written after a link's '?', as the list pages write it, it stays a
	// query of several parameters.
	var b strings.Builder
	link := template.Must(template.New("").Parse(`<a href="/console/invocations?{{.}}">`))
	if err := link.Execute(&b, nextPage(url.Values{"plugin": {"a b&c"}}, "c2")); err != nil || b.String() != `<a href="/console/invocations?cursor=c2&amp;plugin=a&#43;b%26c">` {
		t.Errorf("link %s (%v)", b.String(), err)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.4: 1, 1: 1, 3: 5, 12: 20, 100: 100, 101: 200, 999: 1000, 4500: 5000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestChartGaps(t *testing.T) {
	v := gaps(4)
	v[1], v[2] = 3, 0
	c := newChart("t", " ms", time.Unix(0, 0), series{Name: "x", Class: "c", Values: v})
	if c.Max != "5 ms" || len(c.Series[0].Lines) != 1 || c.Series[0].Last != "0 ms" {
		t.Errorf("chart: %+v", c)
	}
	// Minutes 1 and 2 make one line of two steps: four points.
	if pts := strings.Fields(c.Series[0].Lines[0]); len(pts) != 4 || pts[0] != "60.0,24.0" || pts[3] != "180.0,60.0" {
		t.Errorf("line: %q", c.Series[0].Lines[0])
	}
}

func TestHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	end1, end2, fin := at(300), at(900), at(900)
	inv := &orc.Invocation{CreatedAt: t0, Status: orc.StatusSucceeded, FinishedAt: &fin}
	attempts := []orc.Attempt{
		{Attempt: 2, Worker: "w2", StartedAt: at(500), FinishedAt: &end2, Status: orc.StatusSucceeded},
		{Attempt: 1, Worker: "w1", Node: "n1", StartedAt: at(100), FinishedAt: &end1, Status: orc.StatusFailed, Error: &orc.InvocationError{Code: "plugin_failed"}},
	}
	var got []string
	for _, e := range history(inv, attempts) {
		got = append(got, fmt.Sprintf("%d %s %s", e.At.Sub(t0).Milliseconds(), e.Status, e.Detail))
	}
	want := []string{
		"0 queued accepted",
		"100 running attempt 1 started by w1 on n1",
		"300 failed attempt 1 ended: plugin_failed",
		"500 running attempt 2 started by w2",
		"900 succeeded attempt 2 ended",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Canceled before it ran: accepted, then the end.
	inv = &orc.Invocation{CreatedAt: t0, Status: orc.StatusCanceled, FinishedAt: &end1}
	if h := history(inv, nil); len(h) != 2 || h[1].Status != orc.StatusCanceled {
		t.Errorf("canceled before it ran: %+v", h)
	}
}
