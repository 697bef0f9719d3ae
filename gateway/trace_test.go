package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// A request's span continues the client's trace and is named after its
// route; only a sampled one's response carries its traceparent.
func TestTraceRequests(t *testing.T) {
	const client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
	for _, tc := range []struct {
		name    string
		sampler sdktrace.Sampler
		header  string
		want    bool // a traceparent on the response
	}{
		{"new trace", sdktrace.AlwaysSample(), "", true},
		{"client's sampled trace", sdktrace.ParentBased(sdktrace.NeverSample()), client + "01", true},
		{"client's unsampled trace", sdktrace.ParentBased(sdktrace.AlwaysSample()), client + "00", false},
		{"not sampled", sdktrace.NeverSample(), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(tc.sampler))
			s := &Server{Tracer: tp.Tracer("test")}
			r := chi.NewRouter()
			r.Use(s.traceRequests)
			r.Post("/invoke/{plugin}", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerInvocationID, "inv-1")
				w.WriteHeader(http.StatusBadGateway)
			})
			req := httptest.NewRequest("POST", "/invoke/echo", nil)
			if tc.header != "" {
				req.Header.Set("traceparent", tc.header)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)

			got := rec.Header().Get("traceparent")
			if (got != "") != tc.want {
				t.Fatalf("traceparent = %q, want one: %v", got, tc.want)
			}
			spans := exp.GetSpans()
			if !tc.want {
				if len(spans) != 0 {
					t.Fatalf("%d spans exported from an unsampled request", len(spans))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			span := spans[0]
			if span.Name != "POST /invoke/{plugin}" || span.SpanKind != trace.SpanKindServer || span.Status.Code.String() != "Error" {
				t.Fatalf("span %q kind %v status %v", span.Name, span.SpanKind, span.Status)
			}
			if !strings.Contains(got, span.SpanContext.SpanID().String()) || !strings.Contains(got, span.SpanContext.TraceID().String()) {
				t.Fatalf("traceparent %q does not name span %v", got, span.SpanContext)
			}
			if tc.header != "" && (span.Parent.SpanID().String() != "00f067aa0ba902b7" || !span.Parent.IsRemote()) {
				t.Fatalf("parent = %v, want the client's span", span.Parent)
			}
			attrs := map[string]string{}
			for _, kv := range span.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			if attrs["http.route"] != "/invoke/{plugin}" || attrs["http.response.status_code"] != "502" || attrs["orc.invocation.id"] != "inv-1" {
				t.Fatalf("attributes = %v", attrs)
			}
		})
	}
}
