package console

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
)

// The overview: what needs attention, the last hour as small charts, and
// the latest invocations (updated live).

// overviewMinutes is the window of the overview's charts.
const overviewMinutes = 60

type overviewData struct {
	Latest    []*orc.Invocation
	Attention []attention
	// Totals sum the window: invocations, error rate and latency.
	Invocations int
	ErrorRate   string
	P50, P95    string
	Charts      []*chart
	// Cluster is set when the user may see the pools' charts.
	Cluster bool
}

// attention is one thing that needs someone: a sentence and where to act.
type attention struct {
	Text, Link string
	// Bad marks something broken, not merely waiting.
	Bad bool
}

// stats is GET /api/v1/stats.
type stats struct {
	Since   time.Time          `json:"since"`
	Minutes []*orc.MinuteStats `json:"minutes"`
	Total   orc.MinuteStats    `json:"total"`
	Pools   []*orc.PoolSample  `json:"pools"`
}

// readiness is GET /readyz.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleOverview is the start page.
func (c *Console) handleOverview(w http.ResponseWriter, r *http.Request) {
	d := &overviewData{}
	var pg listPage[*orc.Invocation]
	if _, err := c.call(r, http.MethodGet, "/api/v1/invocations?limit=10", nil, &pg); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Latest = pg.Items
	var st stats
	if _, err := c.call(r, http.MethodGet, "/api/v1/stats?minutes="+strconv.Itoa(overviewMinutes), nil, &st); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Cluster = st.Pools != nil
	d.summarize(&st)
	d.Attention = c.attention(r, d.Cluster)
	c.render(w, r, http.StatusOK, "overview", &page{Title: "Overview", Nav: "overview", Data: d})
}

// attention gathers what needs someone: a dependency down or degraded,
// pools that cannot be placed, paused workers, dead letters.
func (c *Console) attention(r *http.Request, cluster bool) []attention {
	var out []attention
	var ready readiness
	// /readyz answers 503 with its checks when something is down.
	if a, err := c.call(r, http.MethodGet, "/readyz", nil, &ready); err == nil || (a != nil && a.status == http.StatusServiceUnavailable) {
		names := make([]string, 0, len(ready.Checks))
		for name := range ready.Checks {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if v := ready.Checks[name]; v != "ok" {
				link := ""
				if cluster && (name == "scheduler" || name == "workers") {
					link = Prefix + "/cluster"
				}
				out = append(out, attention{Text: name + ": " + v, Link: link, Bad: ready.Status != "degraded"})
			}
		}
	}
	if cluster {
		var cl clusterData
		if _, err := c.call(r, http.MethodGet, "/api/v1/cluster", nil, &cl); err == nil {
			for _, p := range cl.Pools {
				if p.State == "unschedulable" || p.State == "waiting" {
					text := "pool " + p.Pool + " is " + p.State
					if p.Reason != "" {
						text += ": " + p.Reason
					}
					out = append(out, attention{Text: text, Link: Prefix + "/cluster", Bad: p.State == "unschedulable"})
				}
			}
		}
	}
	var dead listPage[*orc.DeadLetter]
	if _, err := c.call(r, http.MethodGet, "/api/v1/dead-letters?limit=100", nil, &dead); err == nil && len(dead.Items) > 0 {
		n := strconv.Itoa(len(dead.Items))
		if dead.NextCursor != "" {
			n += " or more"
		}
		noun := "dead letters wait"
		if len(dead.Items) == 1 && dead.NextCursor == "" {
			noun = "dead letter waits"
		}
		out = append(out, attention{Text: n + " " + noun + " to be redriven or discarded", Link: Prefix + "/dead-letters", Bad: true})
	}
	return out
}

// summarize turns the window's statistics into totals and charts.
// Minutes without data are gaps (NaN), not zeros: a minute without
// invocations has no latency, and no sample before the gateways ran.
func (d *overviewData) summarize(st *stats) {
	n := overviewMinutes
	at := func(t time.Time) int { return int(t.Sub(st.Since) / time.Minute) }
	calls, failed := make([]float64, n), make([]float64, n)
	p50, p95, rate := gaps(n), gaps(n), gaps(n)
	for _, m := range st.Minutes {
		i := at(m.At)
		if i < 0 || i >= n {
			continue
		}
		calls[i], failed[i] = float64(m.Invocations), float64(m.Failed)
		if done := m.Succeeded + m.Failed; done > 0 {
			p50[i], p95[i], rate[i] = m.P50MS, m.P95MS, 100*float64(m.Failed)/float64(done)
		}
	}
	t := st.Total
	d.Invocations = t.Invocations
	if ended := t.Succeeded + t.Failed; ended > 0 {
		d.ErrorRate = fmt.Sprintf("%.1f%%", 100*float64(t.Failed)/float64(ended))
		d.P50, d.P95 = fmt.Sprintf("%.0f ms", t.P50MS), fmt.Sprintf("%.0f ms", t.P95MS)
	}
	d.Charts = append(d.Charts,
		newChart("Invocations per minute", "", st.Since, series{Name: "all", Class: "s-calls", Values: calls, Bars: true},
			series{Name: "failed", Class: "s-bad", Values: failed, Bars: true}),
		newChart("Latency, accepted to final", " ms", st.Since, series{Name: "p95", Class: "s-p95", Values: p95, Bars: true},
			series{Name: "p50", Class: "s-p50", Values: p50, Bars: true}),
		newChart("Error rate", "%", st.Since, series{Name: "failed of ended", Class: "s-bad", Values: rate, Bars: true}),
	)
	if st.Pools == nil {
		return
	}
	queued := map[string][]float64{}
	warm, workers := gaps(n), gaps(n)
	for _, s := range st.Pools {
		i := at(s.At)
		if i < 0 || i >= n {
			continue
		}
		if queued[s.Pool] == nil {
			queued[s.Pool] = gaps(n)
		}
		queued[s.Pool][i] = float64(s.Queued)
		warm[i] = zeroNaN(warm[i]) + float64(s.Warm)
		workers[i] = zeroNaN(workers[i]) + float64(s.Workers)
	}
	pools := make([]string, 0, len(queued))
	for p := range queued {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	var qs []series
	for i, p := range pools {
		qs = append(qs, series{Name: p, Class: "s-pool" + strconv.Itoa(i%4), Values: queued[p]})
	}
	d.Charts = append(d.Charts,
		newChart("Queue depth by pool", "", st.Since, qs...),
		newChart("Warm containers", "", st.Since, series{Name: "warm", Class: "s-warm", Values: warm}),
		newChart("Workers", "", st.Since, series{Name: "live", Class: "s-calls", Values: workers}),
	)
}

// gaps returns n minutes without data.
func gaps(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// A chart is a small SVG drawn on the server: lines or bars over the
// window's minutes, with the greatest value as its scale.
type chart struct {
	Title string
	// Max is the scale's top, shown; Last the latest value of each series.
	Max    string
	Series []drawn
	// From is when the window starts, for the axis.
	From string
	// Summary describes the chart for screen readers.
	Summary string
}

type series struct {
	Name, Class string
	Values      []float64
	Bars        bool
}

// drawn is a series as SVG: polylines (one per run of minutes with
// data), or bars.
type drawn struct {
	Name, Class, Last string
	Lines             []string
	Bars              []bar
}

type bar struct{ X, Y, W, H string }

// chartW and chartH are the charts' view box.
const chartW, chartH = 240.0, 60.0

func newChart(title, unit string, since time.Time, ss ...series) *chart {
	c := &chart{Title: title, From: since.UTC().Format("15:04")}
	top := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	scale := niceCeil(top)
	c.Max = trimFloat(scale) + unit
	var sum []string
	for _, s := range ss {
		dr := drawn{Name: s.Name, Class: s.Class, Last: "–"}
		for i := len(s.Values) - 1; i >= 0; i-- {
			if !math.IsNaN(s.Values[i]) {
				dr.Last = trimFloat(s.Values[i]) + unit
				break
			}
		}
		step := chartW / float64(max(len(s.Values), 1))
		var run []string
		flush := func() {
			if len(run) > 0 {
				dr.Lines = append(dr.Lines, strings.Join(run, " "))
			}
			run = nil
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				flush()
				continue
			}
			y := f1(chartH - v/scale*chartH)
			if s.Bars {
				if v > 0 {
					dr.Bars = append(dr.Bars, bar{X: f1(float64(i)*step + step*0.1), Y: y, W: f1(step * 0.8), H: f1(v / scale * chartH)})
				}
				continue
			}
			// Each minute is a step of the line, so that a lone minute
			// shows too.
			run = append(run, f1(float64(i)*step)+","+y, f1(float64(i+1)*step)+","+y)
		}
		flush()
		c.Series = append(c.Series, dr)
		sum = append(sum, s.Name+" now "+dr.Last)
	}
	c.Summary = title + " over the last hour, up to " + c.Max + ": " + strings.Join(sum, ", ")
	return c
}

// niceCeil rounds a chart's top up to 1, 2 or 5 times a power of ten, so
// that its scale reads well; at least 1.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func trimFloat(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
