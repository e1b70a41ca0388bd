package activities

import (
	"net/http"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// A first pass read as ranges side by side leaves the refresher exactly
// where one scan leaves it: the same cursor, the same tracked activities,
// the same metrics; on a tenant whose day is not uniform, so that ranges
// are cut again.
func TestPrimingInRangesEndsWhereOneScanEnds(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	// -short (the loop after each edit, and the race detector's run): half
	// the history, read in ranges the same way.
	day, lastHalfHour, least := 1500, 4000, 5000
	if testing.Short() {
		day, lastHalfHour, least = 750, 2000, 2500
	}
	prime := func(concurrency int) *stack {
		s := newStack(t, simtenant.Config{Seed: 58, RateLimit: -1, Now: clk.Now},
			client.Config{HTTPClient: &http.Client{}}, Options{Lookback: testLookback, Wiring: area.Wiring{Now: clk.Now}, PrimeConcurrency: concurrency})
		s.tenant.SeedHistory(day, 20*time.Hour)
		s.tenant.SeedHistory(lastHalfHour, 30*time.Minute)
		s.tenant.BulkRefresh(600)
		return s
	}
	one, ranges := prime(1), prime(8)
	clk.Advance(time.Minute)
	for _, s := range []*stack{one, ranges} {
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := one.refresher.cursor, ranges.refresher.cursor; a != b {
		t.Errorf("cursor after ranges %+v, after one scan %+v", b, a)
	}
	if a, b := exposition(t, one.refresher.Collector()), exposition(t, ranges.refresher.Collector()); withoutRefreshStatus(a) != withoutRefreshStatus(b) {
		t.Errorf("after ranges:\n%s\nafter one scan:\n%s", b, a)
	}
	if n := ranges.refresher.tracker.entries.Len(); n < least {
		t.Fatalf("tracked %d activities; the run proves little", n)
	}
	a, b := one.lists(), ranges.lists()
	if b <= a {
		t.Fatalf("%d list requests with ranges, %d with one scan: the ranges were not read", b, a)
	}
	t.Logf("one scan: %d list requests; ranges: %d", a, b)
}
