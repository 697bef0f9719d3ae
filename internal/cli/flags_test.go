package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseCLIInterspersed(t *testing.T) {
	tests := []struct {
		name string
		args []string
		rest []string
		d    string
		wait bool
		err  error
	}{
		{name: "flags after the name", args: []string{"hello", "-d", `{"a":1}`, "--wait"}, rest: []string{"hello"}, d: `{"a":1}`, wait: true},
		{name: "flags before the name", args: []string{"--wait", "-d=@in.json", "hello"}, rest: []string{"hello"}, d: "@in.json", wait: true},
		{name: "two arguments", args: []string{"a", "--wait", "b"}, rest: []string{"a", "b"}, wait: true},
		{name: "double dash", args: []string{"-d", "x", "--", "--wait", "-d"}, rest: []string{"--wait", "-d"}, d: "x"},
		{name: "stdin dash is an argument", args: []string{"-", "-d", "y"}, rest: []string{"-"}, d: "y"},
		{name: "unknown flag", args: []string{"hello", "--nope"}, err: ErrUsage},
		{name: "missing value", args: []string{"hello", "-d"}, err: ErrUsage},
		{name: "help", args: []string{"hello", "-h"}, err: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			fs := newFlagSet("test", "Usage: orc test", &out)
			d := fs.String("d", "", "")
			wait := fs.Bool("wait", false, "")
			rest, err := parseArgs(fs, tt.args)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				if !strings.Contains(out.String(), "Usage: orc test") {
					t.Errorf("no usage printed: %q", out.String())
				}
				return
			}
			if !slices.Equal(rest, tt.rest) || *d != tt.d || *wait != tt.wait {
				t.Errorf("rest %q, d %q, wait %v; want %q, %q, %v", rest, *d, *wait, tt.rest, tt.d, tt.wait)
			}
		})
	}
}

func TestServerTimingText(t *testing.T) {
	tests := []struct{ header, want string }{
		{"queue;dur=1.0, cold;dur=250.3, run;dur=4.25", "queue 1.0ms, cold 250ms, run 4.2ms"},
		{"run;dur=1530", "run 1.53s"},
		{"queue;desc=x;dur=0", "queue 0.0ms"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := serverTimingText(tt.header); got != tt.want {
			t.Errorf("serverTimingText(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestBaseImages(t *testing.T) {
	dockerfile := `# a multi-stage build
FROM --platform=linux/amd64 golang:1.26 AS build
RUN go build
from orc-python-base:bookworm
FROM build AS again
FROM scratch
FROM ${BASE}
COPY --from=build /x /x
`
	want := []string{"golang:1.26", "orc-python-base:bookworm"}
	if got := baseImages([]byte(dockerfile)); !slices.Equal(got, want) {
		t.Errorf("baseImages = %q, want %q", got, want)
	}
}

func TestInvokeInput(t *testing.T) {
	file := t.TempDir() + "/in.json"
	if err := os.WriteFile(file, []byte(`{"from": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		d, stdin, want string
	}{
		{"", "", "{}"},
		{`{"a": 1}`, "", `{"a": 1}`},
		{"@-", `{"from": "stdin"}`, `{"from": "stdin"}`},
		{"@" + file, "", `{"from": "file"}`},
	}
	for _, tt := range tests {
		got, err := invokeInput(tt.d, strings.NewReader(tt.stdin))
		if err != nil || string(got) != tt.want {
			t.Errorf("invokeInput(%q) = %q, %v; want %q", tt.d, got, err, tt.want)
		}
	}
	if _, err := invokeInput("@/does/not/exist", nil); err == nil {
		t.Error("a missing file was read")
	}
}

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:5900":           "http://localhost:5900",
		"https://orc.example.com/": "https://orc.example.com",
		" http://x:1 ":             "http://x:1",
		"":                         "",
	} {
		if got := normalizeURL(in); got != want {
			t.Errorf("normalizeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := strings.NewReader("first\r\nsecond")
	for _, want := range []string{"first", "second"} {
		got, err := readLine(t.Context(), r)
		if err != nil || got != want {
			t.Errorf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(t.Context(), r); !errors.Is(err, io.EOF) {
		t.Errorf("readLine at the end = %v, want EOF", err)
	}
}
