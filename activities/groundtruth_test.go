package activities

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sailpoint-exporter/sailpoint_exporter/apimetrics"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

const (
	simClientID     = "gt-client"
	simClientSecret = "gt-secret"
)

// stack is a simulated tenant, a client over real HTTP on loopback, and a
// Refresher registered in a pedantic registry.
type stack struct {
	tenant    *simtenant.Tenant
	refresher *Refresher
	registry  *prometheus.Registry
}

func newStack(t testing.TB, tc simtenant.Config, cc client.Config, opts Options) *stack {
	t.Helper()
	tc.Clients = map[string]string{simClientID: simClientSecret}
	tenant := simtest.New(tc)
	url, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	reg := prometheus.NewPedanticRegistry()
	cc.BaseURL, cc.ClientID, cc.ClientSecret = url, simClientID, simClientSecret
	cc.Observe = apimetrics.New(reg, nil, nil).Observe
	if cc.RequestsPerSecond == 0 {
		cc.RequestsPerSecond = 500
	}
	if cc.MinBackoff == 0 {
		cc.MinBackoff, cc.MaxBackoff = time.Millisecond, 10*time.Millisecond
	}
	isc, err := client.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := NewRefresher(isc, opts)
	reg.MustRegister(r.Collector())
	return &stack{tenant: tenant, refresher: r, registry: reg}
}

// series maps a metric's label values, joined by "|" in label name order,
// to its sample, for one family.
type series map[string]*dto.Metric

func (s *stack) gather(t testing.TB) map[string]series {
	t.Helper()
	mfs, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]series{}
	for _, mf := range mfs {
		ss := series{}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, lp := range m.GetLabel() {
				vals = append(vals, lp.GetName()+"="+lp.GetValue())
			}
			ss[strings.Join(vals, "|")] = m
		}
		out[mf.GetName()] = ss
	}
	return out
}

func key(pairs ...string) string {
	var b []string
	for i := 0; i < len(pairs); i += 2 {
		b = append(b, pairs[i]+"="+pairs[i+1])
	}
	return strings.Join(b, "|")
}

// value is a counter's or gauge's value, 0 when the series is absent.
func value(m *dto.Metric) float64 {
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	default:
		return m.GetGauge().GetValue()
	}
}

// countMismatches says where a family differs from want: every series of
// want must have its value, and no other series may be above zero.
func countMismatches(name string, got series, want map[string]float64) []string {
	var out []string
	for k, v := range want {
		if g := value(got[k]); g != v {
			out = append(out, fmt.Sprintf("%s{%s} = %v, ground truth %v", name, k, g, v))
		}
	}
	for k, m := range got {
		if _, ok := want[k]; !ok && value(m) != 0 {
			out = append(out, fmt.Sprintf("%s{%s} = %v, ground truth has no such series", name, k, value(m)))
		}
	}
	return out
}

// compareCounts fails for every series where a family differs from want.
func compareCounts(t *testing.T, name string, got series, want map[string]float64) {
	t.Helper()
	for _, m := range countMismatches(name, got, want) {
		t.Error(m)
	}
}

// truthMismatches compares every counter and histogram of the rule with
// the tenant's ground truth, and returns the differences and how many
// completions the truth holds.
func truthMismatches(got map[string]series, truth simtest.Counts) (out []string, total int) {
	completed := map[string]float64{}
	for k, v := range truth.Completed {
		completed[key("completion_status", k[1], "execution_status", k[2], "type", k[0])] = float64(v)
		total += v
	}
	out = append(out, countMismatches("sailpoint_account_activities_completed_total", got["sailpoint_account_activities_completed_total"], completed)...)
	items := map[string]float64{}
	for k, v := range truth.ItemsCompleted {
		items[key("operation", k[2], "provisioning_status", k[1], "source_id", k[3], "type", k[0])] = float64(v)
	}
	out = append(out, countMismatches("sailpoint_account_activity_items_completed_total", got["sailpoint_account_activity_items_completed_total"], items)...)
	for name, byType := range map[string]map[string]int{
		"sailpoint_account_activity_errors_total":   truth.Errors,
		"sailpoint_account_activity_warnings_total": truth.Warnings,
	} {
		want := map[string]float64{}
		for typ, v := range byType {
			want[key("type", typ)] = float64(v)
		}
		out = append(out, countMismatches(name, got[name], want)...)
	}
	durations := got["sailpoint_account_activity_duration_seconds"]
	if len(durations) != len(truth.Durations) {
		out = append(out, fmt.Sprintf("%d duration histograms, ground truth has %d", len(durations), len(truth.Durations)))
	}
	for k, obs := range truth.Durations {
		h := durations[key("completion_status", k[1], "type", k[0])].GetHistogram()
		sum := 0.0
		for _, d := range obs {
			sum += d
		}
		if h.GetSampleCount() != uint64(len(obs)) || math.Abs(h.GetSampleSum()-sum) > 1e-6*max(1, sum) {
			out = append(out, fmt.Sprintf("duration{%v}: count %d sum %v, ground truth %d and %v", k, h.GetSampleCount(), h.GetSampleSum(), len(obs), sum))
		}
		for _, b := range h.GetBucket() {
			n := uint64(0)
			for _, d := range obs {
				if d <= b.GetUpperBound() {
					n++
				}
			}
			if b.GetCumulativeCount() != n {
				out = append(out, fmt.Sprintf("duration{%v} le=%v: %d, ground truth %d", k, b.GetUpperBound(), b.GetCumulativeCount(), n))
			}
		}
	}
	return out, total
}

// An end-to-end run over real HTTP, with every kind of fault switched on in
// turn: afterwards every counter equals the tenant's ground truth exactly,
// and every gauge its current state.
func TestCountersEqualGroundTruth(t *testing.T) {
	t.Parallel()
	const lookback = 24 * time.Hour
	s := newStack(t,
		simtenant.Config{Seed: 7, RateLimit: -1},
		// A timeout below SlowNext's 4 s and far above what an answer takes
		// with the first pass's walks side by side, the tenant stepping at
		// each list request, under the race detector on a busy machine
		// (800 ms was exceeded six times running under make test).
		client.Config{PageSize: 100, Timeout: 3 * time.Second,
			HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}},
		Options{Lookback: lookback})
	s.tenant.SeedHistory(2000, 20*time.Hour)
	ctx := t.Context()
	// Counting starts once the client knows ISC's time; from then on the
	// tenant keeps working while the first pass pages through it: what
	// completes then counts, whichever page it lands on.
	if err := s.refresher.source.(*client.Client).SyncClock(ctx); err != nil {
		t.Fatal(err)
	}
	mark := simtest.Truth(s.tenant).Mark()
	simtest.Faults(s.tenant).OnList(func(int) { s.tenant.Step() })
	if err := s.refresher.Refresh(ctx); err != nil {
		t.Fatalf("priming: %v", err)
	}
	simtest.Faults(s.tenant).OnList(nil)
	if len(simtest.Truth(s.tenant).TruthSince(mark).Completed) == 0 {
		t.Fatal("nothing completed during the first pass; the test proves less than it says")
	}

	// An answer slower than the client's timeout waits on the real clock
	// (3 s): -short, the loop after each edit, leaves it to the client's
	// own test of a slow answer (TestTransientFailuresAreRetried).
	slowAnswer := func() { simtest.Faults(s.tenant).SlowNext(1, 4*time.Second) }
	if testing.Short() {
		slowAnswer = func() {}
	}
	faults := []func(){
		func() { simtest.Faults(s.tenant).FailNext(2, http.StatusInternalServerError) },
		func() { simtest.Faults(s.tenant).ResetNext(1) },
		func() { simtest.Faults(s.tenant).TruncateNext(1) },
		func() { simtest.Faults(s.tenant).MalformNext(1) },
		func() { simtest.Faults(s.tenant).RateLimitNext(1, time.Second) },
		func() { s.tenant.ExpireTokens() },
		slowAnswer,
		func() { s.tenant.BulkRefresh(260) },
		func() {
			simtest.Faults(s.tenant).FailTokenNext(1, http.StatusServiceUnavailable)
			s.tenant.ExpireTokens()
		},
		func() {
			simtest.Faults(s.tenant).FailNext(1, http.StatusBadGateway)
			simtest.Faults(s.tenant).ResetNext(1)
		},
	}
	// Each fault three times; -short once: the slow answer and the 429 wait
	// on the real clock.
	rounds, least := 3*len(faults), 1500
	if testing.Short() {
		rounds, least = len(faults), 500
	}
	for round := range rounds {
		for range 20 {
			s.tenant.Step()
		}
		faults[round%len(faults)]()
		if err := s.refresher.Refresh(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if err := s.refresher.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	truth := simtest.Truth(s.tenant).TruthSince(mark)
	current := simtest.Truth(s.tenant).Current(time.Now().Add(-lookback))
	got := s.gather(t)

	mismatches, total := truthMismatches(got, truth)
	if total < least {
		t.Fatalf("only %d activities completed after priming; the run proves little", total)
	}
	for _, m := range mismatches {
		t.Error(m)
	}

	activities := map[string]float64{}
	for k, v := range current.Activities {
		activities[key("completion_status", k[1], "execution_status", k[2], "type", k[0])] = float64(v)
	}
	compareCounts(t, "sailpoint_account_activities", got["sailpoint_account_activities"], activities)
	itemGauge := map[string]float64{}
	for k, v := range current.Items {
		itemGauge[key("operation", k[2], "provisioning_status", k[1], "type", k[0])] = float64(v)
	}
	compareCounts(t, "sailpoint_account_activity_items", got["sailpoint_account_activity_items"], itemGauge)
	oldest := map[string]float64{}
	for typ, at := range current.OldestIncompleteCreated {
		oldest[key("type", typ)] = float64(at.UnixMilli()) / 1000
	}
	compareCounts(t, "sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds", got["sailpoint_account_activity_oldest_incomplete_created_timestamp_seconds"], oldest)

	if up := value(got["sailpoint_up"][""]); up != 1 {
		t.Errorf("sailpoint_up = %v, want 1", up)
	}
	requests := got["sailpoint_api_requests_total"]
	for _, k := range []string{
		key("code", "200", "endpoint", "list"), key("code", "500", "endpoint", "list"), key("code", "429", "endpoint", "list"),
		key("code", "401", "endpoint", "list"), key("code", "error", "endpoint", "list"), key("code", "503", "endpoint", "token"),
	} {
		if value(requests[k]) == 0 {
			t.Errorf("sailpoint_api_requests_total{%s} is missing: the faults were not all exercised", k)
		}
	}
}
