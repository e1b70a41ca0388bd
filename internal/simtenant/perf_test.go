package simtenant

import (
	"testing"
	"time"
)

// TestLargeTenant checks that a 50k-activity tenant answers filtered,
// sorted pages quickly enough for tens of requests per second.
func TestLargeTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("large data set")
	}
	h := newHarness(t, Config{RateLimit: -1, Seed: 4})
	start := time.Now()
	h.tenant.SeedHistory(50000, 30*24*time.Hour)
	seeded := time.Since(start)
	since := h.clock.Now().Add(-15 * 24 * time.Hour).UTC().Format(msLayout)
	queries := []map[string]string{
		{"sorters": "modified", "filters": "modified gt " + since, "count": "true"},
		{"sorters": "-created", "offset": "20000"},
		{"filters": `type in ("appRequest","Identity Refresh") and created ge ` + since},
		{},
	}
	start = time.Now()
	n := 0
	for i := 0; i < 5; i++ {
		for _, qq := range queries {
			v := q()
			for k, s := range qq {
				v.Set(k, s)
			}
			page, _ := h.list(v)
			if len(page) != 250 {
				t.Fatalf("%v: %d items", qq, len(page))
			}
			n++
		}
	}
	per := time.Since(start) / time.Duration(n)
	t.Logf("seeded 50k in %v; %v per 250-item page", seeded, per)
	if !raceEnabled && per > 250*time.Millisecond {
		t.Errorf("%v per page is too slow", per)
	}
}

func BenchmarkListPage(b *testing.B) {
	clk := newFakeClock()
	tn := New(Config{RateLimit: -1, Seed: 4, Now: clk.Now})
	tn.SeedHistory(50000, 30*24*time.Hour)
	req := httptestRequest("/v3/account-activities?sorters=modified&filters=modified%20gt%202026-11-01T00:00:00Z")
	b.ResetTimer()
	for range b.N {
		tn.list(req, false)
	}
}
