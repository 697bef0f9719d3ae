package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
)

// fakeServers starts plugin servers as in-process HTTP servers whose
// /invoke sleeps for the input's sleep_ms.
type fakeServers struct {
	mu      sync.Mutex
	started int
	running map[string]*httptest.Server
	delay   time.Duration // before a started server answers
}

func (f *fakeServers) StartServer(ctx context.Context, spec *orc.ServerSpec) (*orc.PluginServer, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /invoke", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			SleepMS int `json:"sleep_ms"`
		}
		json.Unmarshal(body, &in) //nolint:errcheck
		select {
		case <-time.After(time.Duration(in.SleepMS) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Write(body) //nolint:errcheck
	})
	time.Sleep(f.delay)
	srv := httptest.NewServer(mux)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	id := fmt.Sprintf("c%d", f.started)
	if f.running == nil {
		f.running = map[string]*httptest.Server{}
	}
	f.running[id] = srv
	return &orc.PluginServer{ID: id, URL: srv.URL}, nil
}

func (f *fakeServers) StopServer(ctx context.Context, id string) error {
	f.mu.Lock()
	srv := f.running[id]
	delete(f.running, id)
	f.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
	return nil
}

func (f *fakeServers) ListServers(ctx context.Context) ([]orc.PluginServer, error) {
	return nil, nil
}

func (f *fakeServers) count() (started, running int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started, len(f.running)
}

func newTestWarm(t *testing.T, f *fakeServers, idle time.Duration) *Warm {
	w := NewWarm(WarmConfig{IdleTimeout: idle, StartTimeout: 5 * time.Second}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(w.Close)
	return w
}

func warmVersion(id int64, minWarm, maxReplicas, concurrency int) *orc.Version {
	v := &orc.Version{ID: id, Plugin: "p", Version: "1", Protocol: orc.ProtocolHTTP,
		MinWarm: minWarm, MaxReplicas: maxReplicas, Concurrency: concurrency, TimeoutS: 10}
	v.SetDefaults()
	return v
}

// Calls that wait for a starting server get its free slots as soon as it
// is ready, not when the call that started it ends.
func TestWarmWaitersShareANewServer(t *testing.T) {
	f := &fakeServers{delay: 200 * time.Millisecond}
	w := newTestWarm(t, f, time.Minute)
	v := warmVersion(1, 0, 1, 4)
	var wg sync.WaitGroup
	results := make([]*orc.ContainerResult, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			res, err := w.Run(ctx, v, []byte(`{"sleep_ms": 1000}`))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	for i, r := range results {
		if r == nil || r.ExitCode != 0 || r.TimedOut {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	if started, _ := f.count(); started != 1 {
		t.Fatalf("%d servers started for 4 calls on one 4-slot server", started)
	}
}

// One call's timeout does not take down the other calls on the same
// multi-slot server.
func TestWarmTimeoutSparesOtherCalls(t *testing.T) {
	f := &fakeServers{}
	w := newTestWarm(t, f, time.Minute)
	v := warmVersion(2, 0, 1, 4)
	if res, err := w.Run(context.Background(), v, []byte(`{}`)); err != nil || res.ExitCode != 0 {
		t.Fatalf("first call: %v %+v", err, res)
	}
	var wg sync.WaitGroup
	var long *orc.ContainerResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		long, _ = w.Run(context.Background(), v, []byte(`{"sleep_ms": 300}`))
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	short, _ := w.Run(ctx, v, []byte(`{"sleep_ms": 5000}`))
	cancel()
	wg.Wait()
	if !short.TimedOut {
		t.Fatalf("the slow call: %+v", short)
	}
	if long == nil || long.ExitCode != 0 {
		t.Fatalf("the other call on the same server failed: %+v", long)
	}
	if started, running := f.count(); started != 1 || running != 1 {
		t.Fatalf("started %d, running %d: the shared server was replaced", started, running)
	}
}

// Tend keeps min_warm for the versions it is told to, and lets the others'
// servers go after the idle timeout.
func TestWarmTendKeepsOnlyListedVersions(t *testing.T) {
	f := &fakeServers{}
	w := newTestWarm(t, f, 50*time.Millisecond)
	old, current := warmVersion(3, 1, 1, 1), warmVersion(4, 1, 1, 1)
	ctx := context.Background()
	w.Tend(ctx, []*orc.Version{old, current})
	if w.Size(3) != 1 || w.Size(4) != 1 {
		t.Fatalf("min_warm: sizes %d %d", w.Size(3), w.Size(4))
	}
	time.Sleep(100 * time.Millisecond)
	w.Tend(ctx, []*orc.Version{current}) // the old version is gone
	if w.Size(3) != 0 || w.Size(4) != 1 {
		t.Fatalf("after the old version left the list: sizes %d %d", w.Size(3), w.Size(4))
	}
	if _, running := f.count(); running != 1 {
		t.Fatalf("%d servers still running, want 1", running)
	}
}

// A server whose start finishes after Close is stopped, not left running
// in a pool nothing tends any more.
func TestWarmCloseDuringStart(t *testing.T) {
	f := &fakeServers{delay: 200 * time.Millisecond}
	w := newTestWarm(t, f, time.Minute)
	done := make(chan struct{})
	go func() {
		w.Tend(context.Background(), []*orc.Version{warmVersion(5, 1, 1, 1)})
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	w.Close()
	<-done
	if started, running := f.count(); started != 1 || running != 0 {
		t.Fatalf("started %d, still running %d after Close", started, running)
	}
}
