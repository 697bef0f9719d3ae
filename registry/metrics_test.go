package registry

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orc-gateway/orc"
)

// replyHost answers each hook with the reply or error named for it.
type replyHost struct {
	HookHost
	replies map[string]*orc.HookReply
	errs    map[string]error
}

func (h *replyHost) Call(ctx context.Context, name string, req *orc.HookRequest) (*orc.HookReply, []string, error) {
	return h.replies[name], nil, h.errs[name]
}

// Each call is timed by hook, phase and how it ended.
func TestHookMetrics(t *testing.T) {
	host := &replyHost{
		replies: map[string]*orc.HookReply{"allow": {Allow: true}, "deny": {Allow: false, Status: 422}},
		errs:    map[string]error{"fail": orc.Errorf(orc.EHOOK, "trapped")},
	}
	reg := prometheus.NewRegistry()
	h := &Hooks{Host: host, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: orc.SystemClock{},
		Metrics: NewHookMetrics(reg)}
	for _, tc := range []struct {
		name  string
		phase orc.HookPhase
		chain []string
	}{
		{"allowed then denied", orc.HookPre, []string{"allow", "deny"}},
		{"failed", orc.HookPost, []string{"fail"}},
	} {
		v := &orc.Version{Plugin: "p", Version: "1"}
		v.Hooks.Pre, v.Hooks.Post = tc.chain, tc.chain
		if _, err := h.Run(context.Background(), &orc.HookRequest{Phase: tc.phase}, v); err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + " "
			}
			got[key] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{
		"hook=allow phase=pre result=allow ": 1,
		"hook=deny phase=pre result=deny ":   1,
		"hook=fail phase=post result=error ": 1,
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d calls, want %d", k, got[k], n)
		}
	}
}
