package runtime

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/orc-gateway/orc"
)

func (w *Worker) tracer() trace.Tracer { return tracerOr(w.Tracer) }

func (w *Warm) tracer() trace.Tracer { return tracerOr(w.Tracer) }

// tracerOr returns t, or a no-op tracer when t is nil (tracing is off).
func tracerOr(t trace.Tracer) trace.Tracer {
	if t == nil {
		return noop.Tracer{}
	}
	return t
}

// endSpan ends a span, marking it failed with err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, orc.ErrorMessage(err))
	}
	span.End()
}

// endRun ends the span of a run with what the run did.
func endRun(span trace.Span, res *orc.ContainerResult, err error) {
	if span.IsRecording() && res != nil {
		span.SetAttributes(attribute.Bool("orc.cold_start", !res.Warm),
			attribute.Float64("orc.cold_ms", ms(res.Cold)), attribute.Int("orc.exit_code", res.ExitCode))
		switch {
		case res.TimedOut:
			span.SetStatus(codes.Error, "timed out")
		case res.Canceled:
			span.SetStatus(codes.Error, "canceled")
		case res.ExitCode != 0:
			span.SetStatus(codes.Error, "the plugin failed")
		}
	}
	endSpan(span, err)
}

// endResult ends the span of a result's commit with the result.
func endResult(span trace.Span, r *orc.Result, won bool, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("orc.invocation.status", string(r.Status)),
			attribute.Bool("orc.committed", won))
	}
	endSpan(span, err)
}
