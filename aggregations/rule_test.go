package aggregations

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

var epoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return epoch.Add(d) }

const acct = "CLOUD_ACCOUNT_AGGREGATION"

func tk(id, src, status string, created, launched, completed time.Time) client.Task {
	return client.Task{ID: id, SourceID: src, CompletionStatus: status, Created: created, Launched: launched, Completed: completed, Modified: completed}
}

var never time.Time

// step is one event of a scripted history that starts at epoch, when the
// first pass begins.
type step struct {
	advance time.Duration
	apply   []client.Task
}

func run(t *testing.T, lookback time.Duration, maxSources int, steps []step) *Refresher {
	t.Helper()
	c := fakeclock.New(epoch)
	r := NewRefresher(nil, Options{Lookback: lookback, MaxSources: maxSources, Wiring: area.Wiring{Now: c.Now}})
	r.tracker.startCounting(c.Now())
	r.pos.started = true
	for _, s := range steps {
		c.Advance(s.advance)
		for i := range s.apply {
			r.tracker.apply(&s.apply[i], acct)
		}
	}
	r.tracker.Sweep()
	r.store()
	return r
}

// The counting rule, clause by clause, on scripted tasks.
func TestCountingRule(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"a finish before counting began is history; one after it counts once, however often it is read",
			[]step{
				{apply: []client.Task{tk("old", "s1", "SUCCESS", at(-time.Hour), at(-time.Hour), at(-time.Minute))}},
				{advance: time.Minute, apply: []client.Task{
					tk("new", "s1", "SUCCESS", at(0), at(10*time.Second), at(time.Minute)),
					tk("new", "s1", "SUCCESS", at(0), at(10*time.Second), at(time.Minute)),
				}},
				{advance: time.Minute, apply: []client.Task{tk("new", "s1", "SUCCESS", at(0), at(10*time.Second), at(time.Minute))}},
			},
			`sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="SUCCESS",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregation_last_completed_timestamp_seconds{completion_status="SUCCESS",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1.79534886e+09
sailpoint_source_aggregation_duration_seconds_count{completion_status="SUCCESS",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregation_duration_seconds_sum{completion_status="SUCCESS",type="CLOUD_ACCOUNT_AGGREGATION"} 50
`},
		{"running at the start and finishing later counts; running, it is in progress whatever its age",
			[]step{
				{apply: []client.Task{
					tk("long", "s1", "", at(-30*day), at(-30*day), never),
					tk("run", "s2", "", at(-time.Hour), never, never),
				}},
				{advance: time.Hour, apply: []client.Task{tk("run", "s2", "ERROR", at(-time.Hour), never, at(30*time.Minute))}},
			},
			`sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s2",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s2",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregation_last_completed_timestamp_seconds{completion_status="ERROR",source_id="s2",type="CLOUD_ACCOUNT_AGGREGATION"} 1.7953506e+09
sailpoint_source_aggregations_in_progress{source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregation_oldest_in_progress_created_timestamp_seconds{source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1.7927568e+09
sailpoint_source_aggregation_duration_seconds_count{completion_status="ERROR",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregation_duration_seconds_sum{completion_status="ERROR",type="CLOUD_ACCOUNT_AGGREGATION"} 5400
`},
		{"an older version changes nothing; a completion time without a status is a finish of status none",
			[]step{
				{apply: []client.Task{tk("t", "s1", "", at(0), at(0), never)}},
				{advance: time.Minute, apply: []client.Task{
					{ID: "t", SourceID: "s1", Created: at(0), Launched: at(0), Completed: at(time.Minute), Modified: at(time.Minute)},
					{ID: "t", SourceID: "s1", Created: at(0), Launched: at(0), Modified: at(30 * time.Second)},
				}},
			},
			`sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="none",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregation_last_completed_timestamp_seconds{completion_status="none",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1.79534886e+09
sailpoint_source_aggregation_duration_seconds_count{completion_status="none",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregation_duration_seconds_sum{completion_status="none",type="CLOUD_ACCOUNT_AGGREGATION"} 60
`},
		{"the last completion leaves with its task's creation from the lookback",
			[]step{
				{advance: time.Minute, apply: []client.Task{tk("a", "s1", "SUCCESS", at(0), at(0), at(time.Minute))}},
				{advance: 2 * day},
			},
			`sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="SUCCESS",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregation_duration_seconds_count{completion_status="SUCCESS",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregation_duration_seconds_sum{completion_status="SUCCESS",type="CLOUD_ACCOUNT_AGGREGATION"} 60
`},
		{"a finish older than the lookback is never counted",
			[]step{{advance: 3 * day, apply: []client.Task{tk("late", "s1", "SUCCESS", at(-time.Hour), at(-time.Hour), at(time.Hour))}}},
			`sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
`},
		{"sources past the cap are other, and counted as such",
			[]step{{advance: time.Minute, apply: []client.Task{
				tk("x", "s1", "SUCCESS", at(0), at(0), at(time.Minute)),
				tk("y", "s2", "SUCCESS", at(0), at(0), at(time.Minute)),
			}}},
			`sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="other",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="ERROR",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="SUCCESS",source_id="other",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregations_completed_total{completion_status="SUCCESS",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="other",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregations_completed_total{completion_status="TERMINATED",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 0
sailpoint_source_aggregation_last_completed_timestamp_seconds{completion_status="SUCCESS",source_id="other",type="CLOUD_ACCOUNT_AGGREGATION"} 1.79534886e+09
sailpoint_source_aggregation_last_completed_timestamp_seconds{completion_status="SUCCESS",source_id="s1",type="CLOUD_ACCOUNT_AGGREGATION"} 1.79534886e+09
sailpoint_source_aggregation_duration_seconds_count{completion_status="SUCCESS",type="CLOUD_ACCOUNT_AGGREGATION"} 2
sailpoint_source_aggregation_duration_seconds_sum{completion_status="SUCCESS",type="CLOUD_ACCOUNT_AGGREGATION"} 120
sailpoint_label_overflow_total{label="completion_status"} 0
sailpoint_label_overflow_total{label="source_id"} 1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			maxSources := 256
			if strings.HasPrefix(tt.name, "sources past the cap") {
				maxSources = 1
			}
			r := run(t, day, maxSources, tt.steps)
			got := flatten(t, r.Collector())
			for _, line := range strings.Split(strings.TrimSpace(tt.want), "\n") {
				if !got[line] {
					t.Errorf("missing %s", line)
				}
			}
			for line := range got {
				if (strings.HasPrefix(line, "sailpoint_source_aggregation") || strings.HasPrefix(line, "sailpoint_label_overflow") && !strings.HasSuffix(line, " 0")) &&
					!strings.Contains(line, "_bucket") && !strings.Contains(tt.want, line) {
					t.Errorf("unexpected %s", line)
				}
			}
		})
	}
}

// flatten renders a collector as its sample lines.
func flatten(t *testing.T, c prometheus.Collector) map[string]bool {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	var b strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if err := writeText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]bool{}
	for _, l := range strings.Split(b.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	r := run(t, 24*time.Hour, 256, []step{{advance: time.Minute, apply: []client.Task{
		tk("x", "s1", "ERROR", at(0), at(0), at(time.Minute)), tk("y", "s1", "", at(0), never, never)}}})
	problems, err := testutil.CollectAndLint(r.Collector())
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// Every field of the aggregations' section survives a write and a read:
// the position, the label tables, every counter, exemplar, rejection,
// histogram and tracked task. It fails when a field is added to the
// tracker or the position but not to the file.
func TestStateRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	r := run(t, 24*time.Hour, 1, []step{
		{apply: []client.Task{tk("2c9180835d2e5168015d32f890ca1581", "s1", "", at(-time.Hour), never, never)}},
		{advance: time.Minute, apply: []client.Task{
			tk("f", "s1", "ERROR", at(0), at(time.Second), at(time.Minute)),
			tk("g", "s2", "SUCCESS", at(0), at(time.Second), at(time.Minute)), // s2: other
			tk("h", "s1", strings.Repeat("S", 200), at(0), at(time.Second), at(time.Minute)),
		}},
	})
	r.tracker.reject(&client.Rejection{Reason: client.RejectMissingTarget, Key: "task|id:z"})
	r.pos.primed[acct], r.pos.watermarks[acct] = true, at(time.Minute)
	r.status.LastSuccess = at(time.Minute)
	r.tracker.Sweep()
	var body []byte
	e := state.NewEncoder(func(b []byte) error { body = append(body, b...); return nil })
	if err := r.EncodeState(e); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	p := r.pos
	p.lastSuccess = r.status.LastSuccess
	for _, f := range []struct {
		what string
		v    reflect.Value
		skip []string
	}{{"tracker", reflect.ValueOf(*r.tracker), nil}, {"position", reflect.ValueOf(p), nil}} {
		for i := range f.v.NumField() {
			if f.v.Field(i).IsZero() {
				t.Errorf("%s.%s is zero in the fixture: give it a value so that the round trip checks it", f.what, f.v.Type().Field(i).Name)
			}
		}
	}
	got, gp, err := decodeState(body, newTracker(24*time.Hour, DefaultTypes, 1, r.tracker.now, nil), DefaultTypes)
	if err != nil {
		t.Fatal(err)
	}
	gp.lastSuccess, p.lastSuccess = gp.lastSuccess.UTC(), p.lastSuccess.UTC()
	if !reflect.DeepEqual(gp, p) {
		t.Errorf("position %+v, wrote %+v", gp, p)
	}
	want, gotV := reflect.ValueOf(r.tracker).Elem(), reflect.ValueOf(got).Elem()
	for i := range want.NumField() {
		name := want.Type().Field(i).Name
		if name == "now" || name == "descs" {
			continue // the process's clock and series descriptions, not state
		}
		a := reflect.NewAt(want.Field(i).Type(), unsafe.Pointer(want.Field(i).UnsafeAddr())).Elem().Interface()
		b := reflect.NewAt(gotV.Field(i).Type(), unsafe.Pointer(gotV.Field(i).UnsafeAddr())).Elem().Interface()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("tracker.%s differs after the round trip:\n got %#v\nwant %#v", name, b, a)
		}
	}
}
