package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/sdk/client"
)

// explainedError is an error with the text a person needs to act on it:
// the API's message, each schema violation on its own line, the
// invocation to look at.
type explainedError struct {
	text string
	err  error
}

func (e *explainedError) Error() string { return e.text }
func (e *explainedError) Unwrap() error { return e.err }

// explain turns an *client.APIError into an error whose text lists its
// details and what to do next; other errors are returned as they are.
func explain(err error) error {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return err
	}
	var b strings.Builder
	b.WriteString(err.Error())
	if vs := ae.Violations(); len(vs) > 0 {
		for _, v := range vs {
			p := v.Pointer
			if p == "" {
				p = "(input)"
			}
			fmt.Fprintf(&b, "\n  %s: %s", p, v.Message)
		}
	} else if len(ae.Details) > 0 {
		var compact bytes.Buffer
		if json.Compact(&compact, ae.Details) == nil {
			fmt.Fprintf(&b, "\n  details: %s", compact.String())
		}
	}
	if ae.InvocationID != "" {
		fmt.Fprintf(&b, "\n  invocation %s (its logs: orc logs %s)", ae.InvocationID, ae.InvocationID)
	}
	if ae.Code == orc.EUNAUTHORIZED {
		b.WriteString("\n  sign in again with: orc login")
	}
	return &explainedError{text: b.String(), err: err}
}

// errorJSON is the API's error shape, which --json prints on stdout for
// an API error so that a script sees the code and the invocation.
type errorJSON struct {
	Error struct {
		Status       int             `json:"status,omitempty"`
		Code         string          `json:"code"`
		Message      string          `json:"message"`
		Details      json.RawMessage `json:"details,omitempty"`
		InvocationID string          `json:"invocation_id,omitempty"`
	} `json:"error"`
}

// writeErrorJSON prints an API error in the API's shape; other errors are
// only reported on stderr.
func writeErrorJSON(w io.Writer, err error) {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return
	}
	var e errorJSON
	e.Error.Status, e.Error.Code, e.Error.Message = ae.Status, ae.Code, ae.Message
	e.Error.Details, e.Error.InvocationID = ae.Details, ae.InvocationID
	writeJSONLine(w, e)
}

// writeJSONLine prints v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeOutput prints a plugin's output JSON indented for people; output
// that is not JSON is printed as it is.
func writeOutput(w io.Writer, out json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, out, "", "  "); err != nil {
		b.Reset()
		b.Write(out)
	}
	if b.Len() == 0 || b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// serverTimingText turns "queue;dur=1.0, cold;dur=250.3, run;dur=4.2"
// into "queue 1ms, cold 250ms, run 4.2ms".
func serverTimingText(header string) string {
	var parts []string
	for _, metric := range strings.Split(header, ",") {
		fields := strings.Split(strings.TrimSpace(metric), ";")
		if fields[0] == "" {
			continue
		}
		text := fields[0]
		for _, p := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "dur="); ok {
				if ms, err := strconv.ParseFloat(v, 64); err == nil {
					text += " " + millis(ms)
				}
			}
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, ", ")
}

// timingText describes a stored invocation's timing as serverTimingText
// does a header.
func timingText(t orc.Timing) string {
	return fmt.Sprintf("queue %s, cold %s, run %s", millis(t.QueueMS), millis(t.ColdMS), millis(t.RunMS))
}

// millis formats milliseconds with the precision that matters: 4.2ms,
// 250ms, 1.53s.
func millis(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
}
