//go:build !linux

package cli

import (
	"context"
	"os"
)

// isTerminal reports whether f is a character device, as a terminal is.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// readSecret reads one line from the terminal f. Off Linux the CLI cannot
// turn echo off without a dependency it does not have, so the password is
// shown; use ORC_PASSWORD or --password-stdin there.
func readSecret(ctx context.Context, f *os.File) (string, error) {
	return readLine(ctx, f)
}
