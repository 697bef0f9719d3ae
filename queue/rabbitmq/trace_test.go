package rabbitmq

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestTraceHeaders(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "publish")
	defer span.End()

	t.Run("off", func(t *testing.T) {
		b := &Broker{}
		msg := amqp.Publishing{}
		b.injectTrace(ctx, &msg)
		if msg.Headers != nil {
			t.Fatalf("headers %v with tracing off", msg.Headers)
		}
		if got := trace.SpanContextFromContext(b.extractTrace(context.Background(), amqp.Table{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})); got.IsValid() {
			t.Fatalf("extracted %v with tracing off", got)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		b := &Broker{cfg: Config{Tracer: tp.Tracer("test")}}
		msg := amqp.Publishing{}
		b.injectTrace(context.Background(), &msg)
		if msg.Headers != nil {
			t.Fatalf("headers %v without a span", msg.Headers)
		}
		b.injectTrace(ctx, &msg)
		if _, ok := msg.Headers["traceparent"].(string); !ok {
			t.Fatalf("headers = %v, want a traceparent", msg.Headers)
		}
		got := trace.SpanContextFromContext(b.extractTrace(context.Background(), msg.Headers))
		want := span.SpanContext()
		if got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsRemote() || !got.IsSampled() {
			t.Fatalf("extracted %v, want %v (remote)", got, want)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// A header may come back from the broker as bytes.
		b := &Broker{cfg: Config{Tracer: tp.Tracer("test")}}
		h := amqp.Table{"traceparent": []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}
		if got := trace.SpanContextFromContext(b.extractTrace(context.Background(), h)); got.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("extracted %v", got)
		}
	})
}
