package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Traces are configured by OpenTelemetry's standard environment variables,
// not by flags: whatever sets them for other services sets them for Orc.
// These are the ones Orc reads itself or hands on to the OpenTelemetry SDK
// (which reads them from the process's environment) when they come from
// the node's file (ORC_ENV_FILE).
var otelVars = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
	"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
	"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
}

// tracingEnabled applies the rule that turns traces on, the one
// OpenTelemetry's autoexport follows for OTLP:
//
//   - OTEL_SDK_DISABLED=true: off;
//   - OTEL_TRACES_EXPORTER=otlp: on; =none: off; any other exporter is an
//     error (Orc exports OTLP only);
//   - OTEL_TRACES_EXPORTER unset: on when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, else off.
//
// OTLP goes over HTTP (http/protobuf, OTLP's default); a protocol variable
// that asks for another is an error rather than a silent change.
func tracingEnabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	var on bool
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "otlp":
		on = true
	case "none":
		return false, nil
	case "":
		on = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: orc exports traces with otlp (or none)", exp)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(name); on && p != "" && p != "http/protobuf" {
			return false, fmt.Errorf("%s=%q: orc exports OTLP over http/protobuf", name, p)
		}
	}
	return on, nil
}

// openTracing returns the tracer provider of a service named service
// (unless OTEL_SERVICE_NAME names it), exporting OTLP as the OTEL_*
// variables say, or nil when they leave traces off. The SDK takes the
// sampler (OTEL_TRACES_SAMPLER, default parent-based always-on) and the
// batching (OTEL_BSP_*) from the environment too. Shut it down to flush
// its last spans.
func openTracing(ctx context.Context, getenv func(string) string, service string) (*sdktrace.TracerProvider, error) {
	on, err := tracingEnabled(getenv)
	if err != nil || !on {
		return nil, err
	}
	// The SDK reads the process's environment; the node's file (when
	// getenv reads one) fills in what the process lacks.
	for _, name := range otelVars {
		if _, set := os.LookupEnv(name); !set && getenv(name) != "" {
			if err := os.Setenv(name, getenv(name)); err != nil {
				return nil, err
			}
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service), attribute.String("service.version", Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// closeTracing flushes and stops a tracer provider, giving its exporter a
// few seconds.
func closeTracing(tp *sdktrace.TracerProvider, logger *slog.Logger) {
	if tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("flush traces", "err", err)
	}
}

// tracer returns the tracer of one of Orc's packages, nil when tracing is
// off (tp nil): the packages then make no spans and carry no trace
// context.
func tracer(tp trace.TracerProvider, pkg string) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer("github.com/orc-gateway/orc/" + pkg)
}

// traceHandler adds the trace and span ids of a record's context, when it
// carries a sampled span, to each log record, so that a log line leads to
// its trace. It is installed only while tracing is on: otherwise logs are
// exactly as before.
type traceHandler struct{ slog.Handler }

var _ slog.Handler = traceHandler{}

// Handle adds trace_id and span_id to r.
func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs returns the handler with attrs, still adding trace ids.
func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup returns the handler with a group, still adding trace ids.
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// withTraceIDs returns logger whose records carry their trace ids, or
// logger itself when tracing is off.
func withTraceIDs(logger *slog.Logger, tp trace.TracerProvider) *slog.Logger {
	if tp == nil {
		return logger
	}
	return slog.New(traceHandler{logger.Handler()})
}
