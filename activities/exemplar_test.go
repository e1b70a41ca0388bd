package activities

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// exemplars maps each series of a counter family (its label values joined
// as in series keys) to its exemplar's activity_id and timestamp, "" when
// it has none.
func exemplars(t *testing.T, reg *prometheus.Registry, family string) map[string]string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, lp := range m.GetLabel() {
				vals = append(vals, lp.GetName()+"="+lp.GetValue())
			}
			out[strings.Join(vals, "|")] = describeExemplar(m.GetCounter().GetExemplar())
		}
	}
	return out
}

func describeExemplar(ex *dto.Exemplar) string {
	if ex == nil {
		return ""
	}
	var labels []string
	for _, lp := range ex.GetLabel() {
		labels = append(labels, lp.GetName()+"="+lp.GetValue())
	}
	return strings.Join(labels, ",") + " @" + ex.GetTimestamp().AsTime().UTC().Format(time.RFC3339Nano)
}

// The failure counters carry, as an exemplar, the id and completion time of
// the latest activity counted into each series; success series carry none;
// the state file keeps them; OpenMetrics shows them.
func TestExemplarsCarryTheLatestFailedActivity(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(epoch)
	path := filepath.Join(t.TempDir(), "state")
	id := state.Identity{URL: "https://acme.api.identitynow.com", ClientID: simClientID}
	sf, err := state.Open(path, id, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRefresher(nil, Options{Lookback: testLookback, Wiring: area.Wiring{State: sf, Now: clk.Now}})
	r.tracker.startCounting(clk.Now())
	long := strings.Repeat("x", 128-len(exemplarLabel)+1)
	for _, s := range []struct {
		advance time.Duration
		a       client.Activity
	}{
		{time.Minute, act("f1", "appRequest", "FAILURE", "COMPLETED", at(0), at(time.Minute), at(time.Minute),
			item("FAILED", "ADD", "src1"), item("FINISHED", "ADD", "src2"))},
		// Later, on the same series: it replaces f1 there.
		{time.Minute, act("f2", "appRequest", "FAILURE", "COMPLETED", at(0), at(2*time.Minute), at(2*time.Minute),
			item("FAILED", "ADD", "src1"))},
		// Completed later than f2 but on other series.
		{time.Minute, act("f3", "appRequest", "SUCCESS", "COMPLETED", at(0), at(3*time.Minute), at(3*time.Minute),
			item("FAILED", "REMOVE", "src1"), item("FINISHED", "ADD", "src1"))},
		// An id too long for OpenMetrics' 128 characters of exemplar labels.
		{time.Minute, act(long, "Identity Refresh", "FAILURE", "COMPLETED", at(0), at(4*time.Minute), at(4*time.Minute),
			item("FAILED", "ADD", "src3"))},
	} {
		clk.Advance(s.advance)
		r.tracker.apply(&s.a)
	}
	r.publish(true)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())

	stamp := func(d time.Duration) string { return " @" + at(d).Format(time.RFC3339Nano) }
	wantItems := map[string]string{
		"operation=ADD|provisioning_status=FAILED|source_id=src1|type=appRequest":          "activity_id=f2" + stamp(2*time.Minute),
		"operation=ADD|provisioning_status=FINISHED|source_id=src2|type=appRequest":        "",
		"operation=REMOVE|provisioning_status=FAILED|source_id=src1|type=appRequest":       "activity_id=f3" + stamp(3*time.Minute),
		"operation=ADD|provisioning_status=FINISHED|source_id=src1|type=appRequest":        "",
		"operation=ADD|provisioning_status=FAILED|source_id=src3|type=Identity Refresh":    "", // id too long
		"operation=ADD|provisioning_status=FAILED|source_id=src1|type=Identity Refresh":    "<absent>",
		"operation=REMOVE|provisioning_status=FAILED|source_id=src2|type=appRequest":       "<absent>",
		"operation=ADD|provisioning_status=FAILED|source_id=src2|type=appRequest":          "",
		"operation=REMOVE|provisioning_status=FAILED|source_id=src1|type=Identity Refresh": "<absent>",
	}
	wantActivities := map[string]string{
		"completion_status=FAILURE|execution_status=COMPLETED|type=appRequest":       "activity_id=f2" + stamp(2*time.Minute),
		"completion_status=SUCCESS|execution_status=COMPLETED|type=appRequest":       "",
		"completion_status=FAILURE|execution_status=COMPLETED|type=Identity Refresh": "",
	}
	check := func(reg *prometheus.Registry, when string) {
		t.Helper()
		for family, want := range map[string]map[string]string{
			"sailpoint_account_activity_items_completed_total": wantItems,
			"sailpoint_account_activities_completed_total":     wantActivities,
		} {
			got := exemplars(t, reg, family)
			for k, w := range want {
				g, ok := got[k]
				switch {
				case w == "<absent>" && ok:
					t.Errorf("%s %s{%s}: a series, want none", when, family, k)
				case w != "<absent>" && (!ok || g != w):
					t.Errorf("%s %s{%s}: exemplar %q (series %v), want %q", when, family, k, g, ok, w)
				}
			}
		}
	}
	check(reg, "served")

	// Restored from the state file, a new process serves the same ones.
	_ = sf.Close()
	sf2, err := state.Open(path, id, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sf2.Close() }()
	again := NewRefresher(nil, Options{Lookback: testLookback, Wiring: area.Wiring{State: sf2, Now: clk.Now}})
	reg2 := prometheus.NewPedanticRegistry()
	reg2.MustRegister(again.Collector())
	check(reg2, "restored")

	// In OpenMetrics, for Prometheus' exemplar storage; not in the text
	// format, which has no place for them.
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	get := func(accept string) string {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	om := get("application/openmetrics-text;version=1.0.0")
	// 2026-11-22T12:02:00Z, as OpenMetrics writes a timestamp.
	const omTime = "1.79534892e+09"
	if got := float64(at(2 * time.Minute).Unix()); got != 1.79534892e+09 {
		t.Fatalf("the test's clock moved: %v", got)
	}
	wantLine := `sailpoint_account_activity_items_completed_total{operation="ADD",provisioning_status="FAILED",source_id="src1",type="appRequest"} 2.0 # {activity_id="f2"} 1.0 ` + omTime
	if !strings.Contains(om, wantLine) {
		t.Errorf("OpenMetrics lacks\n%s\nin\n%s", wantLine, om)
	}
	if text := get("text/plain"); strings.Contains(text, "activity_id") {
		t.Errorf("the text format carries an exemplar:\n%s", text)
	}
}
