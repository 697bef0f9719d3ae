package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

// DefaultPort is the port a warm (http protocol) plugin listens on when
// ORC_PORT is not set.
const DefaultPort = "8080"

// maxBody caps one invocation's input under the http protocol.
const maxBody = 10 << 20

// errorReply is the API's error shape.
type errorReply struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// HTTPHandler returns the http protocol's handler for h: GET /healthz
// answers 200 once the process serves; POST /invoke decodes the JSON body
// into In, calls h and answers its output, or an error in the API's shape
// (400 for invalid input or CodeInvalid, 500 with the code otherwise). A
// handler that panics fails that call only.
func HTTPHandler[In, Out any](h Handler[In, Out]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`) //nolint:errcheck
	})
	mux.HandleFunc("POST /invoke", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, CodeInvalid, "read input: "+err.Error())
			return
		}
		var in In
		if err := json.Unmarshal(body, &in); err != nil {
			writeError(w, http.StatusBadRequest, CodeInvalid, "decode input: "+err.Error())
			return
		}
		out, err := call(r.Context(), h, in)
		if err != nil {
			code, status := CodeFailed, http.StatusInternalServerError
			var e *Error
			if errors.As(err, &e) && e.Code != "" {
				code = e.Code
			}
			if code == CodeInvalid {
				status = http.StatusBadRequest
			}
			var pe *panicError
			if errors.As(err, &pe) {
				log.Printf("plugin: %s", pe.stack)
				err = fmt.Errorf("panic: %v", pe.value)
			}
			writeError(w, status, code, err.Error())
			return
		}
		line, err := encode(out)
		if err != nil {
			writeError(w, http.StatusInternalServerError, CodeFailed, "encode output: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(line) //nolint:errcheck
	})
	return mux
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e errorReply
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e) //nolint:errcheck
}

// Serve serves h under the http protocol on addr until ctx ends, then shuts
// down gracefully.
func Serve[In, Out any](ctx context.Context, addr string, h Handler[In, Out]) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: HTTPHandler(h), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// serveHTTP runs the http protocol with the process's environment and
// returns the exit code.
func serveHTTP[In, Out any](ctx context.Context, stderr io.Writer, h Handler[In, Out]) int {
	port := os.Getenv("ORC_PORT")
	if port == "" {
		port = DefaultPort
	}
	if err := Serve(ctx, ":"+port, h); err != nil {
		fmt.Fprintf(stderr, "plugin: serve: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}
