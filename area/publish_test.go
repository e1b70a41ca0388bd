package area

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testPublisher() (*Publisher, *prometheus.Desc) {
	status := StatusDescs{
		Up:          prometheus.NewDesc("sailpoint_test_up", "Up.", nil, nil),
		LastSuccess: prometheus.NewDesc("sailpoint_test_last_success_timestamp_seconds", "Last success.", nil, nil),
		Duration:    prometheus.NewDesc("sailpoint_test_refresh_duration_seconds", "Duration.", nil, nil),
	}
	data := prometheus.NewDesc("sailpoint_test_things", "Things.", []string{"kind"}, nil)
	return NewPublisher(status, data), data
}

// A publisher serves nothing before its first publication, then its
// status and data as published; a status-only publication keeps the data;
// MarkDown sets up to 0 once, keeping the rest.
func TestPublisher(t *testing.T) {
	p, data := testPublisher()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("before the first publication: %d series, %v", n, err)
	}
	at := time.UnixMilli(1_700_000_000_123)
	p.Publish(Status{Up: true, LastSuccess: at, Duration: 1500 * time.Millisecond, Refreshed: true},
		ConstMetrics(data, prometheus.GaugeValue, []Sample{{Labels: []string{"b"}, Value: 2}, {Labels: []string{"a"}, Value: 1}}, "kind"))
	want := `
# HELP sailpoint_test_last_success_timestamp_seconds Last success.
# TYPE sailpoint_test_last_success_timestamp_seconds gauge
sailpoint_test_last_success_timestamp_seconds 1.700000000123e+09
# HELP sailpoint_test_refresh_duration_seconds Duration.
# TYPE sailpoint_test_refresh_duration_seconds gauge
sailpoint_test_refresh_duration_seconds 1.5
# HELP sailpoint_test_things Things.
# TYPE sailpoint_test_things gauge
sailpoint_test_things{kind="a"} 1
sailpoint_test_things{kind="b"} 2
# HELP sailpoint_test_up Up.
# TYPE sailpoint_test_up gauge
sailpoint_test_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if !p.MarkDown() || p.MarkDown() {
		t.Fatal("MarkDown should report true once, then false")
	}
	p.PublishStatus(Status{Up: false, LastSuccess: at, Refreshed: true, Duration: time.Second})
	want = strings.Replace(strings.Replace(want, "sailpoint_test_up 1", "sailpoint_test_up 0", 1), "refresh_duration_seconds 1.5", "refresh_duration_seconds 1", 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// Exemplars go on counters only, and an id too long for OpenMetrics'
// 128 characters is left out; a counter with an exemplar can be wrapped
// with a tenant's label and scraped concurrently (the race detector
// watches).
func TestExemplars(t *testing.T) {
	counter := prometheus.NewDesc("sailpoint_test_failures_total", "Failures.", []string{"kind"}, nil)
	at := time.UnixMilli(1_700_000_000_000)
	ms := ConstMetrics(counter, prometheus.CounterValue, []Sample{
		{Labels: []string{"short"}, Value: 1, Ex: &Exemplar{Label: "activity_id", ID: "2c9180835d2e5168015d32f890ca1581", At: at}},
		{Labels: []string{"long"}, Value: 1, Ex: &Exemplar{Label: "activity_id", ID: strings.Repeat("x", 118), At: at}},
	}, "kind")
	if _, ok := ms[1].(builtMetric); !ok { // sorted: "short" after "long"
		t.Fatal("the exemplar of a 32-character id is missing")
	}
	if _, ok := ms[0].(builtMetric); ok {
		t.Fatal("an id longer than OpenMetrics allows got an exemplar")
	}
	p := NewPublisher(StatusDescs{}, counter)
	p.Publish(Status{}, ms)
	reg := prometheus.NewPedanticRegistry()
	prometheus.WrapRegistererWith(prometheus.Labels{"tenant": "sandbox"}, reg).MustRegister(p)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			mfs, err := reg.Gather()
			if err != nil {
				t.Error(err)
				return
			}
			m := mfs[0].GetMetric()[1]
			if len(m.GetLabel()) != 2 || m.GetCounter().GetExemplar().GetLabel()[0].GetValue() != "2c9180835d2e5168015d32f890ca1581" {
				t.Errorf("wrapped metric %v", m)
			}
		})
	}
	wg.Wait()
}

// writerFunc is a state file's Write.
type writerFunc func() error

func (f writerFunc) Write() error { return f() }

// Persist moves the last success only when the refresh succeeded and the
// file was written; a failed write holds the values back, publishes the
// status alone, and keeps the data served before.
func TestPersistBeforePublish(t *testing.T) {
	t.Parallel()
	before := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	now := before.Add(time.Minute)
	tests := []struct {
		name        string
		succeeded   bool
		writeErr    error
		wantOK      bool
		wantSuccess time.Time
		wantHeld    bool
	}{
		{"written, succeeded", true, nil, true, now, false},
		{"written, failed refresh", false, nil, true, before, false},
		{"write fails", true, errDiskFull, false, before, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, data := testPublisher()
			p.Publish(Status{Up: true, LastSuccess: before}, []prometheus.Metric{prometheus.MustNewConstMetric(data, prometheus.GaugeValue, 3, "a")})
			var mu sync.Mutex
			st := Status{Up: true, LastSuccess: before, HeldBack: true}
			swept := false
			ok := p.Persist(&mu, &st, writerFunc(func() error { return tt.writeErr }), tt.succeeded,
				func() time.Time { return now }, func() { swept = true })
			if ok != tt.wantOK || !st.LastSuccess.Equal(tt.wantSuccess) || st.HeldBack != tt.wantHeld || !swept {
				t.Fatalf("Persist = %v, last success %v, held back %v, swept %v; want %v, %v, %v, true",
					ok, st.LastSuccess, st.HeldBack, swept, tt.wantOK, tt.wantSuccess, tt.wantHeld)
			}
			cur := p.Current()
			if !tt.wantOK && (!cur.Status.HeldBack || len(cur.Data) != 1) {
				t.Errorf("after a failed write the snapshot is %+v with %d data metrics; want held back, the data kept", cur.Status, len(cur.Data))
			}
		})
	}
}

var errDiskFull = errors.New("no space left on device")
