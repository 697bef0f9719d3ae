package hooks

import (
	"bytes"
	"fmt"
)

// maxOutput caps what a guest may write to stdout and stderr in one call.
const maxOutput = 64 << 10

// output collects a guest's stdout and stderr, interleaved as written, up to
// a cap. Only the goroutine calling into the instance writes to it.
type output struct {
	buf     []byte
	max     int
	dropped int
}

func newOutput(max int) *output { return &output{max: max} }

// Write keeps what fits under the cap and counts the rest. It never fails, so
// a chatty guest is not broken by the cap.
func (o *output) Write(p []byte) (int, error) {
	room := o.max - len(o.buf)
	if room >= len(p) {
		o.buf = append(o.buf, p...)
		return len(p), nil
	}
	if room > 0 {
		o.buf = append(o.buf, p[:room]...)
	}
	o.dropped += len(p) - max(room, 0)
	return len(p), nil
}

// text returns what was written, for a failure's reason.
func (o *output) text() string { return string(o.buf) }

// lines returns what was written, one string per line, nil when nothing was.
func (o *output) lines() []string {
	if len(o.buf) == 0 && o.dropped == 0 {
		return nil
	}
	b := bytes.TrimSuffix(o.buf, []byte("\n"))
	var lines []string
	if len(b) > 0 {
		lines = make([]string, 0, bytes.Count(b, []byte("\n"))+2)
		for line := range bytes.SplitSeq(b, []byte("\n")) {
			lines = append(lines, string(line))
		}
	}
	if o.dropped > 0 {
		lines = append(lines, fmt.Sprintf("[%d more bytes of output dropped: over %d KiB in one call]", o.dropped, o.max>>10))
	}
	return lines
}

// reset empties the buffer for the next call. A buffer grown past 4 KiB by
// one chatty call is let go rather than kept by an idle instance.
func (o *output) reset() {
	if cap(o.buf) > 4<<10 {
		o.buf = nil
	} else {
		o.buf = o.buf[:0]
	}
	o.dropped = 0
}
