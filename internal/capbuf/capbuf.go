// Package capbuf holds the capped buffers that keep a container's output:
// the head of stdout, the tail of stderr. Every driver reads a run's output
// through them, so that their results are capped alike.
package capbuf

import "io"

// Head keeps the first Max bytes written to it and drops the rest. Writes
// never fail, so that a chatty container cannot stop the reader of its
// output (which would stall the container on a full pipe).
type Head struct {
	Max     int
	buf     []byte
	dropped bool
}

func (b *Head) Write(p []byte) (int, error) {
	if room := b.Max - len(b.buf); len(p) > room {
		b.buf = append(b.buf, p[:room]...)
		b.dropped = true
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

// Bytes returns what was kept.
func (b *Head) Bytes() []byte { return b.buf }

// Truncated reports whether anything was dropped.
func (b *Head) Truncated() bool { return b.dropped }

// Tail keeps the last Max bytes written to it. It lets its backing array
// grow to twice Max before sliding, so that each byte is copied a bounded
// number of times. Like Head, its writes never fail.
type Tail struct {
	Max     int
	buf     []byte
	dropped bool
}

func (b *Tail) Write(p []byte) (int, error) {
	n := len(p)
	switch {
	case len(p) >= b.Max:
		b.dropped = b.dropped || len(b.buf) > 0 || len(p) > b.Max
		b.buf = append(b.buf[:0], p[len(p)-b.Max:]...)
	case len(b.buf)+len(p) > 2*b.Max:
		// Slide: keep what, with p, makes the last Max bytes.
		keep := b.buf[len(b.buf)-(b.Max-len(p)):]
		b.buf = append(b.buf[:copy(b.buf, keep)], p...)
		b.dropped = true
	default:
		b.buf = append(b.buf, p...)
	}
	return n, nil
}

// Bytes returns the last Max bytes written.
func (b *Tail) Bytes() []byte {
	if len(b.buf) > b.Max {
		return b.buf[len(b.buf)-b.Max:]
	}
	return b.buf
}

// Truncated reports whether anything before the kept tail was dropped.
func (b *Tail) Truncated() bool { return b.dropped || len(b.buf) > b.Max }

// Tee returns w, also writing to tee when tee is not nil. The tee's errors
// are ignored, like the buffers' (whose writes never fail): what follows
// the output must not stop its reader.
func Tee(w, tee io.Writer) io.Writer {
	if tee == nil {
		return w
	}
	return teeWriter{w, tee}
}

type teeWriter struct{ w, tee io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	_, _ = t.tee.Write(p)
	return t.w.Write(p)
}
