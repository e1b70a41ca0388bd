package activities

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// primeActivities is the size of the tenant the priming benchmarks read:
// 55,600 activities modified within the lookback, 223 pages of 250.
const (
	primeActivities = 55_600
	primeRate       = 10 // requests per second the client may send
)

// delayTransport delays every request by d before it is sent: the time ISC
// takes to answer, which the simulated tenant on loopback does not.
type delayTransport struct {
	next http.RoundTripper
	d    time.Duration
}

func (t delayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.d > 0 {
		timer := time.NewTimer(t.d)
		select {
		case <-timer.C:
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		}
	}
	return t.next.RoundTrip(req)
}

// BenchmarkPrime primes a refresher from a simulated tenant holding
// 55,600 activities within the lookback, over real HTTP on loopback,
// through a client allowed 10 requests per second, with every answer
// delayed by the latency. It reports the wall time of the first pass, the
// list requests it sent, and their ratio to the floor the rate limit sets:
// ceil(pages / rate) seconds.
func BenchmarkPrime(b *testing.B) {
	slowBenchmark(b)
	for _, latency := range []time.Duration{150 * time.Millisecond, 0} {
		b.Run("latency="+latency.String(), func(b *testing.B) {
			tenant := simtenant.New(simtenant.Config{Seed: 61, RateLimit: -1, Clients: map[string]string{simClientID: simClientSecret}})
			tenant.SeedHistory(primeActivities, 20*time.Hour)
			url, err := tenant.Start()
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = tenant.Close() }()
			pages := int(math.Ceil(float64(primeActivities) / 250))
			floor := math.Ceil(float64(pages) / primeRate)
			var took time.Duration
			lists := 0
			for b.Loop() {
				isc, err := client.New(client.Config{BaseURL: url, ClientID: simClientID, ClientSecret: simClientSecret,
					RequestsPerSecond: primeRate, HTTPClient: &http.Client{Transport: delayTransport{next: http.DefaultTransport, d: latency}}})
				if err != nil {
					b.Fatal(err)
				}
				before := listRequests(tenant)
				r := NewRefresher(isc, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Logger: slog.New(slog.DiscardHandler)}})
				start := time.Now()
				if err := r.Refresh(b.Context()); err != nil {
					b.Fatal(err)
				}
				took += time.Since(start)
				lists += listRequests(tenant) - before
				if got := r.tracker.entries.Len(); got != primeActivities {
					b.Fatalf("tracked %d, want %d", got, primeActivities)
				}
			}
			secs := took.Seconds() / float64(b.N)
			b.ReportMetric(secs, "s/prime")
			b.ReportMetric(float64(lists)/float64(b.N), "requests/prime")
			b.ReportMetric(floor, "floor-s")
			b.ReportMetric(secs/floor, "x-floor")
		})
	}
}

// slowBenchmark skips a benchmark that takes minutes a run unless
// SAIL_SLOW_BENCHMARKS is set, as make bench-slow sets it: make bench runs
// every other benchmark of the package five times.
func slowBenchmark(b *testing.B) {
	if os.Getenv("SAIL_SLOW_BENCHMARKS") == "" {
		b.Skip("minutes a run: make bench-slow runs it")
	}
}

// listRequests counts the list requests the tenant answered.
func listRequests(t *simtenant.Tenant) int {
	n := 0
	for _, r := range t.Requests() {
		if r.Endpoint == "list" {
			n++
		}
	}
	return n
}

// BenchmarkPrimeCPU primes a refresher from the same 55,600 activities
// answered from memory, without latency and without a rate limit: what
// the exporter itself spends on a first pass (requests, paging, decoding,
// the counting rule), without the simulated tenant's own filtering,
// sorting and rendering; and from 10,000, small enough to count its
// instructions under valgrind.
func BenchmarkPrimeCPU(b *testing.B) {
	for _, n := range []int{primeActivities, 10_000} {
		b.Run(fmt.Sprintf("activities=%d", n), func(b *testing.B) {
			tenant := simtenant.New(simtenant.Config{Seed: 61})
			tenant.SeedHistory(n, 20*time.Hour)
			mem, err := newMemISC(tenant)
			if err != nil {
				b.Fatal(err)
			}
			isc, err := client.New(client.Config{BaseURL: "https://tenant.invalid", ClientID: "id", ClientSecret: "secret",
				RequestsPerSecond: 1e6, HTTPClient: &http.Client{Transport: mem}})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			mem.lists.Store(0)
			for b.Loop() {
				r := NewRefresher(isc, Options{Lookback: 24 * time.Hour, Wiring: area.Wiring{Logger: slog.New(slog.DiscardHandler)}})
				if err := r.Refresh(b.Context()); err != nil {
					b.Fatal(err)
				}
				if got := r.tracker.entries.Len(); got != n {
					b.Fatalf("tracked %d, want %d", got, n)
				}
			}
			b.ReportMetric(float64(mem.lists.Load())/float64(b.N), "requests/prime")
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "activities/s")
		})
	}
}

// memISC answers the list requests of a scan from memory: the activities
// rendered once, ordered by modified then id, filtered with the operators
// the exporter sends (modified ge, gt, lt, joined by and), paged by limit
// and offset, counted with count=true. It sends no Date header, so the
// client's clock stays the host's.
type memISC struct {
	modified []int64 // unix ms, ascending
	raw      [][]byte
	lists    atomic.Int64
}

func newMemISC(tenant *simtenant.Tenant) (*memISC, error) {
	pages, err := tenant.Pages(250, 0)
	if err != nil {
		return nil, err
	}
	m := &memISC{}
	for _, p := range pages {
		var elems []json.RawMessage
		if err := json.Unmarshal(p, &elems); err != nil {
			return nil, err
		}
		for _, e := range elems {
			var a struct{ Modified time.Time }
			if err := json.Unmarshal(e, &a); err != nil {
				return nil, err
			}
			m.modified = append(m.modified, a.Modified.UnixMilli())
			m.raw = append(m.raw, e)
		}
	}
	if !slices.IsSorted(m.modified) {
		return nil, fmt.Errorf("pages not in modified order")
	}
	return m, nil
}

func (m *memISC) RoundTrip(req *http.Request) (*http.Response, error) {
	header := http.Header{"Content-Type": {"application/json"}}
	reply := func(body []byte) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	if req.URL.Path == "/oauth/token" {
		return reply([]byte(`{"access_token":"t","token_type":"bearer","expires_in":749}`))
	}
	m.lists.Add(1)
	q := req.URL.Query()
	limit, offset := 250, 0
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := q.Get("offset"); v != "" {
		offset, _ = strconv.Atoi(v)
	}
	lo, hi := 0, len(m.modified)
	if f := q.Get("filters"); f != "" {
		for _, cond := range strings.Split(f, " and ") {
			parts := strings.Fields(cond)
			if len(parts) != 3 || parts[0] != "modified" {
				return nil, fmt.Errorf("memISC: filter %q", f)
			}
			at, err := time.Parse(time.RFC3339Nano, parts[2])
			if err != nil {
				return nil, err
			}
			ms := at.UnixMilli()
			switch parts[1] {
			case "ge":
				lo = max(lo, sort.Search(len(m.modified), func(i int) bool { return m.modified[i] >= ms }))
			case "gt":
				lo = max(lo, sort.Search(len(m.modified), func(i int) bool { return m.modified[i] > ms }))
			case "lt":
				hi = min(hi, sort.Search(len(m.modified), func(i int) bool { return m.modified[i] >= ms }))
			default:
				return nil, fmt.Errorf("memISC: operator %q", parts[1])
			}
		}
	}
	if q.Get("count") == "true" {
		header.Set("X-Total-Count", strconv.Itoa(max(0, hi-lo)))
	}
	from := min(lo+offset, max(lo, hi))
	to := min(from+limit, max(lo, hi))
	body := []byte{'['}
	for i := from; i < to; i++ {
		if i > from {
			body = append(body, ',')
		}
		body = append(body, m.raw[i]...)
	}
	return reply(append(body, ']'))
}
