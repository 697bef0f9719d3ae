package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/docker"
	"github.com/orc-gateway/orc/scheduler/ray"
	"github.com/orc-gateway/orc/store/postgres"
)

// runRayExec is the entrypoint of a per-invocation Ray job: it reads the
// task its environment names (ORC_RAY_TASK, ORC_RAY_ATTEMPT) from the
// database, runs its container with this node's Docker engine and stores
// the result, where the scheduler reads it. Neither the task (the input,
// the version's environment) nor the result goes through Ray, whose
// dashboard shows job environments and logs; the database's URL comes
// from the node's file (ORC_ENV_FILE). When Ray stops the job (a cancel or
// a timeout), ctx ends and the container is killed and removed.
//
// With tracing on (the OTEL_* variables, also from the node's file), its
// spans join the invocation's trace: the job's environment carries the
// scheduler's span as TRACEPARENT.
func runRayExec(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg := DefaultConfig()
	fs := newFlagSet("ray-exec", "Run the container of a ray-job invocation (the entrypoint of its Ray job).", stderr)
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL (usually from the node's ORC_ENV_FILE)")
	fs.StringVar(&cfg.Worker.DockerHost, "docker-host", cfg.Worker.DockerHost, "Docker engine address (default: DOCKER_HOST or the local socket)")
	fs.BoolVar(&cfg.Worker.Pull, "pull", cfg.Worker.Pull, "pull the image when the engine does not have it")
	getenv, err := processEnv()
	if err != nil {
		return err
	}
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	id := os.Getenv(ray.TaskIDEnv)
	attempt, err := strconv.Atoi(os.Getenv(ray.TaskAttemptEnv))
	if id == "" || err != nil {
		return fmt.Errorf("%w: %s and %s name the task", errUsage, ray.TaskIDEnv, ray.TaskAttemptEnv)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	tp, err := openTracing(ctx, getenv, "orc-ray-exec")
	if err != nil {
		return err
	}
	var tr trace.Tracer
	if tp != nil {
		defer closeTracing(tp, logger)
		tr, logger = tracer(tp, "cmd/orc"), withTraceIDs(logger, tp)
		parent := propagation.MapCarrier{"traceparent": os.Getenv("TRACEPARENT"), "tracestate": os.Getenv("TRACESTATE")}
		var span trace.Span
		ctx, span = tr.Start(propagation.TraceContext{}.Extract(ctx, parent), "ray-exec")
		span.SetAttributes(attribute.String("orc.invocation.id", id), attribute.Int("orc.attempt", attempt))
		defer func() {
			if err != nil {
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}()
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	raw, err := db.RayTask(ctx, id, attempt)
	if err != nil {
		return fmt.Errorf("read task: %w", err)
	}
	spec := &orc.ContainerSpec{}
	if err := json.Unmarshal(raw, spec); err != nil {
		return fmt.Errorf("decode task: %w", err)
	}
	driver, err := docker.New(docker.Config{Host: cfg.Worker.DockerHost, Pull: cfg.Worker.Pull, Installation: cfg.QueuePrefix,
		Logger: logger, Tracer: tr})
	if err != nil {
		return err
	}
	defer driver.Close()
	runCtx, cancel := context.WithDeadline(ctx, spec.Deadline)
	defer cancel()
	fmt.Fprintf(stderr, "orc ray-exec: running invocation %s (attempt %d) with image %s\n", spec.InvocationID, spec.Attempt, spec.Image)
	res, err := driver.Run(runCtx, spec)
	if err != nil {
		return fmt.Errorf("run container: %w", err)
	}
	if runCtx.Err() != nil {
		res.TimedOut = res.TimedOut || runCtx.Err() == context.DeadlineExceeded
		res.Canceled = res.Canceled || runCtx.Err() == context.Canceled
	}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	// Stored even when Ray stopped the job: the scheduler waits for it.
	if err := db.SetRayTaskResult(context.WithoutCancel(ctx), id, attempt, out); err != nil {
		return fmt.Errorf("store result: %w", err)
	}
	_, err = fmt.Fprintln(stdout, ray.ResultLine)
	return err
}
