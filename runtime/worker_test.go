package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// fakeStore keeps one invocation and one version in memory. Methods the
// worker does not call panic through the nil embedded interfaces.
type fakeStore struct {
	orc.InvocationService
	orc.PluginService

	inv      *orc.Invocation
	version  *orc.Version
	startErr error
	results  []*orc.Result
	logs     []orc.LogLine
}

func (f *fakeStore) StartAttempt(ctx context.Context, id, worker, node string, at time.Time) (*orc.Invocation, error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	if f.inv == nil || f.inv.ID != id {
		return nil, orc.Errorf(orc.ENOTFOUND, "invocation not found")
	}
	if f.inv.Status.Terminal() {
		cp := *f.inv
		return &cp, orc.Errorf(orc.ECONFLICT, "invocation is %s", f.inv.Status)
	}
	f.inv.Status, f.inv.Worker = orc.StatusRunning, worker
	f.inv.Attempts++
	cp := *f.inv
	return &cp, nil
}

func (f *fakeStore) FinishInvocation(ctx context.Context, id string, r *orc.Result) (bool, error) {
	if f.inv.Status.Terminal() {
		return false, nil
	}
	f.results = append(f.results, r)
	f.inv.Status, f.inv.Output, f.inv.Error = r.Status, r.Output, r.Error
	return true, nil
}

func (f *fakeStore) FindInvocation(ctx context.Context, id string) (*orc.Invocation, error) {
	cp := *f.inv
	return &cp, nil
}

func (f *fakeStore) AppendLogs(ctx context.Context, id string, lines []orc.LogLine) error {
	f.logs = append(f.logs, lines...)
	return nil
}

func (f *fakeStore) FindVersionByID(ctx context.Context, id int64) (*orc.Version, error) {
	if f.version == nil {
		return nil, orc.Errorf(orc.ENOTFOUND, "plugin version not found")
	}
	return f.version, nil
}

type fakeDriver struct {
	res   *TaskResult
	err   error
	specs []*TaskSpec
}

func (d *fakeDriver) Run(ctx context.Context, spec *TaskSpec) (*TaskResult, error) {
	d.specs = append(d.specs, spec)
	return d.res, d.err
}

type fakeReplier struct{ replies []*orc.Reply }

func (r *fakeReplier) Reply(ctx context.Context, to string, reply *orc.Reply) error {
	r.replies = append(r.replies, reply)
	return nil
}

func newTestWorker(res *TaskResult) (*Worker, *fakeStore, *fakeDriver, *fakeReplier) {
	v := &orc.Version{ID: 3, Plugin: "p", Version: "1.0.0", Image: "p:1",
		OutputSchema: json.RawMessage(`{"type":"object","required":["label"]}`)}
	v.SetDefaults()
	store := &fakeStore{version: v, inv: &orc.Invocation{ID: "inv-1", Plugin: "p", Version: "1.0.0",
		Status: orc.StatusQueued, Input: json.RawMessage(`{"x":1}`)}}
	drv := &fakeDriver{res: res}
	rep := &fakeReplier{}
	w := NewWorker(Config{ID: "w1", Node: "n1"}, nil)
	w.Invocations, w.Plugins, w.Driver, w.Replier = store, store, drv, rep
	return w, store, drv, rep
}

var task = &orc.Task{InvocationID: "inv-1", VersionID: 3, Pool: "default", ReplyTo: "gw-1"}

func TestHandleOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		res    *TaskResult
		status orc.Status
		code   string
		msgHas string
		output string
		logHas string
	}{
		{name: "success", res: &TaskResult{Stdout: []byte("loading\n{\"label\":\"cat\"}\n"), Stderr: []byte("warm\n")},
			status: orc.StatusSucceeded, output: `{"label":"cat"}`, logHas: "loading"},
		{name: "last json line wins", res: &TaskResult{Stdout: []byte("{\"label\":\"a\"}\n{\"label\":\"b\"}\nbye\n")},
			status: orc.StatusSucceeded, output: `{"label":"b"}`, logHas: "bye"},
		{name: "exit code", res: &TaskResult{ExitCode: 3, Stderr: []byte("trace\nValueError: bad shape\n")},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "ValueError: bad shape", logHas: "trace"},
		{name: "exit code without stderr", res: &TaskResult{ExitCode: 9},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "exited with code 9"},
		{name: "no json", res: &TaskResult{Stdout: []byte("hello\n")},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "no JSON line"},
		{name: "output schema", res: &TaskResult{Stdout: []byte(`{"labl":"cat"}`)},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "does not match the schema"},
		{name: "timeout", res: &TaskResult{TimedOut: true, ExitCode: 137},
			status: orc.StatusTimedOut, code: orc.ETIMEOUT, msgHas: "within 60s"},
		{name: "oom", res: &TaskResult{OOMKilled: true, ExitCode: 137},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "out of memory"},
		{name: "truncated", res: &TaskResult{StdoutTruncated: true, Stdout: []byte(`{"label":`)},
			status: orc.StatusFailed, code: orc.EPLUGIN, msgHas: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, store, drv, rep := newTestWorker(tc.res)
			if err := w.Handle(context.Background(), task); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(store.results) != 1 {
				t.Fatalf("%d results committed, want 1", len(store.results))
			}
			r := store.results[0]
			if r.Status != tc.status || (tc.output != "" && string(r.Output) != tc.output) {
				t.Fatalf("result = %s %s %+v", r.Status, r.Output, r.Error)
			}
			if tc.code != "" && (r.Error == nil || r.Error.Code != tc.code || !strings.Contains(r.Error.Message, tc.msgHas)) {
				t.Fatalf("error = %+v, want %s containing %q", r.Error, tc.code, tc.msgHas)
			}
			if tc.logHas != "" && !hasLog(store.logs, tc.logHas) {
				t.Fatalf("logs %+v lack %q", store.logs, tc.logHas)
			}
			if len(rep.replies) != 1 || rep.replies[0].Status != tc.status {
				t.Fatalf("replies = %+v", rep.replies)
			}
			spec := drv.specs[0]
			if spec.Args[len(spec.Args)-1] != `{"x":1}` || string(spec.Stdin) != `{"x":1}` || spec.Env["ORC_INVOCATION_ID"] != "inv-1" {
				t.Fatalf("spec = %+v", spec)
			}
		})
	}
}

func hasLog(lines []orc.LogLine, s string) bool {
	for _, l := range lines {
		if strings.Contains(l.Line, s) {
			return true
		}
	}
	return false
}

func TestHandleTerminalInvocationIsNotRunAgain(t *testing.T) {
	w, store, drv, rep := newTestWorker(&TaskResult{})
	store.inv.Status = orc.StatusSucceeded
	store.inv.Output = json.RawMessage(`{"label":"x"}`)
	if err := w.Handle(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if len(drv.specs) != 0 || len(store.results) != 0 {
		t.Fatalf("a finished invocation ran again")
	}
	if len(rep.replies) != 1 || string(rep.replies[0].Output) != `{"label":"x"}` {
		t.Fatalf("the waiting gateway was not told the stored result: %+v", rep.replies)
	}
}

func TestHandleUnknownInvocationIsAcked(t *testing.T) {
	w, _, drv, _ := newTestWorker(&TaskResult{})
	if err := w.Handle(context.Background(), &orc.Task{InvocationID: "other"}); err != nil {
		t.Fatalf("unknown invocation: %v", err)
	}
	if len(drv.specs) != 0 {
		t.Fatal("ran a task of no invocation")
	}
}

func TestHandleDatabaseDownAsksForRedelivery(t *testing.T) {
	w, store, drv, _ := newTestWorker(&TaskResult{})
	store.startErr = orc.WrapError(orc.EUNAVAILABLE, errors.New("dial"), "database unavailable")
	if err := w.Handle(context.Background(), task); err == nil {
		t.Fatal("Handle acked a task it could not record")
	}
	if len(drv.specs) != 0 {
		t.Fatal("ran a task it could not record")
	}
}

func TestHandleEngineDownAsksForRedelivery(t *testing.T) {
	w, store, _, _ := newTestWorker(nil)
	w.Driver.(*fakeDriver).err = orc.WrapError(orc.EUNAVAILABLE, errors.New("socket"), "docker engine unavailable")
	if err := w.Handle(context.Background(), task); err == nil {
		t.Fatal("Handle acked a task whose engine was down")
	}
	if len(store.results) != 0 {
		t.Fatal("committed a result for a run that never happened")
	}
}

func TestHandleDeletedVersionFails(t *testing.T) {
	w, store, _, _ := newTestWorker(&TaskResult{})
	store.version = nil
	if err := w.Handle(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if len(store.results) != 1 || store.results[0].Status != orc.StatusFailed {
		t.Fatalf("results = %+v", store.results)
	}
}

func TestCancelStopsRun(t *testing.T) {
	w, _, _, _ := newTestWorker(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.track("inv-9", cancel)
	w.Cancel("inv-9")
	if ctx.Err() == nil {
		t.Fatal("Cancel did not cancel the run's context")
	}
	w.Cancel("not-here") // no-op
}

func TestLogLinesAreCapped(t *testing.T) {
	w := NewWorker(Config{MaxLogLines: 3}, nil)
	lines := w.logLines(1, &TaskResult{Stderr: []byte("a\nb\nc\nd\ne\n")}, nil)
	if len(lines) != 4 || lines[0].Stream != "orc" || lines[3].Line != "e" {
		t.Fatalf("lines = %+v", lines)
	}
}
