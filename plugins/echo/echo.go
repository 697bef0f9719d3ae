package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/orc-gateway/orc/sdk/plugin"
)

// maxSleep bounds sleep_ms to Orc's longest plugin timeout.
const maxSleep = 24 * time.Hour

// maxLogLines bounds log_lines.
const maxLogLines = 10000

// logTo is where echo writes its log lines: stderr, the exec protocol's log.
var logTo io.Writer = os.Stderr

// controls are the input fields that change what echo does.
type controls struct {
	SleepMS  int64  `json:"sleep_ms"`
	Fail     string `json:"fail"`
	ExitCode int    `json:"exit_code"`
	LogLines int    `json:"log_lines"`
}

// echo returns in unchanged, after obeying its control fields.
func echo(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	var c controls
	if trimmed := bytes.TrimSpace(in); len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(in, &c); err != nil {
			return nil, plugin.Errorf(plugin.CodeInvalid, "control fields: %v", err)
		}
	}
	sleep := time.Duration(c.SleepMS) * time.Millisecond
	switch {
	case c.SleepMS < 0 || sleep > maxSleep:
		return nil, plugin.Errorf(plugin.CodeInvalid, "sleep_ms %d is not between 0 and %d", c.SleepMS, maxSleep.Milliseconds())
	case c.ExitCode < 0 || c.ExitCode > 255:
		return nil, plugin.Errorf(plugin.CodeInvalid, "exit_code %d is not between 0 and 255", c.ExitCode)
	case c.LogLines < 0 || c.LogLines > maxLogLines:
		return nil, plugin.Errorf(plugin.CodeInvalid, "log_lines %d is not between 0 and %d", c.LogLines, maxLogLines)
	}

	// The log lines are spread over the sleep: the first at once, the
	// others at equal intervals.
	steps := max(c.LogLines, 1)
	for i := range steps {
		if i < c.LogLines {
			fmt.Fprintf(logTo, "echo: log line %d of %d\n", i+1, c.LogLines)
		}
		if err := pause(ctx, sleep/time.Duration(steps)); err != nil {
			return nil, err
		}
	}

	if c.Fail != "" || c.ExitCode != 0 {
		msg := c.Fail
		if msg == "" {
			msg = fmt.Sprintf("failing with exit code %d as asked", c.ExitCode)
		}
		return nil, &plugin.Error{Code: plugin.CodeFailed, Message: msg, ExitCode: c.ExitCode}
	}
	return in, nil
}

// pause sleeps for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sleep: %w", ctx.Err())
	}
}
