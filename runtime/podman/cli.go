package podman

import (
	"bytes"
	"context"
	"os/exec"
	"syscall"
	"time"
)

// commandGrace is how long a podman command gets to end after its context
// ended and it was sent SIGTERM, before it is killed.
const commandGrace = 5 * time.Second

// podman runs the podman command with args and returns what it wrote to
// stdout. args[0] names the command in errors.
//
// # Errors
//
// See cliError.
func (d *Driver) podman(ctx context.Context, args ...string) ([]byte, error) {
	cmd := d.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), cliError(args[0], err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// command returns the podman command with the driver's global flags and
// args. When ctx ends the command gets SIGTERM, so that Podman releases its
// locks, then SIGKILL after commandGrace. It runs in a process group of its
// own: a Ctrl-C meant for the worker must not reach it (the worker ends
// its runs through their contexts).
func (d *Driver) command(ctx context.Context, args ...string) *exec.Cmd {
	var global []string
	if d.cfg.Root != "" {
		global = append(global, "--root", d.cfg.Root)
	}
	if d.cfg.RunRoot != "" {
		global = append(global, "--runroot", d.cfg.RunRoot)
	}
	cmd := exec.CommandContext(ctx, d.cfg.Binary, append(global, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = commandGrace
	return cmd
}

// detached returns a context for the commands that must not be cut short
// by ctx (create, and everything after ctx may have ended): it keeps ctx's
// values but not its cancellation, and has a deadline of its own.
func (d *Driver) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.cfg.CleanupTimeout)
}
