package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The author commands (login, plugin, invoke, logs) parse their command
// lines here rather than with the service commands' parse in cmd/orc:
// people put flags after the arguments (orc invoke hello -d @in.json), and
// only a few ORC_* variables apply to them (ORC_URL, ORC_TOKEN,
// ORC_PASSWORD, ORC_CONFIG) — a flag named --version must not be set by the
// ORC_VERSION a plugin container has.

// newFlagSet returns a flag set whose usage is synopsis, then the flags.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("orc "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "%s\nFlags:\n", strings.TrimRight(synopsis, "\n")+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they are on the command line and returns
// the other arguments in order. After "--" everything is an argument. Bad
// flags print their error and the usage and return ErrUsage; -h returns
// flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, ErrUsage
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// usageError prints a command's complaint about its command line and a
// pointer to its usage, and returns ErrUsage (exit code 2).
func usageError(stderr io.Writer, cmd, format string, args ...any) error {
	fmt.Fprintf(stderr, "orc %s: %s\nRun 'orc %s -h' for usage.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return ErrUsage
}

// wantArgs checks the number of arguments of a command.
func wantArgs(stderr io.Writer, cmd string, args []string, min, max int, what string) error {
	switch {
	case len(args) < min:
		return usageError(stderr, cmd, "missing %s", what)
	case len(args) > max:
		return usageError(stderr, cmd, "unexpected arguments: %s", strings.Join(args[max:], " "))
	}
	return nil
}
