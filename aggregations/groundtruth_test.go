package aggregations

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sailpoint-exporter/sailpoint_exporter/apimetrics"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

const (
	simClientID     = "agg-client"
	simClientSecret = "agg-secret"
	testLookback    = 7 * 24 * time.Hour
)

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stack is a simulated tenant on a fake clock, a client over real HTTP on
// loopback, and a Refresher in a pedantic registry.
type stack struct {
	tenant    *simtenant.Tenant
	clock     *fakeclock.Clock
	isc       *client.Client
	refresher *Refresher
	registry  *prometheus.Registry
	logs      *lockedBuffer
}

func newStack(t *testing.T, tc simtenant.Config, cc client.Config, opts Options) *stack {
	t.Helper()
	clk := fakeclock.New(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	tc.Clients = map[string]string{simClientID: simClientSecret}
	tc.Now = clk.Now
	if tc.RateLimit == 0 {
		tc.RateLimit = -1
	}
	tenant := simtest.New(tc)
	url, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	reg := prometheus.NewPedanticRegistry()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cc.BaseURL, cc.ClientID, cc.ClientSecret = url, simClientID, simClientSecret
	cc.Observe = apimetrics.New(reg, nil, nil).Observe
	if cc.RequestsPerSecond == 0 {
		cc.RequestsPerSecond = 1000
	}
	if cc.MinBackoff == 0 {
		cc.MinBackoff, cc.MaxBackoff = time.Millisecond, 5*time.Millisecond
	}
	if cc.HTTPClient == nil {
		cc.HTTPClient = &http.Client{}
	}
	isc, err := client.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Lookback == 0 {
		opts.Lookback = testLookback
	}
	opts.Now, opts.Logger = clk.Now, logger
	r := NewRefresher(isc, opts)
	reg.MustRegister(r.Collector())
	return &stack{tenant: tenant, clock: clk, isc: isc, refresher: r, registry: reg, logs: logs}
}

// series maps a family's series, by their labels joined "name=value|…" in
// label name order, to the sample.
type series map[string]*dto.Metric

func (s *stack) gather(t *testing.T) map[string]series {
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

func key3(k [3]string) string {
	return "completion_status=" + k[2] + "|source_id=" + k[0] + "|type=" + k[1]
}

func key2(k [2]string) string { return "source_id=" + k[0] + "|type=" + k[1] }

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

// mismatches compares what the exporter serves with the tenant's ground
// truth: every counter and histogram since mark, every gauge now.
func (s *stack) mismatches(t *testing.T, mark simtest.Mark) (out []string, finished int) {
	t.Helper()
	return s.mismatchesAt(t, mark, s.clock.Now())
}

// mismatchesAt is mismatches at the tenant's time now.
func (s *stack) mismatchesAt(t *testing.T, mark simtest.Mark, now time.Time) (out []string, finished int) {
	t.Helper()
	got := s.gather(t)
	truth := simtest.Truth(s.tenant).TaskTruthSince(mark)
	cur := simtest.Truth(s.tenant).CurrentTasks(now.Add(-s.refresher.opts.Lookback))
	want := map[string]float64{}
	for k, n := range truth.Finished {
		want[key3(k)] = float64(n)
		finished += n
	}
	out = append(out, compare("sailpoint_source_aggregations_completed_total", got["sailpoint_source_aggregations_completed_total"], want)...)
	type hist struct {
		count uint64
		sum   float64
	}
	wantH := map[string]hist{}
	for k, ds := range truth.Durations {
		hk := "completion_status=" + k[2] + "|type=" + k[1]
		h := wantH[hk]
		for _, d := range ds {
			h.count++
			h.sum += d
		}
		wantH[hk] = h
	}
	for k, m := range got["sailpoint_source_aggregation_duration_seconds"] {
		h := m.GetHistogram()
		w := wantH[k]
		if h.GetSampleCount() != w.count || abs(h.GetSampleSum()-w.sum) > 1e-6*max(1, w.sum) {
			out = append(out, "duration{"+k+"}: count "+ftoa(float64(h.GetSampleCount()))+" sum "+ftoa(h.GetSampleSum())+", truth "+ftoa(float64(w.count))+" "+ftoa(w.sum))
		}
		delete(wantH, k)
	}
	for k, w := range wantH {
		out = append(out, "duration{"+k+"} missing, truth count "+ftoa(float64(w.count)))
	}
	running, oldest := map[string]float64{}, map[string]float64{}
	for k, n := range cur.Running {
		running[key2(k)] = float64(n)
		oldest[key2(k)] = float64(cur.OldestRunningCreated[k].UnixMilli()) / 1000
	}
	out = append(out, compare("sailpoint_source_aggregations_in_progress", got["sailpoint_source_aggregations_in_progress"], running)...)
	out = append(out, compare("sailpoint_source_aggregation_oldest_in_progress_created_timestamp_seconds", got["sailpoint_source_aggregation_oldest_in_progress_created_timestamp_seconds"], oldest)...)
	last := map[string]float64{}
	for k, at := range cur.LastCompleted {
		last[key3(k)] = float64(at.UnixMilli()) / 1000
	}
	out = append(out, compare("sailpoint_source_aggregation_last_completed_timestamp_seconds", got["sailpoint_source_aggregation_last_completed_timestamp_seconds"], last)...)
	return out, finished
}

// compare says where a family differs from want: every series of want must
// have its value, and no other series may be above zero.
func compare(name string, got series, want map[string]float64) []string {
	var out []string
	for k, w := range want {
		if g := value(got[k]); g != w {
			out = append(out, name+"{"+k+"} = "+ftoa(g)+", ground truth "+ftoa(w))
		}
	}
	for k, m := range got {
		if _, ok := want[k]; !ok && value(m) != 0 {
			out = append(out, name+"{"+k+"} = "+ftoa(value(m))+", ground truth has no such series")
		}
	}
	return out
}

func ftoa(v float64) string { return strings.TrimRight(strings.TrimRight(fmtFloat(v), "0"), ".") }

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Three days of hourly aggregations (two in the lookback), then four hours of them with every kind of
// fault and tasks arriving while the exporter pages: every counter and
// histogram equals the tenant's ground truth, every gauge its present.
func TestAggregationsEqualGroundTruth(t *testing.T) {
	t.Parallel()
	// -short, the loop after each edit: half the sources, each fault five
	// times rather than ten.
	sources, rounds, least := 80, 50, 500
	if testing.Short() {
		sources, rounds, least = 40, 25, 120
	}
	s := newStack(t, simtenant.Config{Seed: 71, TaskSources: sources}, client.Config{PageSize: 100}, Options{Lookback: 2 * 24 * time.Hour})
	s.tenant.SeedTaskHistory(3 * 24 * time.Hour)
	mark := simtest.Truth(s.tenant).Mark()
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	if bad, _ := s.mismatches(t, mark); len(bad) > 0 {
		t.Fatalf("after the first pass:\n%s", strings.Join(bad, "\n"))
	}
	faults := []func(){
		func() { simtest.Faults(s.tenant).FailTasksNext(2, http.StatusInternalServerError) },
		func() { s.tenant.ExpireTokens() },
		func() {
			// New tasks arrive while the exporter pages: the clock moves and
			// the schedule runs before each list request.
			simtest.Faults(s.tenant).OnTaskList(func(int) { s.clock.Advance(20 * time.Second); s.tenant.Step() })
		},
		func() { simtest.Faults(s.tenant).FailTasksNext(1, http.StatusBadGateway) },
		func() {},
	}
	for round := range rounds {
		simtest.Faults(s.tenant).OnTaskList(nil)
		s.clock.Advance(5 * time.Minute)
		s.tenant.Step()
		faults[round%len(faults)]()
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	simtest.Faults(s.tenant).OnTaskList(nil)
	bad, finished := s.mismatches(t, mark)
	for _, b := range bad {
		t.Error(b)
	}
	if finished < least {
		t.Fatalf("only %d aggregations finished while counting; the run proves little", finished)
	}
	t.Logf("%d aggregations finished while counting, every one counted once", finished)
}

// ISC failing for an hour loses nothing: the finishes of that hour are
// counted once it answers again, and sailpoint_aggregations_up says it.
func TestAggregationsOutageLosesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 72, TaskSources: 10}, client.Config{MaxRetries: -1}, Options{})
	s.tenant.SeedTaskHistory(2 * 24 * time.Hour)
	mark := simtest.Truth(s.tenant).Mark()
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		s.clock.Advance(5 * time.Minute)
		s.tenant.Step()
		simtest.Faults(s.tenant).FailTasksNext(1, http.StatusServiceUnavailable)
		if err := s.refresher.Refresh(t.Context()); err == nil {
			t.Fatal("a refresh succeeded while ISC failed")
		}
		if up := value(s.gather(t)["sailpoint_aggregations_up"][""]); up != 0 {
			t.Fatalf("sailpoint_aggregations_up = %v during the outage", up)
		}
	}
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	bad, finished := s.mismatches(t, mark)
	for _, b := range bad {
		t.Error(b)
	}
	if finished < 20 {
		t.Fatalf("only %d finished during the outage; the test proves little", finished)
	}
	if n := strings.Count(s.logs.String(), "reading ISC's task status failed;"); n != 1 {
		t.Errorf("the outage was said %d times, want once:\n%s", n, s.logs.String())
	}
	if !strings.Contains(s.logs.String(), "reading ISC's task status works again") {
		t.Errorf("its end was not said:\n%s", s.logs.String())
	}
}
