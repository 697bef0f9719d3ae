package docker

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/pkg/stdcopy"
)

// streams is the attached stdio of one container: stdin is written once
// and closed, stdout and stderr are demultiplexed into capped buffers.
type streams struct {
	conn   types.HijackedResponse
	stdout headBuffer
	stderr tailBuffer

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
		stdout:   headBuffer{max: int(stdoutMax)},
		stderr:   tailBuffer{max: int(stderrMax)},
		readDone: make(chan struct{}),
	}
	go func() {
		defer close(s.readDone)
		_, s.readErr = stdcopy.StdCopy(teeOf(&s.stdout, stdoutTee), teeOf(&s.stderr, stderrTee), conn.Reader)
	}()
	return s
}

// teeOf returns w, also writing to tee when tee is not nil. The tee's
// errors are ignored, like the buffers' (whose writes never fail): what
// follows the output must not stop the demuxer.
func teeOf(w, tee io.Writer) io.Writer {
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
