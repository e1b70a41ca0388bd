// Package scrapefloor measures a /metrics request against its floor:
// client_golang gathering and encoding the very same pre-built metrics from
// a collector that only sends them. The benchmarks of the counting areas
// and of many tenants use it; the exporter does not.
package scrapefloor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prebuilt sends a fixed list of metrics: the floor of a scrape.
type Prebuilt struct {
	Descs   []*prometheus.Desc
	Metrics []prometheus.Metric
}

// Describe sends every desc.
func (p Prebuilt) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range p.Descs {
		ch <- d
	}
}

// Collect sends every metric.
func (p Prebuilt) Collect(ch chan<- prometheus.Metric) {
	for _, m := range p.Metrics {
		ch <- m
	}
}

// Of is the floor of the collectors: what they describe and send now,
// sent again as it is.
func Of(cs ...prometheus.Collector) Prebuilt {
	var p Prebuilt
	for _, c := range cs {
		dc := make(chan *prometheus.Desc)
		go func() { c.Describe(dc); close(dc) }()
		for d := range dc {
			p.Descs = append(p.Descs, d)
		}
		mc := make(chan prometheus.Metric)
		go func() { c.Collect(mc); close(mc) }()
		for m := range mc {
			p.Metrics = append(p.Metrics, m)
		}
	}
	return p
}

// Compare serves /metrics from ours and from the floor of floor's metrics
// alternately in one loop, so that the ratio is measured in one run
// whatever the machine's speed, after checking that both answer byte for
// byte the same. It reports the ratio, the time of a scrape of ours and its
// sailpoint_ series, and returns ours' answer.
func Compare(b *testing.B, ours prometheus.Gatherer, floor Prebuilt) string {
	b.Helper()
	floorReg := prometheus.NewRegistry()
	floorReg.MustRegister(floor)
	oursH := promhttp.HandlerFor(ours, promhttp.HandlerOpts{})
	floorH := promhttp.HandlerFor(floorReg, promhttp.HandlerOpts{})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/metrics", nil)
	serve := func(h http.Handler) (time.Duration, string) {
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
		return d, rec.Body.String()
	}
	_, a := serve(oursH)
	if _, f := serve(floorH); a != f {
		b.Fatal("ours and the floor answer differently")
	}
	var tOurs, tFloor time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d, _ := serve(oursH)
		tOurs += d
		d, _ = serve(floorH)
		tFloor += d
	}
	b.ReportMetric(float64(tOurs)/float64(tFloor), "ratio")
	b.ReportMetric(float64(tOurs.Microseconds())/float64(b.N), "µs/scrape")
	b.ReportMetric(float64(strings.Count(a, "\nsailpoint_")), "series")
	return a
}
