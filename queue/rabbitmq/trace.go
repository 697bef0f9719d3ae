package rabbitmq

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// traceContext is how a task carries its trace from the gateway's publish
// to the worker's consume: W3C trace context in the message's headers.
var traceContext = propagation.TraceContext{}

// Span start options, made once: a variadic argument built at each call
// would be allocated even when tracing is off.
var (
	producerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}
	consumerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

// tracer returns the broker's tracer, a no-op one when tracing is off.
func (b *Broker) tracer() trace.Tracer {
	if b.cfg.Tracer == nil {
		return noop.Tracer{}
	}
	return b.cfg.Tracer
}

// headerCarrier reads and writes a trace context in AMQP message headers.
type headerCarrier amqp.Table

var _ propagation.TextMapCarrier = headerCarrier(nil)

// Get returns the header key as a string; RabbitMQ may hand a long string
// back as bytes.
func (c headerCarrier) Get(key string) string {
	switch v := c[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// Set sets the header key.
func (c headerCarrier) Set(key, value string) { c[key] = value }

// Keys lists the headers.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// injectTrace adds the trace context of ctx's span to msg's headers, when
// tracing is on and there is one.
func (b *Broker) injectTrace(ctx context.Context, msg *amqp.Publishing) {
	if b.cfg.Tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	if msg.Headers == nil {
		msg.Headers = amqp.Table{}
	}
	traceContext.Inject(ctx, headerCarrier(msg.Headers))
}

// extractTrace returns ctx with the remote span that a delivery's headers
// name as its parent, when tracing is on.
func (b *Broker) extractTrace(ctx context.Context, h amqp.Table) context.Context {
	if b.cfg.Tracer == nil || h == nil {
		return ctx
	}
	return traceContext.Extract(ctx, headerCarrier(h))
}

// messagingAttrs describes a message for a span.
func messagingAttrs(op, destination, key, id string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "rabbitmq"),
		attribute.String("messaging.operation.type", op),
		attribute.String("messaging.destination.name", destination),
		attribute.String("messaging.message.id", id),
		attribute.String("orc.invocation.id", id),
	}
	if key != "" {
		attrs = append(attrs, attribute.String("messaging.rabbitmq.destination.routing_key", key))
	}
	return attrs
}

// endSpan ends a span, marking it failed with err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
