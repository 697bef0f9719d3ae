package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/orc-gateway/orc/runtime/docker"
	"github.com/orc-gateway/orc/scheduler/ray"
)

// runRayExec is the entrypoint of a per-invocation Ray job: it runs the
// container of the task in its environment with this node's Docker engine
// and writes the result as the last line of its output, where the
// scheduler reads it from the job's log. When Ray stops the job (a cancel
// or a timeout), ctx ends and the container is killed and removed.
func runRayExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("ray-exec", "Run the container of a ray-job invocation (the entrypoint of its Ray job).", stderr)
	fs.StringVar(&cfg.Worker.DockerHost, "docker-host", cfg.Worker.DockerHost, "Docker engine address (default: DOCKER_HOST or the local socket)")
	if err := parse(fs, args, os.Getenv); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	spec, err := ray.DecodeTask(os.Environ())
	if err != nil {
		return err
	}
	driver, err := docker.New(docker.Config{Host: cfg.Worker.DockerHost, Logger: logger})
	if err != nil {
		return err
	}
	defer driver.Close()
	ctx, cancel := context.WithDeadline(ctx, spec.Deadline)
	defer cancel()
	fmt.Fprintf(stderr, "orc ray-exec: running invocation %s (attempt %d) with image %s\n", spec.InvocationID, spec.Attempt, spec.Image)
	res, err := driver.Run(ctx, spec)
	if err != nil {
		return fmt.Errorf("run container: %w", err)
	}
	if ctx.Err() != nil {
		res.TimedOut = res.TimedOut || ctx.Err() == context.DeadlineExceeded
		res.Canceled = res.Canceled || ctx.Err() == context.Canceled
	}
	line, err := ray.EncodeResult(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, line)
	return err
}
