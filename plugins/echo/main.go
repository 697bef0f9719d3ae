// Command echo is an example Orc plugin and a test fixture: it returns its
// input unchanged. Four optional fields of an object input change what it
// does first: sleep_ms makes it sleep, log_lines makes it write that many
// log lines to stderr over the sleep, fail makes it fail with that
// message, and exit_code chooses the exit code of the failure.
//
//	echo '{"hello":"world"}'                   → {"hello":"world"}
//	echo '{"sleep_ms":500}'                    → {"sleep_ms":500}, half a second later
//	echo '{"sleep_ms":2000,"log_lines":4}'     → "echo: log line 1 of 4" on stderr at once, the others every half second
//	echo '{"fail":"out of luck","exit_code":3}' → "out of luck" on stderr, exit 3
package main

import "github.com/orc-gateway/orc/sdk/plugin"

func main() { plugin.Run(echo) }
