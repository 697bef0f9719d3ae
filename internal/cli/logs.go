package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/sdk/client"
)

const logsUsage = `Usage: orc logs [-f] [--json] INVOCATION

Prints an invocation's log lines, one per line: the stream (stderr, stdout,
or orc for the worker's notes), two spaces, and the line. A later attempt's
lines follow a "--- attempt N" line. With -f it keeps printing new lines as
they come until the invocation ends, then prints its final status on
standard error. --json prints each line as a JSON object (seq, attempt,
stream, time, line).
`

// Logs runs orc logs with args, the command line after "logs": it prints an
// invocation's log lines on stdout, and with -f follows them until the
// invocation ends or ctx does.
//
// # Errors
//
// ErrUsage for a bad command line, flag.ErrHelp for -h; otherwise the
// failed request, with the API's explanation.
func Logs(ctx context.Context, env Env, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logs", logsUsage, stderr)
	var follow bool
	fs.BoolVar(&follow, "f", false, "follow: print new lines until the invocation ends")
	fs.BoolVar(&follow, "follow", false, "the same as -f")
	poll := fs.Duration("poll", client.DefaultPoll, "how often -f asks for new lines")
	jsonOut := fs.Bool("json", false, "print each line as a JSON object")
	urlFlag := fs.String("url", "", "gateway URL (default: ORC_URL or the one orc login saved)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(stderr, "logs", rest, 1, 1, "INVOCATION id"); err != nil {
		return err
	}
	if *poll <= 0 {
		return usageError(stderr, "logs", "--poll must be positive")
	}
	id := rest[0]
	c, err := apiClient(env, *urlFlag)
	if err != nil {
		return err
	}
	p := logPrinter{w: stdout, json: *jsonOut}
	after := 0
	for {
		lines, status, err := c.Logs(ctx, id, after)
		if err != nil {
			if follow && ctx.Err() != nil {
				return nil // Ctrl-C ends following
			}
			return explain(err)
		}
		for _, l := range lines {
			if err := p.print(l); err != nil {
				return err
			}
			after = max(after, l.Seq)
		}
		switch {
		case status.Terminal():
			if follow && !*jsonOut {
				fmt.Fprintf(stderr, "invocation %s %s\n", id, status)
			}
			return nil
		case !follow:
			if !*jsonOut {
				fmt.Fprintf(stderr, "invocation %s is %s; orc logs -f %s follows it\n", id, status, id)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*poll):
		}
	}
}

// logPrinter prints log lines for people or as JSON lines.
type logPrinter struct {
	w       io.Writer
	json    bool
	attempt int
}

func (p *logPrinter) print(l orc.LogLine) error {
	if p.json {
		return writeJSONLine(p.w, l)
	}
	if p.attempt != 0 && l.Attempt != p.attempt {
		if _, err := fmt.Fprintf(p.w, "--- attempt %d\n", l.Attempt); err != nil {
			return err
		}
	}
	p.attempt = l.Attempt
	_, err := fmt.Fprintf(p.w, "%-6s  %s\n", l.Stream, l.Line)
	return err
}
