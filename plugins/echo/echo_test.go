package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc/sdk/plugin"
)

func TestEcho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		err        string // "" for success
		exitCode   int
		minLatency time.Duration
	}{
		{name: "object", in: `{"hello": "world", "n": [1, 2.5]}`},
		{name: "array", in: `[1, {"fail": "not a control field"}]`},
		{name: "string", in: `"just text"`},
		{name: "null", in: `null`},
		{name: "sleep", in: `{"sleep_ms": 50, "keep": true}`, minLatency: 50 * time.Millisecond},
		{name: "fail", in: `{"fail": "out of luck"}`, err: "out of luck", exitCode: 1},
		{name: "fail with exit code", in: `{"fail": "bad", "exit_code": 3}`, err: "bad", exitCode: 3},
		{name: "exit code alone", in: `{"exit_code": 9}`, err: "failing with exit code 9 as asked", exitCode: 9},
		{name: "zero exit code", in: `{"exit_code": 0, "x": 1}`},
		{name: "negative sleep", in: `{"sleep_ms": -1}`, err: "sleep_ms -1 is not between 0 and 86400000", exitCode: 2},
		{name: "huge exit code", in: `{"exit_code": 256}`, err: "exit_code 256 is not between 0 and 255", exitCode: 2},
		{name: "mistyped control", in: `{"sleep_ms": "soon"}`, exitCode: 2,
			err: "control fields: json: cannot unmarshal string into Go struct field controls.sleep_ms of type int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			out, err := echo(context.Background(), json.RawMessage(tt.in))
			if took := time.Since(begin); took < tt.minLatency {
				t.Errorf("returned after %v, want at least %v", took, tt.minLatency)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("echo(%s) = %s, %v; want error %q", tt.in, out, err, tt.err)
				}
				if code := exitCodeOf(t, err); code != tt.exitCode {
					t.Errorf("exit code = %d, want %d", code, tt.exitCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("echo(%s): %v", tt.in, err)
			}
			if !bytes.Equal(out, json.RawMessage(tt.in)) {
				t.Errorf("echo(%s) = %s, want it unchanged", tt.in, out)
			}
		})
	}
}

func TestEchoSleepObeysContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := echo(ctx, json.RawMessage(`{"sleep_ms": 60000}`))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 5*time.Second {
		t.Errorf("echo = %v after %v, want the deadline's error at once", err, time.Since(begin))
	}
}

// TestEchoMain runs echo through the SDK, as its container does.
func TestEchoMain(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	in := `{"a": "<b>", "list": [1, 2]}`
	if code := plugin.Main(context.Background(), []string{in}, nil, &stdout, &stderr, echo); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if want := `{"a":"<b>","list":[1,2]}` + "\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}

	stdout.Reset()
	code := plugin.Main(context.Background(), []string{`{"fail":"boom","exit_code":4}`}, nil, &stdout, &stderr, echo)
	if code != 4 || !strings.HasSuffix(stderr.String(), "boom\n") || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 4 and boom", code, stdout.String(), stderr.String())
	}
}

// exitCodeOf returns the exit code the SDK gives err.
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	h := func(context.Context, struct{}) (struct{}, error) { return struct{}{}, err }
	var stdout, stderr bytes.Buffer
	return plugin.Main(context.Background(), []string{"{}"}, nil, &stdout, &stderr, h)
}

// TestEchoLogLines: log_lines writes its lines to the log, the first at
// once and the others spread over the sleep. It swaps the log's writer,
// so it does not run in parallel.
func TestEchoLogLines(t *testing.T) {
	var log bytes.Buffer
	logTo = &log
	t.Cleanup(func() { logTo = os.Stderr })
	begin := time.Now()
	if _, err := echo(context.Background(), json.RawMessage(`{"sleep_ms":90,"log_lines":3}`)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < 90*time.Millisecond {
		t.Errorf("returned after %v, want at least the sleep", took)
	}
	want := "echo: log line 1 of 3\necho: log line 2 of 3\necho: log line 3 of 3\n"
	if log.String() != want {
		t.Errorf("log = %q, want %q", log.String(), want)
	}
	if _, err := echo(context.Background(), json.RawMessage(`{"log_lines":10001}`)); err == nil || exitCodeOf(t, err) != 2 {
		t.Errorf("log_lines 10001: %v, want an invalid input", err)
	}
}
