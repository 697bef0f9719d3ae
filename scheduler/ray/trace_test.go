package ray

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/orc-gateway/orc"
)

// TestJobDriverCarriesTrace checks that a traced run's Ray job carries the
// run's span as TRACEPARENT, for orc ray-exec to continue, and nothing
// when tracing is off.
func TestJobDriverCarriesTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	for _, traced := range []bool{false, true} {
		d, f, ts := newTestDriver(t)
		spec := testSpec()
		if traced {
			d.Tracer = tp.Tracer("test")
		}
		f.onGet = func(j *JobDetails, _ int) {
			ts.store(t, spec.InvocationID, spec.Attempt, &orc.ContainerResult{})
			finish(j, JobSucceeded, intPtr(0), "")
		}
		ctx, parent := tp.Tracer("test").Start(context.Background(), "consume task")
		if _, err := d.Run(ctx, spec); err != nil {
			t.Fatal(err)
		}
		parent.End()
		f.mu.Lock()
		env := f.submits[0].Job.RuntimeEnv.EnvVars
		f.mu.Unlock()
		if !traced {
			if _, ok := env["TRACEPARENT"]; ok {
				t.Fatalf("TRACEPARENT %q with tracing off", env["TRACEPARENT"])
			}
			continue
		}
		var job tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			if s.Name == "ray job" {
				job = s
			}
		}
		if job.Parent.SpanID() != parent.SpanContext().SpanID() || job.SpanKind != trace.SpanKindClient {
			t.Fatalf("ray job span = %+v, want a client child of the run's span", job)
		}
		want := "00-" + job.SpanContext.TraceID().String() + "-" + job.SpanContext.SpanID().String() + "-01"
		if env["TRACEPARENT"] != want || strings.Contains(strings.Join(keys(env), ","), "traceparent") {
			t.Fatalf("job env = %v, want TRACEPARENT=%s", env, want)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
