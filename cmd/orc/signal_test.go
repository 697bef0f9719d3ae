package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orc-gateway/orc/internal/testenv"
)

// TestSecondSignalStopsAtOnce: SIGTERM starts a graceful stop (here a long
// one), and a second SIGTERM ends the process at once with status 130.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	bin := buildOrc(t)
	cmd := exec.Command(bin, "gateway", "--addr", "127.0.0.1:0", "--migrate", "--shutdown-delay", "10m")
	cmd.Env = append(os.Environ(),
		"ORC_DATABASE_URL="+testenv.DatabaseURL(t),
		"ORC_AMQP_URL="+testenv.AMQPURL(t),
		"ORC_QUEUE_PREFIX=orct-"+testenv.Suffix(),
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck // best effort
			cmd.Wait()         //nolint:errcheck // killed
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(what string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the gateway exited before %q", what)
				}
				t.Log(l)
				if strings.Contains(l, what) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q in the gateway's log", what)
			}
		}
	}
	waitLine("gateway listening")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine("gateway draining")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 {
			t.Fatalf("after a second SIGTERM: %v, want exit status 130", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a second SIGTERM did not stop the gateway (its graceful stop takes 10 min)")
	}
}
