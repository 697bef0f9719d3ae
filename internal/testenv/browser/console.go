package browser

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
)

// consoleLog collects a tab's errors. Its record method is a chromedp
// listener: it runs on the goroutine that reads the tab's messages, before
// the command that follows the event returns, so an error that the page
// logged while a step ran is there when the step returns.
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

// record keeps the events that report an error. Content Security Policy
// violations and failed loads arrive as the browser's log entries (source
// "security" and "network"), not as console calls.
func (l *consoleLog) record(ev any) {
	var line string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		line = "console." + string(ev.Type) + ": " + argsText(ev.Args)
		if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
			f := st.CallFrames[0]
			line += at(f.URL, f.LineNumber)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		if d == nil {
			return
		}
		line = "exception: " + d.Text
		if d.Exception != nil {
			// The description of an Error is its stack; its first line
			// is the message.
			desc, _, _ := strings.Cut(remoteText(d.Exception), "\n")
			line += " " + desc
		}
		line += at(d.URL, d.LineNumber)
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil || e.Level != log.EntryLevelError {
			return
		}
		line = string(e.Source) + ": " + e.Text + at(e.URL, e.LineNumber)
	default:
		return
	}
	l.mu.Lock()
	l.errs = append(l.errs, line)
	l.mu.Unlock()
}

func (l *consoleLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// at tells where a message came from; the protocol's lines count from 0.
func at(url string, line int64) string {
	if url == "" {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", url, line+1)
}

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = remoteText(a)
	}
	return strings.Join(parts, " ")
}

// remoteText renders a console argument roughly as DevTools shows it: a
// string as it is, anything else by its description or its JSON value.
func remoteText(o *runtime.RemoteObject) string {
	if o.Type == runtime.RemoteObjectTypeString {
		var s string
		if err := json.Unmarshal([]byte(o.Value), &s); err == nil {
			return s
		}
	}
	switch {
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return string(o.Value)
	}
	return string(o.Type)
}
