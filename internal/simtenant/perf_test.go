package simtenant

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// largeQueries are the requests a 50k-activity tenant must answer: the
// exporter's keyset scan, a deep offset, a filtered scan and the default.
func largeQueries(now time.Time) []url.Values {
	since := now.Add(-15 * 24 * time.Hour).UTC().Format(msLayout)
	return []url.Values{
		q("sorters", "modified", "filters", "modified gt "+since, "count", "true"),
		q("sorters", "-created", "offset", "20000"),
		q("filters", `type in ("appRequest","Identity Refresh") and created ge `+since),
		nil,
	}
}

// TestLargeTenant checks that a 50k-activity tenant serves full, ordered
// pages for those requests; BenchmarkLargeTenantPage measures how fast.
func TestLargeTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("large data set")
	}
	h := newHarness(t, Config{RateLimit: -1, Seed: 4})
	h.tenant.SeedHistory(50000, 30*24*time.Hour)
	for _, query := range largeQueries(h.clock.Now()) {
		page, r := h.list(query)
		if len(page) != 250 {
			t.Fatalf("%v: %d items", query, len(page))
		}
		for i := 1; i < len(page); i++ {
			if query.Get("sorters") == "modified" && page[i].Modified.Before(*page[i-1].Modified) {
				t.Fatalf("%v: not in modified order at %d", query, i)
			}
		}
		if query.Get("count") == "true" && r.header.Get("X-Total-Count") == "" {
			t.Errorf("%v: no count", query)
		}
	}
}

// BenchmarkLargeTenantPage measures one 250-item page of each large query,
// parsing, scanning and marshalling, without the HTTP round trip.
func BenchmarkLargeTenantPage(b *testing.B) {
	clk := newFakeClock()
	tn := New(Config{RateLimit: -1, Seed: 4, Now: clk.Now})
	tn.SeedHistory(50000, 30*24*time.Hour)
	var reqs []*http.Request
	for _, query := range largeQueries(clk.Now()) {
		r, err := http.NewRequestWithContext(b.Context(), http.MethodGet, "http://sim/v3/account-activities?"+query.Encode(), nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	b.ResetTimer()
	for i := range b.N {
		if rep := tn.listActivities(reqs[i%len(reqs)], false); rep.status != http.StatusOK {
			b.Fatalf("status %d", rep.status)
		}
	}
}
