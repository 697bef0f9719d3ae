// Package cli is the plugin author's command line: orc login, orc plugin
// init|build|deploy, orc invoke and orc logs (docs/cli.md). The orc binary
// dispatches to Login, Plugin, Invoke and Logs; each takes the command's
// arguments, the environment it runs in and the process's standard streams
// and returns an error, so that the binary alone decides exit codes and
// tests run the commands in process.
//
// Unlike the service commands, they take no Config, only an Env: the few
// variables that apply to them, which the orc binary reads (ORC_URL,
// ORC_TOKEN, ORC_PASSWORD, ORC_CONFIG and XDG_CONFIG_HOME). The package
// reads no environment variable itself, and no other ORC_* variable reaches
// the commands: a plugin container's ORC_VERSION must not become orc invoke
// --version.
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

// Env is what the author commands take from the environment, read by the
// orc binary from the variables named below. An empty field is an unset
// variable; flags win over all of them, and they over the config file
// (docs/cli.md). The zero Env uses ~/.config/orc/config.json and what it
// saved.
type Env struct {
	// URL is the gateway when --url is not given, before the one the
	// config file names (ORC_URL).
	URL string
	// Token is a bearer token sent instead of the saved one, to whichever
	// gateway the command talks to (ORC_TOKEN).
	Token string
	// Password is the password orc login uses when --password-stdin is not
	// given (ORC_PASSWORD).
	Password string
	// ConfigPath is the config file (ORC_CONFIG); when empty it is
	// orc/config.json in ConfigHome.
	ConfigPath string
	// ConfigHome is the base directory of the user's configuration
	// (XDG_CONFIG_HOME); when empty it is ~/.config.
	ConfigHome string
}
