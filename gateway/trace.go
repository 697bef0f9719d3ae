package gateway

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceContext reads a client's W3C trace context (traceparent) and writes
// the request's own on the response.
var traceContext = propagation.TraceContext{}

var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// traceRequests makes a span of each request, the parent of the invoke
// path's spans: the child of the client's span when the request carries a
// traceparent, else the root of a new trace. A sampled request's response
// carries its span's traceparent, so that a client can find the trace of
// its call; an unsampled one's does not, since no trace of it is kept.
//
// It is installed only when the server has a Tracer: with tracing off, a
// request costs nothing more and its response has no traceparent.
func (s *Server) traceRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := s.Tracer.Start(ctx, r.Method, serverSpan...)
		defer span.End()
		if span.SpanContext().IsSampled() {
			traceContext.Inject(ctx, propagation.HeaderCarrier(w.Header()))
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		if !span.IsRecording() {
			return
		}
		status := ww.Status()
		// The route is known once chi has routed the request.
		if route := chi.RouteContext(r.Context()).RoutePattern(); route != "" {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
			attribute.Int("http.response.status_code", status))
		if id := ww.Header().Get(headerInvocationID); id != "" {
			span.SetAttributes(attribute.String("orc.invocation.id", id))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}
