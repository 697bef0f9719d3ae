package docker

// headBuffer keeps the first max bytes written to it and drops the rest.
// Writes never fail, so that a chatty container cannot stop the demuxer
// (which would stall the container on a full pipe).
type headBuffer struct {
	max     int
	buf     []byte
	dropped bool
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.max - len(b.buf); len(p) > room {
		b.buf = append(b.buf, p[:room]...)
		b.dropped = true
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

// Bytes returns what was kept.
func (b *headBuffer) Bytes() []byte { return b.buf }

// Truncated reports whether anything was dropped.
func (b *headBuffer) Truncated() bool { return b.dropped }

// tailBuffer keeps the last max bytes written to it. It lets its backing
// array grow to twice max before sliding, so that each byte is copied a
// bounded number of times. Like headBuffer, its writes never fail.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	switch {
	case len(p) >= b.max:
		b.dropped = b.dropped || len(b.buf) > 0 || len(p) > b.max
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
	case len(b.buf)+len(p) > 2*b.max:
		// Slide: keep what, with p, makes the last max bytes.
		keep := b.buf[len(b.buf)-(b.max-len(p)):]
		b.buf = append(b.buf[:copy(b.buf, keep)], p...)
		b.dropped = true
	default:
		b.buf = append(b.buf, p...)
	}
	return n, nil
}

// Bytes returns the last max bytes written.
func (b *tailBuffer) Bytes() []byte {
	if len(b.buf) > b.max {
		return b.buf[len(b.buf)-b.max:]
	}
	return b.buf
}

// Truncated reports whether anything before the kept tail was dropped.
func (b *tailBuffer) Truncated() bool { return b.dropped || len(b.buf) > b.max }
