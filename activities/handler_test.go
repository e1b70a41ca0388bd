package activities

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// scrape serves one scrape and parses the answer into the values of the
// series without labels.
func scrape(h http.Handler, timeout string) (map[string]float64, error) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if timeout != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, errors.New(rec.Result().Status + ": " + rec.Body.String())
	}
	return parse(rec.Body)
}

func mustScrape(t *testing.T, h http.Handler, timeout string) map[string]float64 {
	t.Helper()
	got, err := scrape(h, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func parse(r io.Reader) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 {
				out[name] = value(m)
			}
		}
	}
	return out, nil
}

// onScrape is the handler of the refresh-on-scrape mode over s.
func (s *stack) onScrape(logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return area.RefreshOnScrape(s.refresher.Refresh, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}), 500*time.Millisecond, logger)
}

// goroutinesIn counts the goroutines whose stack holds fn, from the
// runtime's own account of them: how a test sees that callers have
// arrived somewhere without a hook in the code under test.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), fn+"(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// tracked is sailpoint_tracked_activities as last published, -1 before.
func (s *stack) tracked() float64 {
	mfs, err := s.registry.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() == "sailpoint_tracked_activities" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func TestRefreshOnScrape(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 3, RateLimit: -1}, client.Config{}, Options{})
	s.tenant.SeedHistory(300, time.Hour)
	h := s.onScrape(nil)

	got := mustScrape(t, h, "5")
	if got["sailpoint_up"] != 1 || got["sailpoint_tracked_activities"] != 300 {
		t.Fatalf("first scrape: up %v, tracked %v; want 1 and 300 (primed on scrape)", got["sailpoint_up"], got["sailpoint_tracked_activities"])
	}

	// Concurrent scrapes share one refresh: the tenant holds the first
	// scrape's list request until all five are inside the Runner's Refresh
	// (the first refreshing, the four others bound to wait for it, since it
	// cannot end while held).
	for range 3 {
		s.tenant.Step()
	}
	held := make(chan struct{})
	simtest.Faults(s.tenant).OnList(func(int) { <-held })
	go func() {
		defer close(held)
		deadline := time.Now().Add(10 * time.Second)
		for goroutinesIn("area.(*Runner).Refresh") < 5 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
	}()
	before := len(s.tenant.Requests())
	errs := make(chan error, 5)
	for range 5 {
		go func() { _, err := scrape(h, "5"); errs <- err }()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.tenant.Requests()) - before; n != 1 {
		t.Fatalf("5 concurrent scrapes sent %d requests, want the 1 of a shared refresh", n)
	}
}

// A malformed scrape timeout header is said at debug level, and the default
// timeout applies.
func TestMalformedScrapeTimeoutIsLogged(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 3, RateLimit: -1}, client.Config{}, Options{})
	var logs bytes.Buffer
	h := s.onScrape(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for _, v := range []string{"abc", "-1", "0"} {
		logs.Reset()
		if got := mustScrape(t, h, v); got["sailpoint_up"] != 1 {
			t.Fatalf("header %q: up %v, want 1 with the default timeout", v, got["sailpoint_up"])
		}
		if line := logs.String(); !strings.Contains(line, "level=DEBUG") || !strings.Contains(line, "malformed X-Prometheus-Scrape-Timeout-Seconds") || !strings.Contains(line, "value="+v) {
			t.Fatalf("header %q logged %q", v, line)
		}
	}
	logs.Reset()
	mustScrape(t, h, "5")
	if logs.Len() != 0 {
		t.Fatalf("a well-formed header logged %q", logs.String())
	}
}

// When ISC does not answer in time or at all, a scrape still gets its answer:
// sailpoint_up 0 and the last known values.
func TestScrapeWhenISCFails(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 4, RateLimit: -1}, client.Config{MaxRetries: 1}, Options{})
	s.tenant.SeedHistory(50, time.Hour)
	h := s.onScrape(nil)
	first := mustScrape(t, h, "")
	if first["sailpoint_up"] != 1 {
		t.Fatalf("up = %v before the failure", first["sailpoint_up"])
	}

	simtest.Faults(s.tenant).SlowNext(1, 10*time.Second)
	slow := mustScrape(t, h, "1") // 1 s minus the 0.5 s offset
	if slow["sailpoint_up"] != 0 || slow["sailpoint_tracked_activities"] != 50 {
		t.Fatalf("slow ISC: up %v tracked %v, want 0 and the 50 known", slow["sailpoint_up"], slow["sailpoint_tracked_activities"])
	}
	if slow["sailpoint_last_refresh_success_timestamp_seconds"] != first["sailpoint_last_refresh_success_timestamp_seconds"] {
		t.Fatal("a failed refresh moved the last success timestamp")
	}

	simtest.Faults(s.tenant).FailNext(5, http.StatusServiceUnavailable)
	if down := mustScrape(t, h, "2"); down["sailpoint_up"] != 0 || down["sailpoint_tracked_activities"] != 50 {
		t.Fatalf("ISC failing: up %v tracked %v, want 0 and 50", down["sailpoint_up"], down["sailpoint_tracked_activities"])
	}
	_ = s.tenant.Close()
	if gone := mustScrape(t, h, "2"); gone["sailpoint_up"] != 0 || gone["sailpoint_tracked_activities"] != 50 {
		t.Fatalf("ISC unreachable: up %v tracked %v, want 0 and 50", gone["sailpoint_up"], gone["sailpoint_tracked_activities"])
	}
}

// waitUntil polls cond every few milliseconds for at most d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunRefreshesInTheBackground(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 5, RateLimit: -1}, client.Config{}, Options{})
	s.tenant.SeedHistory(20, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.refresher.Run(ctx, 20*time.Millisecond); close(done) }()
	tracked := func(n float64) func() bool {
		return func() bool { return s.tracked() == n }
	}
	waitUntil(t, 10*time.Second, "the first refresh", tracked(20))
	ids := s.tenant.BulkRefresh(3)
	waitUntil(t, 10*time.Second, "the bulk refresh to be read", tracked(23))
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	got := s.gather(t)
	completed := got["sailpoint_account_activities_completed_total"]
	n := value(completed[key("completion_status", "SUCCESS", "execution_status", "COMPLETED", "type", "Identity Refresh")]) +
		value(completed[key("completion_status", "FAILURE", "execution_status", "COMPLETED", "type", "Identity Refresh")])
	if n != float64(len(ids)) {
		t.Fatalf("background refresh counted %v bulk completions, want %d", n, len(ids))
	}
	if _, ok := got["sailpoint_refresh_duration_seconds"][""]; !ok {
		t.Fatal("no refresh duration after background refreshes")
	}
}

// A refresh after a failed one publishes its progress with sailpoint_up
// still 0: only a finished refresh decides up.
func TestProgressKeepsThePreviousUp(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 6, RateLimit: -1}, client.Config{MaxRetries: -1, PageSize: 10}, Options{PublishEvery: time.Nanosecond})
	s.tenant.SeedHistory(100, time.Hour)
	simtest.Faults(s.tenant).FailNext(1, http.StatusBadGateway)
	if err := s.refresher.Refresh(t.Context()); err == nil {
		t.Fatal("the first refresh should fail")
	}
	if up := s.refresher.core.Publisher.Current().Status.Up; up {
		t.Fatal("up after a failed refresh")
	}
	// During the next refresh, each page publishes: up must stay 0 until
	// the refresh has ended.
	var (
		mu     sync.Mutex
		during []bool
	)
	simtest.Faults(s.tenant).OnList(func(n int) {
		if n > 1 {
			mu.Lock()
			defer mu.Unlock()
			during = append(during, s.refresher.core.Publisher.Current().Status.Up)
		}
	})
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(during) < 5 {
		t.Fatalf("only %d progress publications seen; the test proves little", len(during))
	}
	for i, up := range during {
		if up {
			t.Fatalf("progress publication %d said up 1 before the refresh ended", i)
		}
	}
	if !s.refresher.core.Publisher.Current().Status.Up {
		t.Fatal("up 0 after a successful refresh")
	}
}
