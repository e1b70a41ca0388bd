package client

import (
	"bytes"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// BenchmarkDecodePage decodes one list page of 250 realistic activities of
// about 3.5 KB each, as ISC sends them.
func BenchmarkDecodePage(b *testing.B) {
	tenant := simtest.New(simtenant.Config{Seed: 1})
	tenant.SeedHistory(250, time.Hour)
	pages, err := tenant.Pages(250, 3500)
	if err != nil {
		b.Fatal(err)
	}
	body := pages[0]
	d := newPageDecoder()
	var res listResult
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err = d.decodeList(bytes.NewReader(body), int64(len(body)), &res)
		if err != nil || len(res.activities) != 250 {
			b.Fatalf("decoded %d: %v", len(res.activities), err)
		}
	}
	b.ReportMetric(float64(250*b.N)/b.Elapsed().Seconds(), "activities/s")
}
