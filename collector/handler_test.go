package collector

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// scrape serves one scrape through RefreshOnScrape and parses the answer.
func scrape(t *testing.T, h http.Handler, timeout string) map[string]float64 {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if timeout != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	return parse(t, rec.Body)
}

func parse(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 {
				out[name] = value(m)
			}
		}
	}
	return out
}

func TestRefreshOnScrape(t *testing.T) {
	s := newStack(t, simtenant.Config{Seed: 3, RateLimit: -1}, client.Config{}, Options{})
	s.tenant.SeedHistory(300, time.Hour)
	h := s.refresher.RefreshOnScrape(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}), 500*time.Millisecond)

	got := scrape(t, h, "5")
	if got["sailpoint_up"] != 1 || got["sailpoint_tracked_activities"] != 300 {
		t.Fatalf("first scrape: up %v, tracked %v; want 1 and 300 (primed on scrape)", got["sailpoint_up"], got["sailpoint_tracked_activities"])
	}

	// Concurrent scrapes share one refresh: while the first waits on a slow
	// ISC, the others wait for it instead of sending requests of their own.
	for range 3 {
		s.tenant.Step()
	}
	s.tenant.SlowNext(1, 300*time.Millisecond)
	before := len(s.tenant.Requests())
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { scrape(t, h, "5") })
	}
	wg.Wait()
	if n := len(s.tenant.Requests()) - before; n != 1 {
		t.Fatalf("5 concurrent scrapes sent %d requests, want the 1 of a shared refresh", n)
	}
}

// When ISC does not answer in time or at all, a scrape still gets its answer:
// sailpoint_up 0 and the last known values.
func TestScrapeWhenISCFails(t *testing.T) {
	s := newStack(t, simtenant.Config{Seed: 4, RateLimit: -1}, client.Config{MaxRetries: 1}, Options{})
	s.tenant.SeedHistory(50, time.Hour)
	h := s.refresher.RefreshOnScrape(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}), 500*time.Millisecond)
	first := scrape(t, h, "")
	if first["sailpoint_up"] != 1 {
		t.Fatalf("up = %v before the failure", first["sailpoint_up"])
	}

	s.tenant.SlowNext(1, 10*time.Second)
	slow := scrape(t, h, "1") // 1 s minus the 0.5 s offset
	if slow["sailpoint_up"] != 0 || slow["sailpoint_tracked_activities"] != 50 {
		t.Fatalf("slow ISC: up %v tracked %v, want 0 and the 50 known", slow["sailpoint_up"], slow["sailpoint_tracked_activities"])
	}
	if slow["sailpoint_last_refresh_success_timestamp_seconds"] != first["sailpoint_last_refresh_success_timestamp_seconds"] {
		t.Fatal("a failed refresh moved the last success timestamp")
	}

	s.tenant.FailNext(5, http.StatusServiceUnavailable)
	if down := scrape(t, h, "2"); down["sailpoint_up"] != 0 || down["sailpoint_tracked_activities"] != 50 {
		t.Fatalf("ISC failing: up %v tracked %v, want 0 and 50", down["sailpoint_up"], down["sailpoint_tracked_activities"])
	}
	_ = s.tenant.Close()
	if gone := scrape(t, h, "2"); gone["sailpoint_up"] != 0 || gone["sailpoint_tracked_activities"] != 50 {
		t.Fatalf("ISC unreachable: up %v tracked %v, want 0 and 50", gone["sailpoint_up"], gone["sailpoint_tracked_activities"])
	}
}

func TestRunRefreshesInTheBackground(t *testing.T) {
	s := newStack(t, simtenant.Config{Seed: 5, RateLimit: -1}, client.Config{}, Options{})
	s.tenant.SeedHistory(20, time.Hour)
	ctx, cancel := contextWithCancel(t)
	done := make(chan struct{})
	go func() { s.refresher.Run(ctx, 20*time.Millisecond, time.Minute); close(done) }()
	for s.refresher.current.Load().tracked != 20 {
		time.Sleep(5 * time.Millisecond)
	}
	ids := s.tenant.BulkRefresh(3)
	for s.refresher.current.Load().tracked != 23 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	got := s.gather(t)
	if v := value(got["sailpoint_account_activities_completed_total"][key("completion_status", "SUCCESS", "execution_status", "COMPLETED", "type", "Identity Refresh")]); v+value(got["sailpoint_account_activities_completed_total"][key("completion_status", "FAILURE", "execution_status", "COMPLETED", "type", "Identity Refresh")]) != float64(len(ids)) {
		t.Fatalf("background refresh counted %v bulk completions, want %d", v, len(ids))
	}
	if _, ok := got["sailpoint_refresh_duration_seconds"][""]; !ok {
		t.Fatal("no refresh duration after background refreshes")
	}
}
