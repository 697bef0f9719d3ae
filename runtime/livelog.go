package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/orc-gateway/orc"
)

// Bounds of the live log: the defaults of Config's fields, and what a line
// costs beyond its text (its stream, time and JSON framing on the wire).
const (
	defaultLiveLogRate  = 16 << 10
	defaultLiveLogLine  = 2 << 10
	defaultLiveLogEvery = 250 * time.Millisecond
	liveLineOverhead    = 64
)

// liveLog follows what one attempt's container writes and publishes it as
// log events while the container runs, so that whoever watches the
// invocation sees its lines as they are written. The stored log, written
// when the attempt ends, stays the authoritative copy.
//
// Lines are batched: the first line after a publish arms a timer, and
// everything read until it fires goes out as one event, so an attempt
// publishes at most one event per interval and none while it writes
// nothing. They are bounded: a token bucket allows the configured bytes
// per second (a second's worth at once), a line longer than the line cap
// is cut, and the lines over the budget are counted and reported as
// skipped in the next event. Publishing never blocks (orc.LogPublisher),
// so a slow broker never slows the run.
//
// A line of stdout that is a JSON value may be the plugin's output (the
// exec protocol's last JSON line on stdout), which post hooks may still
// rewrite or withhold: it is held back until a later one shows it is not,
// and dropped at the end. A stdout line over the cap is never sent, for
// the same reason.
type liveLog struct {
	pub     orc.LogPublisher
	clock   orc.Clock
	id      string
	attempt int
	every   time.Duration
	rate    float64 // bytes per second, and the bucket's size
	lineMax int

	stdout, stderr lineWriter

	mu       sync.Mutex
	lines    []orc.LiveLine
	skipped  int
	tokens   float64
	refilled time.Time
	held     *orc.LiveLine
	timer    *time.Timer // a publish is due; nil when nothing waits
	closed   bool
}

// newLiveLog returns the live log of an attempt, with cfg's bounds.
func newLiveLog(cfg *Config, pub orc.LogPublisher, clock orc.Clock, id string, attempt int) *liveLog {
	l := &liveLog{pub: pub, clock: clock, id: id, attempt: attempt, every: cfg.LiveLogEvery,
		rate: float64(cfg.LiveLogRate), lineMax: cfg.LiveLogLine, tokens: float64(cfg.LiveLogRate), refilled: clock.Now()}
	l.stdout = lineWriter{l: l, stream: "stdout"}
	l.stderr = lineWriter{l: l, stream: "stderr"}
	return l
}

// close publishes what is left, but a held stdout line (the output), and
// stops the live log. The writers must be done with: call it once the run
// has returned.
func (l *liveLog) close() {
	l.stdout.end()
	l.stderr.end()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.publish()
}

// line takes one complete line of a stream; cut is how many bytes past
// the line cap were dropped from it.
func (l *liveLog) line(stream string, text []byte, cut int) {
	now := l.clock.Now()
	s := sanitize(string(bytes.TrimSuffix(text, []byte("\r"))))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if stream == "stdout" {
		if cut > 0 {
			l.skip()
			return
		}
		if t := strings.TrimSpace(s); t != "" && json.Valid([]byte(t)) {
			earlier := l.held
			l.held = &orc.LiveLine{Stream: stream, Time: now, Line: s}
			if earlier != nil {
				l.admit(*earlier, now)
			}
			return
		}
	} else if cut > 0 {
		s += fmt.Sprintf(" … (%d bytes more)", cut)
	}
	l.admit(orc.LiveLine{Stream: stream, Time: now, Line: s}, now)
}

// admit queues a line for the next event if the budget allows it, else
// counts it skipped. The caller holds l.mu.
func (l *liveLog) admit(line orc.LiveLine, now time.Time) {
	if d := now.Sub(l.refilled); d > 0 {
		l.tokens = min(l.rate, l.tokens+l.rate*d.Seconds())
		l.refilled = now
	}
	cost := float64(len(line.Line) + liveLineOverhead)
	if cost > l.tokens {
		l.skip()
		return
	}
	l.tokens -= cost
	l.lines = append(l.lines, line)
	l.due()
}

// skip counts a line that is not sent. The caller holds l.mu.
func (l *liveLog) skip() {
	l.skipped++
	l.due()
}

// due arms the timer of the next publish, unless it is armed. The caller
// holds l.mu.
func (l *liveLog) due() {
	if l.timer == nil {
		l.timer = time.AfterFunc(l.every, l.flush)
	}
}

// flush publishes what waits; the timer calls it.
func (l *liveLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	l.publish()
}

// publish sends the lines that wait, and the count of those skipped, as
// one event. It runs under l.mu, which keeps the events in order; the
// publisher does not block. The caller holds l.mu.
func (l *liveLog) publish() {
	if len(l.lines) == 0 && l.skipped == 0 {
		return
	}
	l.pub.PublishLogs(&orc.LogEvent{ID: l.id, Attempt: l.attempt, Lines: l.lines, Skipped: l.skipped})
	l.lines, l.skipped = nil, 0
}

// lineWriter splits what one stream writes into lines for its live log,
// keeping up to the line cap of a line not yet ended. The driver writes
// each stream from one goroutine.
type lineWriter struct {
	l      *liveLog
	stream string
	buf    []byte
	cut    int
}

// Write never fails: the driver's demultiplexer must not stop.
func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		chunk, rest, ended := bytes.Cut(p, []byte("\n"))
		room := max(w.l.lineMax-len(w.buf), 0)
		if len(chunk) > room {
			w.cut += len(chunk) - room
			chunk = chunk[:room]
		}
		w.buf = append(w.buf, chunk...)
		if !ended {
			break
		}
		w.l.line(w.stream, w.buf, w.cut)
		w.buf, w.cut = w.buf[:0], 0
		p = rest
	}
	return n, nil
}

// end takes the last line, which ended without a newline.
func (w *lineWriter) end() {
	if len(w.buf) > 0 || w.cut > 0 {
		w.l.line(w.stream, w.buf, w.cut)
		w.buf, w.cut = w.buf[:0], 0
	}
}

// sanitize makes a line text that every reader takes, as the stored log
// does: invalid UTF-8 and NUL characters become U+FFFD.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
