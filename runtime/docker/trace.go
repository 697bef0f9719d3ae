package docker

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
)

// endSpan ends a span, marking it failed with err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// endRun ends the span of a run with what its container did.
func endRun(span trace.Span, spec *orc.ContainerSpec, res *orc.ContainerResult, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("orc.invocation.id", spec.InvocationID),
			attribute.Int("orc.attempt", spec.Attempt), attribute.String("container.image.name", spec.Image))
		if res != nil {
			span.SetAttributes(attribute.Int("orc.exit_code", res.ExitCode), attribute.Bool("orc.timed_out", res.TimedOut),
				attribute.Bool("orc.canceled", res.Canceled), attribute.Bool("orc.oom_killed", res.OOMKilled))
		}
	}
	endSpan(span, err)
}
