package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// inMemoryTracing returns a tracer provider that samples every trace and
// keeps its spans in the exporter it returns.
func inMemoryTracing(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) }) //nolint:errcheck // in memory
	return tp, exp
}

// invokeTraced calls a plugin synchronously, expecting 200, and returns
// the span context its response's traceparent names.
func (s *stack) invokeTraced(t *testing.T, path, input string) trace.SpanContext {
	t.Helper()
	resp := s.do("POST", path, input)
	if resp.status != http.StatusOK {
		t.Fatalf("invoke %s: %d %s", path, resp.status, resp.body)
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(resp.header)))
	if !sc.IsValid() {
		t.Fatalf("traceparent %q", resp.header.Get("traceparent"))
	}
	return sc
}

// spansOf waits until the exporter holds a span named last of trace id,
// and returns the trace's spans by name (the first of each name).
func spansOf(t *testing.T, exp *tracetest.InMemoryExporter, id trace.TraceID, last string) map[string]tracetest.SpanStub {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		byName := map[string]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID() != id {
				continue
			}
			if _, seen := byName[s.Name]; !seen {
				byName[s.Name] = s
			}
		}
		if _, ok := byName[last]; ok {
			return byName
		}
		if time.Now().After(deadline) {
			names := make([]string, 0, len(byName))
			for n := range byName {
				names = append(names, n)
			}
			t.Fatalf("no %q span in trace %s; its spans: %v", last, id, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkParents fails unless each child span's parent is the named span.
func checkParents(t *testing.T, spans map[string]tracetest.SpanStub, parentOf map[string]string) {
	t.Helper()
	for child, parent := range parentOf {
		c, ok := spans[child]
		if !ok {
			t.Errorf("no %q span", child)
			continue
		}
		p, ok := spans[parent]
		if !ok {
			t.Errorf("no %q span", parent)
			continue
		}
		if c.Parent.SpanID() != p.SpanContext.SpanID() {
			t.Errorf("%q's parent is span %s, want %q (%s)", child, c.Parent.SpanID(), parent, p.SpanContext.SpanID())
		}
	}
}

// TestTraceOneInvocation runs invocations through a gateway and a worker
// that export to one in-memory exporter, and checks that each makes one
// trace: the client's, continued by the gateway, carried to the worker in
// the task's message headers (the consume's parent is remote: nothing
// but the message links the two sides), through the run to the reply.
func TestTraceOneInvocation(t *testing.T) {
	tp, exp := inMemoryTracing(t)
	s := newTracedStack(t, nil, false, tp)

	// The client's own trace, which the gateway continues.
	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	traceID, _ := trace.TraceIDFromHex(clientTrace)

	t.Run("exec with hooks", func(t *testing.T) {
		s.mustUploadHook("validator", "")
		s.mustUploadHook("redactor", "")
		s.register(echoWithHooks(t, "traced", "1.0.0", []string{"validator"}, []string{"redactor"}))
		resp := s.do("POST", "/invoke/traced", `{"start_date": "2026-11-01", "end_date": "2026-12-01", "owner": "alice@example.com"}`,
			"traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
		if resp.status != http.StatusOK || strings.Contains(string(resp.body), "alice@") {
			t.Fatalf("invoke: %d %s", resp.status, resp.body)
		}
		tp := resp.header.Get("traceparent")
		if !strings.HasPrefix(tp, "00-"+clientTrace+"-") || !strings.HasSuffix(tp, "-01") {
			t.Fatalf("traceparent = %q, want one in the client's trace", tp)
		}

		spans := spansOf(t, exp, traceID, "consume task")
		req := spans["POST /invoke/{plugin}"]
		if req.Parent.SpanID().String() != clientSpan || !req.Parent.IsRemote() || req.SpanKind != trace.SpanKindServer {
			t.Fatalf("request span's parent = %v (kind %v), want the client's span", req.Parent, req.SpanKind)
		}
		if !strings.HasSuffix(tp, "-"+req.SpanContext.SpanID().String()+"-01") {
			t.Errorf("traceparent %q does not name the request's span %s", tp, req.SpanContext.SpanID())
		}
		checkParents(t, spans, map[string]string{
			"hook validator":    "POST /invoke/{plugin}",
			"validate input":    "POST /invoke/{plugin}",
			"insert invocation": "POST /invoke/{plugin}",
			"publish task":      "POST /invoke/{plugin}",
			"consume task":      "publish task",
			"start attempt":     "consume task",
			"container run":     "consume task",
			"container create":  "container run",
			"container start":   "container run",
			"hook redactor":     "consume task",
			"commit result":     "consume task",
			"send reply":        "consume task",
		})
		if c := spans["consume task"]; !c.Parent.IsRemote() || c.SpanKind != trace.SpanKindConsumer {
			t.Errorf("consume span: remote parent %v, kind %v; want a consumer of the message's context", c.Parent.IsRemote(), c.SpanKind)
		}
		if p := spans["publish task"]; p.SpanKind != trace.SpanKindProducer {
			t.Errorf("publish span kind %v", p.SpanKind)
		}
	})

	t.Run("warm", func(t *testing.T) {
		s.register(warmEcho(t, "traced-warm", 1, 1, 1))
		waitServers(t, s.cfg.QueuePrefix, "traced-warm", "1.0.0", 1, 60*time.Second)
		spans := spansOf(t, exp, s.invokeTraced(t, "/invoke/traced-warm", `{"n": 1}`).TraceID(), "consume task")
		checkParents(t, spans, map[string]string{
			"validate input": "POST /invoke/{plugin}",
			"publish task":   "POST /invoke/{plugin}",
			"consume task":   "publish task",
			"warm call":      "consume task",
			"commit result":  "consume task",
			"send reply":     "consume task",
		})
	})
}

// TestTraceIDsInLogs checks that records get trace ids only from a context
// with a sampled span, and that without tracing the logger is unchanged.
func TestTraceIDsInLogs(t *testing.T) {
	var buf bytes.Buffer
	plain := slog.New(slog.NewTextHandler(&buf, nil))
	if withTraceIDs(plain, nil) != plain {
		t.Fatal("with tracing off the logger is replaced")
	}
	tp := sdktrace.NewTracerProvider()
	logger := withTraceIDs(plain, tp).With("worker", "w1")
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	logger.InfoContext(ctx, "in a span")
	sc := span.SpanContext()
	want := "trace_id=" + sc.TraceID().String() + " span_id=" + sc.SpanID().String()
	if !strings.Contains(buf.String(), want) || !strings.Contains(buf.String(), "worker=w1") {
		t.Fatalf("log line %q lacks %q", buf.String(), want)
	}

	buf.Reset()
	logger.InfoContext(context.Background(), "no span")
	var plainBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&plainBuf, nil)).With("worker", "w1").InfoContext(context.Background(), "no span")
	if strip := func(s string) string { return s[strings.Index(s, " level="):] }; strip(buf.String()) != strip(plainBuf.String()) {
		t.Fatalf("without a span the line changed:\n%s%s", buf.String(), plainBuf.String())
	}

	buf.Reset()
	unsampled := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: sc.TraceID(), SpanID: sc.SpanID()}))
	logger.InfoContext(unsampled, "unsampled")
	if strings.Contains(buf.String(), "trace_id") {
		t.Fatalf("an unsampled span's ids were logged: %s", buf.String())
	}
}

func TestTracingEnabled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr bool
	}{
		{"nothing set", nil, false, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, false},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, false},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, false},
		{"sdk disabled wins", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, false},
		{"other exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, true},
		{"http protobuf", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, false},
		{"grpc", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, false, true},
		{"grpc while off", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, err := tracingEnabled(func(k string) string { return tc.env[k] })
			if on != tc.on || (err != nil) != tc.wantErr {
				t.Fatalf("tracingEnabled = %v, %v; want %v, error %v", on, err, tc.on, tc.wantErr)
			}
		})
	}
}

func TestOpenTracingOff(t *testing.T) {
	tp, err := openTracing(context.Background(), func(string) string { return "" }, "orc-test")
	if tp != nil || err != nil {
		t.Fatalf("openTracing with nothing set = %v, %v; want nil, nil", tp, err)
	}
}

// otlpSpan is a span an OTLP receiver got.
type otlpSpan struct{ name, traceID, spanID, parentID string }

// otlpReceiver is an OTLP/HTTP collector of traces for a test: it keeps
// the spans it is sent.
type otlpReceiver struct {
	URL   string
	mu    sync.Mutex
	spans []otlpSpan
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("otlp receiver: %s %v", r.URL.Path, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					rcv.spans = append(rcv.spans, otlpSpan{sp.Name, hex.EncodeToString(sp.TraceId),
						hex.EncodeToString(sp.SpanId), hex.EncodeToString(sp.ParentSpanId)})
				}
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out) //nolint:errcheck // the exporter may have gone
	}))
	t.Cleanup(srv.Close)
	rcv.URL = srv.URL
	return rcv
}

// span waits for a span of a trace by name.
func (rcv *otlpReceiver) span(t *testing.T, traceID, name string, limit time.Duration) otlpSpan {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		rcv.mu.Lock()
		for _, s := range rcv.spans {
			if s.traceID == traceID && s.name == name {
				rcv.mu.Unlock()
				return s
			}
		}
		n := len(rcv.spans)
		rcv.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %q span of trace %s among the %d the receiver got", name, traceID, n)
		}
	}
}

// TestTraceRayJob runs a ray-job invocation with a traced gateway and
// scheduler, and orc ray-exec exporting over OTLP (its endpoint from the
// node's file, where the scheduler puts its OTEL_* variables): the
// entrypoint's spans, in another process on a Ray node, join the trace
// through the job's TRACEPARENT.
func TestTraceRayJob(t *testing.T) {
	rcv := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	tp, exp := inMemoryTracing(t)
	s := newTracedRayStack(t, tp)
	s.register(manifest(t, "echo", func(m map[string]any) {
		m["name"], m["execution"], m["timeout_s"] = "echo-traced-rj", "ray-job", 120
		m["resources"] = map[string]any{"cpu": 0.5}
	}))
	parent := s.invokeTraced(t, "/invoke/echo-traced-rj", `{"traced": true}`)
	spans := spansOf(t, exp, parent.TraceID(), "consume task")
	checkParents(t, spans, map[string]string{
		"consume task": "publish task",
		"ray job":      "consume task",
	})
	id := parent.TraceID().String()
	exec := rcv.span(t, id, "ray-exec", 30*time.Second)
	if want := spans["ray job"].SpanContext.SpanID().String(); exec.parentID != want {
		t.Fatalf("ray-exec's parent is %s, want the ray job span %s", exec.parentID, want)
	}
	if run := rcv.span(t, id, "container run", 10*time.Second); run.parentID != exec.spanID {
		t.Fatalf("the container run's parent is %s, want ray-exec's span %s", run.parentID, exec.spanID)
	}
}
