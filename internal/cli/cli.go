// Package cli is the plugin author's command line: orc login, orc plugin
// init|build|deploy, orc invoke and orc logs (docs/cli.md). The orc binary
// dispatches to Login, Plugin, Invoke and Logs; each takes the command's
// arguments and the process's standard streams and returns an error, so that
// the binary alone decides exit codes and tests run the commands in process.
//
// Unlike the service commands, they take no Config and read the environment
// themselves, only ORC_URL, ORC_TOKEN, ORC_PASSWORD and ORC_CONFIG (and
// XDG_CONFIG_HOME to find the config file): a plugin container's ORC_VERSION
// must not become orc invoke --version.
package cli

import "errors"

// ErrUsage is returned, after the command printed its complaint and a
// pointer to its usage on standard error, for a bad command line. The orc
// binary exits with 2 for it.
var ErrUsage = errors.New("usage")

// Version is the version of Orc the commands report: in the User-Agent of
// their requests and in the SDK copy orc plugin init writes. The orc binary
// sets it to its own version before it runs a command.
var Version = "dev"
