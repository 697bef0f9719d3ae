package runtime

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// stepClock is a clock the test moves. Only the test's goroutine reads
// it: the live log reads its clock when a line is written.
type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// logRecorder keeps the log events published, and may note each in a
// shared sequence of what happened.
type logRecorder struct {
	mu     sync.Mutex
	events []*orc.LogEvent
	seq    *[]string
}

func (r *logRecorder) PublishLogs(e *orc.LogEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.seq != nil {
		*r.seq = append(*r.seq, "logs")
	}
}

func (r *logRecorder) published() []*orc.LogEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*orc.LogEvent(nil), r.events...)
}

// lines returns the lines of every event as "stream: text".
func (r *logRecorder) lines() []string {
	var out []string
	for _, e := range r.published() {
		for _, l := range e.Lines {
			out = append(out, l.Stream+": "+l.Line)
		}
	}
	return out
}

// newTestLiveLog returns a live log that publishes only when flushed or
// closed (its timer is an hour), with a clock the test moves.
func newTestLiveLog(rate, lineMax int) (*liveLog, *logRecorder, *stepClock) {
	cfg := Config{LiveLogRate: rate, LiveLogLine: lineMax, LiveLogEvery: time.Hour}
	cfg.setDefaults()
	rec := &logRecorder{}
	clock := &stepClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newLiveLog(&cfg, rec, clock, "inv-1", 2), rec, clock
}

// TestLiveLogLines: what the streams write, in pieces, becomes lines in
// order, each with its stream and time, in one event per flush; a line
// left without a newline goes out at the end; nothing is published while
// nothing was written.
func TestLiveLogLines(t *testing.T) {
	l, rec, clock := newTestLiveLog(0, 0)
	io.WriteString(&l.stderr, "loading the mo")
	io.WriteString(&l.stderr, "del\r\nepoch 1\n")
	io.WriteString(&l.stdout, "step 1\n\nstep")
	if got := rec.published(); len(got) != 0 {
		t.Fatalf("published before the interval: %+v", got)
	}
	l.flush()
	l.flush() // nothing new: no event
	events := rec.published()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if e.ID != "inv-1" || e.Attempt != 2 || e.Skipped != 0 {
		t.Errorf("event %+v, want inv-1's attempt 2 and nothing skipped", e)
	}
	if e.Lines[0].Time != clock.Now() {
		t.Errorf("line time %v, want the clock's %v", e.Lines[0].Time, clock.Now())
	}
	io.WriteString(&l.stderr, "no newline at the end")
	l.close()
	io.WriteString(&l.stderr, "after the end\n")
	l.flush()
	want := []string{"stderr: loading the model", "stderr: epoch 1", "stdout: step 1", "stdout: ",
		"stdout: step", "stderr: no newline at the end"}
	if got := rec.lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	if n := len(rec.published()); n != 2 {
		t.Errorf("%d events, want 2 (a flush, then the close)", n)
	}

	quiet, rec, _ := newTestLiveLog(0, 0)
	quiet.close()
	if n := len(rec.published()); n != 0 {
		t.Errorf("a run that wrote nothing published %d events", n)
	}
}

// TestLiveLogTimer: lines written together go out in one event once the
// interval has passed, without a flush.
func TestLiveLogTimer(t *testing.T) {
	cfg := Config{LiveLogEvery: 30 * time.Millisecond}
	cfg.setDefaults()
	rec := &logRecorder{}
	l := newLiveLog(&cfg, rec, orc.SystemClock{}, "inv-1", 1)
	for i := range 5 {
		fmt.Fprintf(&l.stderr, "line %d\n", i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.published()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if events := rec.published(); len(events) != 1 || len(events[0].Lines) != 5 {
		t.Fatalf("events %+v, want the 5 lines in one", events)
	}
	l.close()
	if n := len(rec.published()); n != 1 {
		t.Errorf("%d events after the close, want still 1", n)
	}
}

// TestLiveLogRate: past its budget an attempt's lines are skipped and
// counted, the count goes out with the next event, and the budget refills
// with time, up to a second's worth.
func TestLiveLogRate(t *testing.T) {
	// Each line costs 100 bytes of a budget of 1,000 bytes a second.
	l, rec, clock := newTestLiveLog(1000, 0)
	line := strings.Repeat("x", 100-liveLineOverhead) + "\n"
	for range 25 {
		io.WriteString(&l.stderr, line)
	}
	l.flush()
	clock.t = clock.t.Add(300 * time.Millisecond) // 3 lines' worth
	for range 5 {
		io.WriteString(&l.stderr, line)
	}
	l.flush()
	clock.t = clock.t.Add(time.Hour) // refills to one second's worth, no more
	for range 12 {
		io.WriteString(&l.stderr, line)
	}
	l.close()
	events := rec.published()
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	for i, want := range []struct{ lines, skipped int }{{10, 15}, {3, 2}, {10, 2}} {
		if got := events[i]; len(got.Lines) != want.lines || got.Skipped != want.skipped {
			t.Errorf("event %d: %d lines, %d skipped; want %d and %d", i, len(got.Lines), got.Skipped, want.lines, want.skipped)
		}
	}
}

// TestLiveLogLineCap: a long stderr line is cut and says by how much; a
// long stdout line, which may be the output, is skipped.
func TestLiveLogLineCap(t *testing.T) {
	l, rec, _ := newTestLiveLog(0, 10)
	io.WriteString(&l.stderr, "0123456789abcdef")
	io.WriteString(&l.stderr, "ghij\nshort\n")
	io.WriteString(&l.stdout, `{"secret":"a long output"}`+"\n")
	l.close()
	want := []string{"stderr: 0123456789 … (10 bytes more)", "stderr: short"}
	if got := rec.lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	if e := rec.published()[0]; e.Skipped != 1 {
		t.Errorf("skipped %d, want the long stdout line", e.Skipped)
	}
}

// TestLiveLogHoldsTheOutput: a stdout line that is a JSON value is sent
// only once a later one shows it is not the output; the last one, the
// output, never is (post hooks may still rewrite or withhold it).
func TestLiveLogHoldsTheOutput(t *testing.T) {
	l, rec, _ := newTestLiveLog(0, 0)
	io.WriteString(&l.stdout, "loading\n"+`{"progress": 0.5}`+"\nbetween\n"+`  {"label":"cat","secret":1}  `+"\n")
	io.WriteString(&l.stderr, "42\n") // stderr is the log, JSON or not
	l.close()
	want := []string{"stdout: loading", "stdout: between", `stdout: {"progress": 0.5}`, "stderr: 42"}
	if got := rec.lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	for _, line := range rec.lines() {
		if strings.Contains(line, "secret") {
			t.Errorf("the output went out: %q", line)
		}
	}
}

// TestLiveLogText: NUL characters and invalid UTF-8 become U+FFFD, as in
// the stored log.
func TestLiveLogText(t *testing.T) {
	l, rec, _ := newTestLiveLog(0, 0)
	io.WriteString(&l.stderr, "a\x00b\xffc\n")
	l.close()
	if got := rec.lines(); len(got) != 1 || got[0] != "stderr: a\uFFFDb\uFFFDc" {
		t.Errorf("lines %q", got)
	}
}

// streamingDriver writes lines to the run's stderr before it answers, as
// a container would.
type streamingDriver struct {
	fakeDriver
	write string
	seq   *[]string
}

func (d *streamingDriver) RunStreaming(ctx context.Context, spec *orc.ContainerSpec, stdout, stderr io.Writer) (*orc.ContainerResult, error) {
	io.WriteString(stderr, d.write)
	*d.seq = append(*d.seq, "run returns")
	return d.Run(ctx, spec)
}

// committingStore notes the commit of a result in the shared sequence.
type committingStore struct {
	*fakeStore
	seq *[]string
}

func (s committingStore) FinishInvocation(ctx context.Context, id string, r *orc.Result) (bool, error) {
	*s.seq = append(*s.seq, "commit")
	return s.fakeStore.FinishInvocation(ctx, id, r)
}

// TestHandleLiveLog: a fresh container's lines go out as a log event of
// its attempt before its result is committed, and into the stored log as
// ever; without a driver that can stream, or with the live log off, there
// is no event.
func TestHandleLiveLog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		streaming bool
		rate      int
		events    int
	}{
		{"streaming driver", true, 0, 1},
		{"driver that cannot stream", false, 0, 0},
		{"live log off", true, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &orc.ContainerResult{Stdout: []byte(`{"label":"cat"}` + "\n"), Stderr: []byte("epoch 1\nepoch 2\n")}
			w, store, drv, _ := newTestWorker(res)
			if tc.rate != 0 {
				w.cfg.LiveLogRate = tc.rate
			}
			var seq []string
			rec := &logRecorder{seq: &seq}
			w.LiveLogs = rec
			w.Invocations = committingStore{store, &seq}
			if tc.streaming {
				w.Driver = &streamingDriver{fakeDriver: *drv, write: "epoch 1\nepoch 2\n", seq: &seq}
			}
			if err := w.Handle(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			events := rec.published()
			if len(events) != tc.events {
				t.Fatalf("%d log events, want %d", len(events), tc.events)
			}
			if tc.events > 0 {
				e := events[0]
				if e.ID != "inv-1" || e.Attempt != 1 || len(e.Lines) != 2 || e.Lines[1].Line != "epoch 2" {
					t.Errorf("event %+v, want the attempt's two lines", e)
				}
				if got := strings.Join(seq, ", "); got != "run returns, logs, commit" {
					t.Errorf("sequence %q, want the log event before the commit", got)
				}
			}
			if !hasLog(store.logs, "epoch 2") {
				t.Errorf("stored log %+v lacks the lines", store.logs)
			}
		})
	}
}
