package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/orc-gateway/orc/sdk/plugin"
)

// maxSleep bounds sleep_ms to Orc's longest plugin timeout.
const maxSleep = 24 * time.Hour

// controls are the input fields that change what echo does.
type controls struct {
	SleepMS  int64  `json:"sleep_ms"`
	Fail     string `json:"fail"`
	ExitCode int    `json:"exit_code"`
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
	}

	if sleep > 0 {
		timer := time.NewTimer(sleep)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("sleep: %w", ctx.Err())
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
