package activities

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/scrapefloor"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// BenchmarkIngest measures what the exporter spends on every activity: the
// client's request and paging logic, decoding and the counting rule, priming
// a tracker from 20 pages of 250 realistic activities of about 3.5 KB. The
// pages are rendered once and answered from memory by an http.RoundTripper,
// so that neither the simulated tenant's work nor a network is measured:
// against ISC the network and its rate limit bound ingestion, not this.
func BenchmarkIngest(b *testing.B) {
	tenant := simtest.New(simtenant.Config{Seed: 11})
	tenant.SeedHistory(5000, 20*time.Hour)
	pages, err := tenant.Pages(250, 3500)
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, p := range pages {
		size += len(p)
	}
	transport := &pageTransport{pages: pages}
	isc, err := client.New(client.Config{
		BaseURL: "https://tenant.invalid", ClientID: "id", ClientSecret: "secret",
		RequestsPerSecond: 1e6, HTTPClient: &http.Client{Transport: transport},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		transport.next = 0
		r := NewRefresher(isc, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Logger: slog.New(slog.DiscardHandler)}})
		if err := r.Refresh(b.Context()); err != nil {
			b.Fatal(err)
		}
		if got := r.tracker.entries.Len(); got != 5000 {
			b.Fatalf("tracked %d, want 5000", got)
		}
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "activities/s")
}

// pageTransport answers a token request, then the pages in order, one per
// list request whatever its query, then empty pages. It sends no Date, so
// the clock stays the host's.
type pageTransport struct {
	pages [][]byte
	next  int
}

func (t *pageTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := []byte("[]")
	switch {
	case req.URL.Path == "/oauth/token":
		body = []byte(`{"access_token":"t","token_type":"bearer","expires_in":749}`)
	case req.URL.RawQuery == "limit=1": // the clock's first question
	case t.next < len(t.pages):
		body = t.pages[t.next]
		t.next++
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// synthetic applies n activities shaped like a tenant's: eleven types, eight
// sources, one to three items, most completed, some failed, some in flight.
func synthetic(t *tracker, n int, now time.Time) { syntheticSources(t, n, 8, now) }

// syntheticSources is synthetic with the given number of sources.
func syntheticSources(t *tracker, n, sources int, now time.Time) {
	types := []string{"Identity Refresh", "appRequest", "CloudAutomated", "LifecycleStateChange", "AccountStateUpdate",
		"AccountAttributeUpdate", "CloudPasswordRequest", "Attribute Synchronization Refresh", "Certification",
		"Lifecycle Change Refresh", "IdentityAttributeUpdate"}
	ops := []string{"ADD", "REMOVE", "MODIFY", "CREATE", "DISABLE", "ENABLE"}
	a := client.Activity{Items: make([]client.Item, 0, 3)}
	for i := range n {
		created := now.Add(-time.Duration(i%86_000) * time.Second)
		a = client.Activity{
			ID:      fmt.Sprintf("%016x%016x", uint64(i)*0x9E3779B97F4A7C15, uint64(i)),
			Type:    types[i%len(types)],
			Created: created, Modified: created.Add(time.Minute),
			ExecutionStatus: "COMPLETED", CompletionStatus: "SUCCESS", Completed: created.Add(time.Minute),
			Items: a.Items[:0],
		}
		prov := "FINISHED"
		switch {
		case i%20 == 0:
			a.CompletionStatus, prov, a.Errors = "FAILURE", "FAILED", 1
		case i%10 == 1:
			a.ExecutionStatus, a.CompletionStatus, a.Completed, prov = "EXECUTING", "PENDING", time.Time{}, "PENDING"
		}
		for j := range 1 + i%3 {
			a.Items = append(a.Items, client.Item{ProvisioningStatus: prov, Operation: ops[(i+j)%len(ops)], SourceID: fmt.Sprintf("2c91808363ef8529016400058713%04x", (i+j)%sources)})
		}
		t.apply(&a)
	}
}

// BenchmarkApply measures the counting rule alone: a million activities
// applied to a tracker.
func BenchmarkApply(b *testing.B) {
	const n = 1_000_000
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		t := newTracker(24*time.Hour, 64, 256, func() time.Time { return now }, nil)
		t.startCounting(now)
		synthetic(t, n, now)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "activities/s")
}

// BenchmarkScrape measures /metrics, as Prometheus sees it, with 10k, 100k
// and 1M activities tracked: its cost follows the series, not the activities.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("tracked=%d", n), func(b *testing.B) {
			now := time.Now()
			r := NewRefresher(nil, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Now: func() time.Time { return now }}})
			r.tracker.startCounting(now)
			synthetic(r.tracker, n, now)
			r.publish(true)
			reg := prometheus.NewRegistry()
			reg.MustRegister(r.Collector())
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			series := strings.Count(rec.Body.String(), "\nsailpoint_")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
			b.ReportMetric(float64(series), "series")
		})
	}
}

// BenchmarkScrapeOverhead compares a /metrics request served by the
// Collector with the floor: client_golang gathering and encoding the very
// same pre-built metrics from a collector that only sends them, with 1M
// activities tracked. Both run in the same loop, alternately, so the
// reported ratio is measured in one run whatever the machine's speed.
// Sizes: eight sources (1,219 series) and 256 sources (11,231 series).
func BenchmarkScrapeOverhead(b *testing.B) {
	for _, sources := range []int{8, 256} {
		b.Run(fmt.Sprintf("sources=%d", sources), func(b *testing.B) {
			now := time.Now()
			r := NewRefresher(nil, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Now: func() time.Time { return now }}})
			r.tracker.startCounting(now)
			syntheticSources(r.tracker, 1_000_000, sources, now)
			r.publish(true)

			ours := prometheus.NewRegistry()
			ours.MustRegister(r.Collector())
			scrapefloor.Compare(b, ours, scrapefloor.Of(r.Collector()))
		})
	}
}

// BenchmarkTrackedBytes measures the heap that one tracked activity costs.
func BenchmarkTrackedBytes(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		now := time.Now()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t := newTracker(24*time.Hour, 64, 256, func() time.Time { return now }, nil)
		synthetic(t, n, now)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if t.entries.Len() != n {
			b.Fatalf("tracked %d, want %d", t.entries.Len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/activity")
		runtime.KeepAlive(t)
	}
}

// BenchmarkStateWrite measures a write of the state file (encode, checksum,
// write, fsync, rename, fsync of the directory) with 10k, 100k and 1M
// activities tracked, and the file's size per tracked activity.
func BenchmarkStateWrite(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("tracked=%d", n), func(b *testing.B) {
			now := time.Now()
			path := filepath.Join(b.TempDir(), "state")
			sf, err := state.Open(path, state.Identity{URL: "https://acme.api.identitynow.com", ClientID: "id"}, prometheus.NewRegistry(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = sf.Close() }()
			r := NewRefresher(nil, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Now: func() time.Time { return now }, State: sf}})
			r.tracker.startCounting(now)
			synthetic(r.tracker, n, now)
			r.primed = true
			b.ReportAllocs()
			for b.Loop() {
				if err := sf.Write(); err != nil {
					b.Fatal(err)
				}
			}
			info, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(info.Size())/float64(n), "B/activity")
			b.ReportMetric(float64(info.Size())/1e6, "MB")
		})
	}
}

// BenchmarkStateLoad measures reading, checking and decoding the state file
// at 1M tracked: what a restart costs before its first refresh.
func BenchmarkStateLoad(b *testing.B) {
	now := time.Now()
	path := filepath.Join(b.TempDir(), "state")
	id := state.Identity{URL: "https://acme.api.identitynow.com", ClientID: "id"}
	sf, err := state.Open(path, id, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return now }
	r := NewRefresher(nil, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Now: clock, State: sf}})
	r.tracker.startCounting(now)
	synthetic(r.tracker, 1_000_000, now)
	if err := sf.Write(); err != nil {
		b.Fatal(err)
	}
	_ = sf.Close()
	for b.Loop() {
		sf, err := state.Open(path, id, prometheus.NewRegistry(), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		again := NewRefresher(nil, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Now: clock, State: sf}})
		_ = sf.Close()
		if n := again.tracker.entries.Len(); n != 1_000_000 {
			b.Fatalf("loaded %d tracked activities", n)
		}
	}
}
