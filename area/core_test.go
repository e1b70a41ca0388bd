package area

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// fakeCounted counts with a number the test sets, and records the sweeps.
type fakeCounted struct {
	desc   *prometheus.Desc
	value  float64
	sweeps int
}

func (c *fakeCounted) Sweep() { c.sweeps++ }

func (c *fakeCounted) Metrics() []prometheus.Metric {
	return []prometheus.Metric{prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, c.value, "a")}
}

func (c *fakeCounted) SharedCounts() (rejected, overflow, truncated map[string]uint64) {
	return map[string]uint64{"malformed": uint64(c.value)}, map[string]uint64{"type": 1}, map[string]uint64{"type": 2}
}

// Core.Publish writes the state file before it publishes: while the file
// takes the counts, the area's series and its parts of the shared families
// are served, and a successful refresh moves the last success; when the
// file cannot be written, neither moves, and the status says the values
// are held back. Store serves the counts without writing the file.
func TestCorePublishesWhatTheFileHolds(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := state.Open(filepath.Join(dir, "sailpoint.state"), state.Identity{URL: "https://acme.api.identitynow.com", ClientID: "id"}, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	w := Wiring{State: f, Now: func() time.Time { return now }}
	w.DefaultWiring(nil)
	p, data := testPublisher()
	core := NewCore(&w, p.status, []*prometheus.Desc{data}, nil)
	counted := &fakeCounted{desc: data, value: 3}
	var mu sync.Mutex
	var st Status

	served := func(want string) {
		t.Helper()
		if err := testutil.CollectAndCompare(core.Collector, strings.NewReader(want),
			"sailpoint_test_things", "sailpoint_activities_rejected_total", "sailpoint_label_overflow_total", "sailpoint_label_values_truncated_total"); err != nil {
			t.Error(err)
		}
	}
	const three = `
# HELP sailpoint_test_things Things.
# TYPE sailpoint_test_things gauge
sailpoint_test_things{kind="a"} 3
# HELP sailpoint_activities_rejected_total Records ISC sent that the exporter cannot use (account activities, aggregation tasks), each counted once, by reason; the records around them are counted as usual.
# TYPE sailpoint_activities_rejected_total counter
sailpoint_activities_rejected_total{reason="malformed"} 3
# HELP sailpoint_label_overflow_total Counted activities, items or aggregations whose label value was reported as "other" because the label's cap of distinct values was reached.
# TYPE sailpoint_label_overflow_total counter
sailpoint_label_overflow_total{label="type"} 1
# HELP sailpoint_label_values_truncated_total Distinct label values longer than 128 bytes, cut to that length.
# TYPE sailpoint_label_values_truncated_total counter
sailpoint_label_values_truncated_total{label="type"} 2
`
	core.Publish(&mu, &st, true, counted)
	served(three)
	if counted.sweeps != 1 || !st.LastSuccess.Equal(now) || st.HeldBack {
		t.Fatalf("after a written publication: %d sweeps, last success %v, held back %v; want 1, %v, false", counted.sweeps, st.LastSuccess, st.HeldBack, now)
	}

	// The directory goes away: the next write fails, and what was counted
	// since stays unserved, as the file does not hold it.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	counted.value, now = 5, now.Add(time.Minute)
	core.Publish(&mu, &st, true, counted)
	served(three)
	if cur := core.Publisher.Current(); counted.sweeps != 2 || !st.LastSuccess.Equal(now.Add(-time.Minute)) || !st.HeldBack || !cur.Status.HeldBack {
		t.Fatalf("after a failed write: %d sweeps, last success %v, held back %v (served %v); want 2, the one before, true", counted.sweeps, st.LastSuccess, st.HeldBack, cur.Status.HeldBack)
	}

	// Store serves the counts as they are, the file untouched.
	core.Store(st, counted)
	served(strings.ReplaceAll(strings.Replace(three, `{kind="a"} 3`, `{kind="a"} 5`, 1), `{reason="malformed"} 3`, `{reason="malformed"} 5`))
}
