package gateway

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/orc-gateway/orc"
)

// Workers are counted by pool and state, and their warm containers by
// pool, from their heartbeats.
func TestWorkerMetrics(t *testing.T) {
	list := []*orc.WorkerInfo{
		{ID: "a", Pool: "default", Warm: 2},
		{ID: "b", Pool: "default", Warm: 1, Paused: "docker does not answer"},
		{ID: "c", Pool: "gpu", Drain: true},
		{ID: "d", Pool: "gpu", Warm: 3},
	}
	got := map[string]float64{}
	for _, m := range workerMetrics(list) {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		key := map[*prometheus.Desc]string{workersDesc: "orc_workers", warmDesc: "orc_warm_containers"}[m.Desc()]
		for _, l := range pb.GetLabel() {
			key += " " + l.GetName() + "=" + l.GetValue()
		}
		got[key] = pb.GetGauge().GetValue()
	}
	want := map[string]float64{
		"orc_workers pool=default state=running": 1,
		"orc_workers pool=default state=paused":  1,
		"orc_workers pool=gpu state=draining":    1,
		"orc_workers pool=gpu state=running":     1,
		"orc_warm_containers pool=default":       3,
		"orc_warm_containers pool=gpu":           3,
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
