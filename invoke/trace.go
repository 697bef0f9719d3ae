package invoke

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/orc-gateway/orc"
)

func (s *Service) tracer() trace.Tracer {
	if s.Tracer == nil {
		return noop.Tracer{}
	}
	return s.Tracer
}

// validate checks an input against its version's input schema, in a span
// of its own.
func (s *Service) validate(ctx context.Context, v *orc.Version, input []byte) error {
	_, span := s.tracer().Start(ctx, "validate input")
	err := s.Schemas.ValidateInput(v, input)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("orc.plugin", v.Plugin), attribute.String("orc.version", v.Version),
			attribute.Int("orc.input.bytes", len(input)))
	}
	endSpan(span, err)
	return err
}

// insert records an invocation, in a span of its own.
func (s *Service) insert(ctx context.Context, inv *orc.Invocation) (*orc.Invocation, bool, error) {
	ctx, span := s.tracer().Start(ctx, "insert invocation")
	stored, created, err := s.Invocations.CreateInvocation(ctx, inv)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("orc.invocation.id", inv.ID), attribute.Bool("orc.created", created))
	}
	endSpan(span, err)
	return stored, created, err
}

// endSpan ends a span, marking it failed with err. A client's error (a
// schema violation) fails the span too: the trace shows where the call
// ended.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, orc.ErrorMessage(err))
	}
	span.End()
}
