package docker

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/orc-gateway/orc/internal/capbuf"
)

// streams is the attached stdio of one container: stdin is written once
// and closed, stdout and stderr are demultiplexed into capped buffers.
type streams struct {
	conn   types.HijackedResponse
	stdout capbuf.Head
	stderr capbuf.Tail

	readDone  chan struct{}
	readErr   error
	writeDone chan struct{} // nil until writeStdin
}

// newStreams starts demultiplexing conn's output into the buffers, and
// into stdoutTee and stderrTee when they are not nil. Call writeStdin once
// the container has started, and close once it has exited.
func newStreams(conn types.HijackedResponse, stdoutMax, stderrMax int64, stdoutTee, stderrTee io.Writer) *streams {
	s := &streams{
		conn:     conn,
		stdout:   capbuf.Head{Max: int(stdoutMax)},
		stderr:   capbuf.Tail{Max: int(stderrMax)},
		readDone: make(chan struct{}),
	}
	go func() {
		defer close(s.readDone)
		_, s.readErr = stdcopy.StdCopy(capbuf.Tee(&s.stdout, stdoutTee), capbuf.Tee(&s.stderr, stderrTee), conn.Reader)
	}()
	return s
}

// writeStdin writes p to the container's stdin in the background and then
// closes it, which (with StdinOnce) gives the container its EOF. A container
// that exits without reading its stdin makes the write fail; that is not an
// error of the run, so the write's error is dropped.
func (s *streams) writeStdin(p []byte) {
	s.writeDone = make(chan struct{})
	go func() {
		defer close(s.writeDone)
		if len(p) > 0 {
			if _, err := io.Copy(s.conn.Conn, bytes.NewReader(p)); err != nil {
				return
			}
		}
		_ = s.conn.CloseWrite()
	}()
}

// close waits up to grace for the engine to end the output stream, then
// closes the connection and waits for the stream's goroutines to finish.
// The buffers are safe to read once it returns. Its error says the output
// may be incomplete.
func (s *streams) close(grace time.Duration) error {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var err error
	select {
	case <-s.readDone:
		err = s.readErr
	case <-timer.C:
		err = errors.New("output stream still open after the container exited")
	}
	s.conn.Close()
	<-s.readDone
	if s.writeDone != nil {
		<-s.writeDone
	}
	return err
}
