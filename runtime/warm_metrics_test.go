package runtime

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orc-gateway/orc"
)

// The collector reports each version's warm containers as they are at
// scrape time.
func TestWarmCollector(t *testing.T) {
	w := NewWarm(WarmConfig{}, nil, nil)
	a := w.poolOf(&orc.Version{ID: 1, Plugin: "classifier", Version: "1.0.0"})
	a.servers = []*server{{}, {}}
	w.poolOf(&orc.Version{ID: 2, Plugin: "echo", Version: "2.0.0"})

	reg := prometheus.NewRegistry()
	reg.MustRegister(w.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			l := m.GetLabel()
			got[l[0].GetValue()+"@"+l[1].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if len(got) != 2 || got["classifier@1.0.0"] != 2 || got["echo@2.0.0"] != 0 {
		t.Fatalf("warm containers %v, want classifier@1.0.0 2 and echo@2.0.0 0", got)
	}
}
