package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/sdk/plugin"
)

type input struct {
	Text string `json:"text"`
	Fail string `json:"fail,omitempty"`
}

type output struct {
	Upper string `json:"upper"`
	Len   int    `json:"len"`
}

// upper is the handler under test; its input chooses how it fails.
func upper(ctx context.Context, in input) (output, error) {
	switch in.Fail {
	case "plain":
		return output{}, errors.New("model is not loaded")
	case "invalid":
		return output{}, plugin.Errorf(plugin.CodeInvalid, "text %q is not a sentence", in.Text)
	case "exit":
		return output{}, &plugin.Error{Code: plugin.CodeFailed, Message: "chose my exit", ExitCode: 42}
	case "wrapped":
		return output{}, fmt.Errorf("classify: %w", plugin.Errorf(plugin.CodeInvalid, "bad label"))
	case "panic":
		panic("index out of range")
	case "context":
		return output{}, ctx.Err()
	}
	return output{Upper: strings.ToUpper(in.Text), Len: len(in.Text)}, nil
}

func TestMainExec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		stdin      io.Reader
		code       int
		stdout     string
		stderrLast string // the last line of stderr
	}{
		{
			name:   "input as last arg",
			args:   []string{`{"text":"hi <b>"}`},
			code:   plugin.ExitOK,
			stdout: `{"upper":"HI <B>","len":6}` + "\n",
		},
		{
			name:   "only the last arg is input",
			args:   []string{"--verbose", `{"text":"a"}`},
			stdin:  strings.NewReader(`{"text":"from stdin"}`),
			code:   plugin.ExitOK,
			stdout: `{"upper":"A","len":1}` + "\n",
		},
		{
			name:   "input on stdin",
			stdin:  strings.NewReader("  {\"text\":\n\"multi line\"}\n"),
			code:   plugin.ExitOK,
			stdout: `{"upper":"MULTI LINE","len":10}` + "\n",
		},
		{
			name:       "no input",
			stdin:      strings.NewReader(" \n"),
			code:       plugin.ExitInvalid,
			stderrLast: "read input: no input: pass JSON as the last argument or on stdin",
		},
		{
			name:       "no stdin",
			code:       plugin.ExitInvalid,
			stderrLast: "read input: no input: pass JSON as the last argument or on stdin",
		},
		{
			name:       "stdin read error",
			stdin:      iotest.ErrReader(errors.New("pipe broke")),
			code:       plugin.ExitInvalid,
			stderrLast: "read input: stdin: pipe broke",
		},
		{
			name:       "malformed JSON",
			args:       []string{`{"text":`},
			code:       plugin.ExitInvalid,
			stderrLast: "decode input: unexpected end of JSON input",
		},
		{
			name:       "wrong type",
			args:       []string{`{"text":7}`},
			code:       plugin.ExitInvalid,
			stderrLast: "decode input: json: cannot unmarshal number into Go struct field input.text of type string",
		},
		{
			name:       "handler error",
			args:       []string{`{"fail":"plain"}`},
			code:       plugin.ExitFailed,
			stderrLast: "model is not loaded",
		},
		{
			name:       "invalid code",
			args:       []string{`{"text":"x","fail":"invalid"}`},
			code:       plugin.ExitInvalid,
			stderrLast: `text "x" is not a sentence`,
		},
		{
			name:       "wrapped invalid code",
			args:       []string{`{"fail":"wrapped"}`},
			code:       plugin.ExitInvalid,
			stderrLast: "classify: bad label",
		},
		{
			name:       "chosen exit code",
			args:       []string{`{"fail":"exit"}`},
			code:       42,
			stderrLast: "chose my exit",
		},
		{
			name:       "panic",
			args:       []string{`{"fail":"panic"}`},
			code:       plugin.ExitFailed,
			stderrLast: "panic: index out of range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := plugin.Main(context.Background(), tt.args, tt.stdin, &stdout, &stderr, upper)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdout)
			}
			if got := lastLine(stderr.String()); got != tt.stderrLast {
				t.Errorf("last line of stderr = %q, want %q", got, tt.stderrLast)
			}
		})
	}
}

func TestMainContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := plugin.Main(ctx, []string{`{"fail":"context"}`}, nil, &stdout, &stderr, upper)
	if code != plugin.ExitFailed || lastLine(stderr.String()) != "context canceled" {
		t.Errorf("exit %d, stderr %q; want the handler to see the canceled context", code, stderr.String())
	}
}

func TestMainOutputIsOneLine(t *testing.T) {
	t.Parallel()
	type nested struct {
		Lines []string          `json:"lines"`
		Map   map[string]string `json:"map"`
	}
	h := func(ctx context.Context, in map[string]any) (nested, error) {
		return nested{Lines: []string{"a\nb", "c"}, Map: map[string]string{"k": "v\r\n"}}, nil
	}
	var stdout, stderr bytes.Buffer
	if code := plugin.Main(context.Background(), []string{"{}"}, nil, &stdout, &stderr, h); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 1 || !strings.HasSuffix(stdout.String(), "\n") {
		t.Errorf("stdout %q has %d newlines, want one JSON line", stdout.String(), n)
	}
}

func TestMainUnencodableOutput(t *testing.T) {
	t.Parallel()
	h := func(ctx context.Context, in struct{}) (chan int, error) { return make(chan int), nil }
	var stdout, stderr bytes.Buffer
	code := plugin.Main(context.Background(), []string{"{}"}, nil, &stdout, &stderr, h)
	if code != plugin.ExitFailed || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "encode output: ") {
		t.Errorf("exit %d, stdout %q, stderr %q; want an encode failure", code, stdout.String(), stderr.String())
	}
}

func TestCodesAreOrcs(t *testing.T) {
	t.Parallel()
	if plugin.CodeInvalid != orc.EINVALID || plugin.CodeFailed != orc.EPLUGIN {
		t.Errorf("codes %q, %q; want orc's %q, %q", plugin.CodeInvalid, plugin.CodeFailed, orc.EINVALID, orc.EPLUGIN)
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}
