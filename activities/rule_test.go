package activities

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
)

var epoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// at is a time relative to the start of a scripted history.
func at(d time.Duration) time.Time { return epoch.Add(d) }

// step is one event of a scripted history. The history starts at epoch,
// when the exporter's first pass begins.
type step struct {
	advance time.Duration     // move the clock first
	apply   []client.Activity // then apply these, in order
}

// run plays a history into a fresh Refresher (with no source: the tracker is
// fed directly) and publishes its snapshot.
func run(t *testing.T, lookback time.Duration, maxTypes, maxSources int, steps []step) *Refresher {
	t.Helper()
	c := fakeclock.New(epoch)
	r := NewRefresher(nil, Options{Lookback: lookback, MaxTypes: maxTypes, MaxSources: maxSources, Wiring: area.Wiring{Now: c.Now}})
	r.tracker.startCounting(c.Now())
	for _, s := range steps {
		c.Advance(s.advance)
		for i := range s.apply {
			r.tracker.apply(&s.apply[i])
		}
	}
	r.publish(true)
	return r
}

func act(id, typ, cs, es string, created, modified, completed time.Time, items ...client.Item) client.Activity {
	return client.Activity{ID: id, Type: typ, CompletionStatus: cs, ExecutionStatus: es, Created: created, Modified: modified, Completed: completed, Items: items}
}

func item(prov, op, src string) client.Item {
	return client.Item{ProvisioningStatus: prov, Operation: op, SourceID: src}
}

var never time.Time

func TestCountingRule(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		name    string
		steps   []step
		metrics []string
		want    string
	}{
		{
			name: "terminal during priming fills gauges but is not counted",
			steps: []step{{apply: []client.Activity{
				act("a1", "appRequest", "SUCCESS", "COMPLETED", at(-2*time.Hour), at(-time.Hour), at(-time.Hour), item("FINISHED", "ADD", "src1")),
				act("a2", "Identity Refresh", "", "EXECUTING", at(-30*time.Minute), at(-30*time.Minute), never, item("PENDING", "ADD", "src2")),
			}}},
			metrics: []string{"sailpoint_account_activities", "sailpoint_account_activities_completed_total", "sailpoint_account_activity_items"},
			want: `
# HELP sailpoint_account_activities Account activities created within the lookback window, by current state (cached from the last refresh).
# TYPE sailpoint_account_activities gauge
sailpoint_account_activities{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 1
sailpoint_account_activities{completion_status="none",execution_status="EXECUTING",type="Identity Refresh"} 1
# HELP sailpoint_account_activity_items Items of account activities created within the lookback window, by current state (cached from the last refresh).
# TYPE sailpoint_account_activity_items gauge
sailpoint_account_activity_items{operation="ADD",provisioning_status="FINISHED",type="appRequest"} 1
sailpoint_account_activity_items{operation="ADD",provisioning_status="PENDING",type="Identity Refresh"} 1
`,
		},
		{
			name: "an activity is counted once, with its items as they were when first seen terminal",
			steps: []step{
				{apply: []client.Activity{act("a1", "appRequest", "PENDING", "EXECUTING", at(0), at(0), never, item("PENDING", "ADD", "src1"), item("PENDING", "REMOVE", "src2"))}},
				{advance: time.Minute, apply: []client.Activity{
					act("a1", "appRequest", "FAILURE", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FINISHED", "ADD", "src1"), item("FAILED", "REMOVE", "src2")),
					// The same record again, then a later change: neither counts.
					act("a1", "appRequest", "FAILURE", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FINISHED", "ADD", "src1"), item("FAILED", "REMOVE", "src2")),
				}},
				{advance: time.Minute, apply: []client.Activity{
					act("a1", "appRequest", "SUCCESS", "COMPLETED", at(0), at(2*time.Minute), at(time.Minute), item("FINISHED", "ADD", "src1"), item("FINISHED", "REMOVE", "src2")),
				}},
			},
			metrics: []string{"sailpoint_account_activities_completed_total", "sailpoint_account_activity_items_completed_total", "sailpoint_account_activity_duration_seconds", "sailpoint_account_activities"},
			want: `
# HELP sailpoint_account_activities Account activities created within the lookback window, by current state (cached from the last refresh).
# TYPE sailpoint_account_activities gauge
sailpoint_account_activities{completion_status="FAILURE",execution_status="COMPLETED",type="appRequest"} 0
sailpoint_account_activities{completion_status="PENDING",execution_status="EXECUTING",type="appRequest"} 0
sailpoint_account_activities{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 1
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="FAILURE",execution_status="COMPLETED",type="appRequest"} 1
# HELP sailpoint_account_activity_duration_seconds Time from creation to completion of completed account activities.
# TYPE sailpoint_account_activity_duration_seconds histogram
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="1"} 0
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="5"} 0
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="15"} 0
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="30"} 0
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="60"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="120"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="300"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="600"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="1800"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="3600"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="7200"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="14400"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="28800"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="86400"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="259200"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="604800"} 1
sailpoint_account_activity_duration_seconds_bucket{completion_status="FAILURE",type="appRequest",le="+Inf"} 1
sailpoint_account_activity_duration_seconds_sum{completion_status="FAILURE",type="appRequest"} 60
sailpoint_account_activity_duration_seconds_count{completion_status="FAILURE",type="appRequest"} 1
# HELP sailpoint_account_activity_items_completed_total Items of completed account activities, with the item's provisioning status when the activity completed; a FAILED series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activity_items_completed_total counter
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FAILED",source_id="src1",type="appRequest"} 0
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FINISHED",source_id="src1",type="appRequest"} 1
sailpoint_account_activity_items_completed_total{operation="REMOVE",provisioning_status="FAILED",source_id="src2",type="appRequest"} 1
`,
		},
		{
			name: "first seen already terminal after priming: counted; completed before priming: not",
			steps: []step{
				{advance: time.Hour, apply: []client.Activity{
					act("new", "appRequest", "SUCCESS", "COMPLETED", at(30*time.Minute), at(50*time.Minute), at(50*time.Minute)),
					act("old", "appRequest", "SUCCESS", "COMPLETED", at(-2*time.Hour), at(10*time.Minute), at(-time.Minute)),
				}},
			},
			metrics: []string{"sailpoint_account_activities_completed_total"},
			want: `
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 1
`,
		},
		{
			name: "a completion after the first pass began counts, whichever pass first sees it",
			steps: []step{{advance: time.Second, apply: []client.Activity{
				act("during", "appRequest", "SUCCESS", "COMPLETED", at(-time.Hour), at(time.Second), at(time.Second)),
				act("before", "appRequest", "SUCCESS", "COMPLETED", at(-time.Hour), at(time.Second), at(-time.Millisecond)),
			}}},
			metrics: []string{"sailpoint_account_activities_completed_total"},
			want: `
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 1
`,
		},
		{
			name: "created long ago and completed now: counted, not in the gauges, duration from creation",
			steps: []step{
				{apply: []client.Activity{act("slow", "Certification", "", "EXECUTING", at(-3*day), at(-time.Hour), never)}},
				{advance: time.Hour, apply: []client.Activity{act("slow", "Certification", "SUCCESS", "COMPLETED", at(-3*day), at(time.Hour), at(time.Hour))}},
			},
			metrics: []string{"sailpoint_account_activities_completed_total", "sailpoint_account_activities", "sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds"},
			want: `
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="Certification"} 1
`,
		},
		{
			name: "completion older than the lookback is never counted",
			steps: []step{
				{advance: time.Minute, apply: []client.Activity{act("stale", "appRequest", "SUCCESS", "COMPLETED", at(-3*day), at(time.Minute), at(-2*day))}},
			},
			metrics: []string{"sailpoint_account_activities_completed_total", "sailpoint_tracked_activities"},
			want: `
# HELP sailpoint_tracked_activities Account activities held in memory: created within the lookback, incomplete, or completed within the lookback.
# TYPE sailpoint_tracked_activities gauge
sailpoint_tracked_activities 0
`,
		},
		{
			name: "TERMINATED without completed ends at modified; completed alone also ends an activity",
			steps: []step{
				{advance: 10 * time.Minute, apply: []client.Activity{
					act("term", "LifecycleStateChange", "", "TERMINATED", at(0), at(10*time.Minute), never),
					act("done", "CloudAutomated", "SUCCESS", "VERIFYING", at(0), at(5*time.Minute), at(5*time.Minute)),
				}},
			},
			metrics: []string{"sailpoint_account_activities_completed_total", "sailpoint_account_activity_duration_seconds_sum"},
			want: `
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="VERIFYING",type="CloudAutomated"} 1
sailpoint_account_activities_completed_total{completion_status="none",execution_status="TERMINATED",type="LifecycleStateChange"} 1
`,
		},
		{
			name: "nulls are none, unknown values verbatim, values past a cap are other and counted",
			steps: []step{
				{advance: time.Minute, apply: []client.Activity{
					act("n1", "", "", "COMPLETED", at(0), at(time.Minute), never, client.Item{}),
					act("n2", "Brand New Type", "CANCELLED", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("QUEUED", "RESET", "src1"), item("FINISHED", "ADD", "src2")),
					act("n3", "Third Type", "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FINISHED", "ADD", "src3")),
					act("n4", "Fourth Type", "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FINISHED", "ADD", "src1")),
				}},
			},
			metrics: []string{"sailpoint_account_activities_completed_total", "sailpoint_account_activity_items_completed_total", "sailpoint_label_overflow_total"},
			want: `
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="CANCELLED",execution_status="COMPLETED",type="Brand New Type"} 1
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="Third Type"} 1
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="other"} 1
sailpoint_account_activities_completed_total{completion_status="none",execution_status="COMPLETED",type="none"} 1
# HELP sailpoint_account_activity_items_completed_total Items of completed account activities, with the item's provisioning status when the activity completed; a FAILED series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activity_items_completed_total counter
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FAILED",source_id="other",type="Third Type"} 0
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FAILED",source_id="src1",type="other"} 0
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FAILED",source_id="src2",type="Brand New Type"} 0
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FINISHED",source_id="other",type="Third Type"} 1
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FINISHED",source_id="src1",type="other"} 1
sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FINISHED",source_id="src2",type="Brand New Type"} 1
sailpoint_account_activity_items_completed_total{operation="RESET",provisioning_status="FAILED",source_id="src1",type="Brand New Type"} 0
sailpoint_account_activity_items_completed_total{operation="RESET",provisioning_status="QUEUED",source_id="src1",type="Brand New Type"} 1
sailpoint_account_activity_items_completed_total{operation="none",provisioning_status="FAILED",source_id="none",type="none"} 0
sailpoint_account_activity_items_completed_total{operation="none",provisioning_status="none",source_id="none",type="none"} 1
# HELP sailpoint_label_overflow_total Counted activities, items or aggregations whose label value was reported as "other" because the label's cap of distinct values was reached.
# TYPE sailpoint_label_overflow_total counter
sailpoint_label_overflow_total{label="completion_status"} 0
sailpoint_label_overflow_total{label="execution_status"} 0
sailpoint_label_overflow_total{label="operation"} 0
sailpoint_label_overflow_total{label="provisioning_status"} 0
sailpoint_label_overflow_total{label="source_id"} 1
sailpoint_label_overflow_total{label="type"} 1
`,
		},
		{
			name: "errors and warnings are counted by message; their series start at zero",
			steps: []step{
				{apply: []client.Activity{act("p", "Identity Refresh", "", "EXECUTING", at(0), at(0), never)}},
				{advance: time.Minute, apply: []client.Activity{
					{ID: "e", Type: "appRequest", ExecutionStatus: "COMPLETED", CompletionStatus: "FAILURE", Created: at(0), Modified: at(time.Minute), Completed: at(time.Minute), Errors: 2, Warnings: 1},
				}},
			},
			metrics: []string{"sailpoint_account_activity_errors_total", "sailpoint_account_activity_warnings_total"},
			want: `
# HELP sailpoint_account_activity_errors_total Error messages on completed account activities.
# TYPE sailpoint_account_activity_errors_total counter
sailpoint_account_activity_errors_total{type="Identity Refresh"} 0
sailpoint_account_activity_errors_total{type="appRequest"} 2
# HELP sailpoint_account_activity_warnings_total Warning messages on completed account activities.
# TYPE sailpoint_account_activity_warnings_total counter
sailpoint_account_activity_warnings_total{type="Identity Refresh"} 0
sailpoint_account_activity_warnings_total{type="appRequest"} 1
`,
		},
		{
			name: "activities age out of the gauges; incomplete ones stay for the oldest gauge; counted ones are forgotten",
			steps: []step{
				{apply: []client.Activity{
					act("stuck", "appRequest", "PENDING", "EXECUTING", at(0), at(0), never),
					act("fresh", "appRequest", "PENDING", "EXECUTING", at(time.Hour), at(time.Hour), never),
				}},
				{advance: 2 * time.Hour, apply: []client.Activity{act("done", "appRequest", "SUCCESS", "COMPLETED", at(time.Hour), at(2*time.Hour), at(2*time.Hour))}},
				{advance: day + time.Millisecond},
			},
			metrics: []string{"sailpoint_account_activities", "sailpoint_tracked_activities", "sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds", "sailpoint_account_activities_completed_total"},
			want: `
# HELP sailpoint_account_activities Account activities created within the lookback window, by current state (cached from the last refresh).
# TYPE sailpoint_account_activities gauge
sailpoint_account_activities{completion_status="PENDING",execution_status="EXECUTING",type="appRequest"} 0
sailpoint_account_activities{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 0
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 1
# HELP sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds Creation time of the oldest account activity not yet terminal, of any age, among those the exporter has seen.
# TYPE sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds gauge
sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds{type="appRequest"} 1.7953488e+09
# HELP sailpoint_tracked_activities Account activities held in memory: created within the lookback, incomplete, or completed within the lookback.
# TYPE sailpoint_tracked_activities gauge
sailpoint_tracked_activities 2
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, day, 2, 2, tt.steps)
			if err := testutil.CollectAndCompare(r.Collector(), strings.NewReader(tt.want), tt.metrics...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A counted activity is forgotten once its completion leaves the lookback;
// should ISC send it again, it is still not counted twice.
func TestForgottenActivityIsNotCountedAgain(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	done := act("x", "appRequest", "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute))
	r := run(t, day, 8, 8, []step{
		{advance: time.Minute, apply: []client.Activity{done}},
		{advance: 2 * day},
	})
	if n := testutil.ToFloat64(gaugeOf(r.Collector(), "sailpoint_tracked_activities")); n != 0 {
		t.Fatalf("tracked = %v after the lookback, want 0", n)
	}
	again := done
	again.Modified = at(2*day + time.Minute)
	r.tracker.apply(&again)
	r.publish(true)
	want := `
# HELP sailpoint_account_activities_completed_total Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.
# TYPE sailpoint_account_activities_completed_total counter
sailpoint_account_activities_completed_total{completion_status="SUCCESS",execution_status="COMPLETED",type="appRequest"} 1
`
	if err := testutil.CollectAndCompare(r.Collector(), strings.NewReader(want), "sailpoint_account_activities_completed_total"); err != nil {
		t.Fatal(err)
	}
}

// gaugeOf collects one metric without labels from c.
func gaugeOf(c prometheus.Collector, name string) prometheus.Collector {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == name {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "h", nil, nil), prometheus.GaugeValue, mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	r := run(t, time.Hour, 8, 8, []step{
		{apply: []client.Activity{act("a", "appRequest", "", "EXECUTING", at(0), at(0), never, item("PENDING", "ADD", "s"))}},
		{advance: time.Minute, apply: []client.Activity{act("a", "appRequest", "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FINISHED", "ADD", "s"))}},
	})
	problems, err := testutil.CollectAndLint(r.Collector())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("pedantic registry: %v", err)
	}
}
