package ray

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/orc-gateway/orc"
)

var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

func (d *JobDriver) tracer() trace.Tracer {
	if d.Tracer == nil {
		return noop.Tracer{}
	}
	return d.Tracer
}

// envCarrier writes a trace context as environment variables, named as
// OpenTelemetry's environment carrier names them: the header's name in
// capitals (TRACEPARENT, TRACESTATE). Only the trace's ids and flags go
// there, nothing secret: Ray's dashboard shows a job's environment.
type envCarrier map[string]string

var _ propagation.TextMapCarrier = envCarrier(nil)

// Get returns the variable of key.
func (c envCarrier) Get(key string) string { return c[strings.ToUpper(key)] }

// Set sets the variable of key.
func (c envCarrier) Set(key, value string) { c[strings.ToUpper(key)] = value }

// Keys lists the variables.
func (c envCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// endJobSpan ends the span of a ray job's run with its outcome.
func endJobSpan(span trace.Span, spec *orc.ContainerSpec, res *orc.ContainerResult, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("orc.invocation.id", spec.InvocationID), attribute.Int("orc.attempt", spec.Attempt))
		if res != nil {
			span.SetAttributes(attribute.String("orc.ray.node", res.Node), attribute.Int("orc.exit_code", res.ExitCode))
		}
	}
	if err != nil {
		span.SetStatus(codes.Error, orc.ErrorMessage(err))
	}
	span.End()
}
