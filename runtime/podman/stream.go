package podman

import (
	"io"
	"sync"

	"github.com/orc-gateway/orc/internal/capbuf"
)

// output is what one run writes: stdout and stderr in capped buffers, and
// passed on to the run's tees. podman start copies the two streams in two
// goroutines; one lock makes their writes take turns, so that a caller's
// writers are written from one goroutine at a time.
type output struct {
	mu     sync.Mutex
	stdout capbuf.Head
	stderr capbuf.Tail
	// Stdout and Stderr are the writers to give podman start.
	Stdout, Stderr io.Writer
}

// newOutput returns the output of a run, keeping the head of stdout and the
// tail of stderr and passing both on to the tees that are not nil.
func newOutput(stdoutMax, stderrMax int64, stdoutTee, stderrTee io.Writer) *output {
	o := &output{stdout: capbuf.Head{Max: int(stdoutMax)}, stderr: capbuf.Tail{Max: int(stderrMax)}}
	o.Stdout = lockedWriter{&o.mu, capbuf.Tee(&o.stdout, stdoutTee)}
	o.Stderr = lockedWriter{&o.mu, capbuf.Tee(&o.stderr, stderrTee)}
	return o
}

// lockedWriter writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
