package client

import (
	"bytes"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// BenchmarkDecodePage decodes one list page of 250 realistic activities of
// about 3.5 KB each, as ISC sends them.
func BenchmarkDecodePage(b *testing.B) {
	tenant := simtenant.New(simtenant.Config{Seed: 1})
	tenant.SeedHistory(250, time.Hour)
	pages, err := tenant.Pages(250, 3500)
	if err != nil {
		b.Fatal(err)
	}
	body := pages[0]
	d := newPageDecoder()
	var page []Activity
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		page, err = d.decodeList(bytes.NewReader(body), page)
		if err != nil || len(page) != 250 {
			b.Fatalf("decoded %d: %v", len(page), err)
		}
	}
	b.ReportMetric(float64(250*b.N)/b.Elapsed().Seconds(), "activities/s")
}
