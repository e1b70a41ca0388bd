package aggregations

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// synthetic tracks n tasks of 256 sources, both types, created over the
// last week as hourly aggregations are, nearly all finished.
func synthetic(t *tracker, n int, now time.Time) {
	statuses := []string{"SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS", "WARNING", "ERROR"}
	for i := range n {
		created := now.Add(-time.Duration(i) * (7 * 24 * time.Hour) / time.Duration(n))
		tk := client.Task{ID: fmt.Sprintf("%032x", i), SourceID: fmt.Sprintf("%032x", 1<<40+i%256), Created: created, Launched: created.Add(time.Second)}
		if i%500 != 0 {
			tk.CompletionStatus, tk.Completed, tk.Modified = statuses[i%len(statuses)], created.Add(3*time.Minute), created.Add(3*time.Minute)
		}
		t.apply(&tk, DefaultTypes[i%2])
	}
}

// BenchmarkTrackedTaskBytes measures the heap that one tracked task costs:
// a week of hourly aggregations of 256 sources, both types, is 86,016.
func BenchmarkTrackedTaskBytes(b *testing.B) {
	const n = 86_016
	for b.Loop() {
		now := time.Now()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t := newTracker(DefaultLookback, DefaultTypes, 256, func() time.Time { return now }, nil)
		synthetic(t, n, now)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if t.tasks.Len() != n {
			b.Fatalf("tracked %d, want %d", t.tasks.Len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/task")
		runtime.KeepAlive(t)
	}
}

// BenchmarkTaskStateSection measures the aggregations' part of a state
// write at a week of 256 sources: its size per task and the time to encode.
func BenchmarkTaskStateSection(b *testing.B) {
	const n = 86_016
	now := time.Now()
	r := NewRefresher(nil, Options{Wiring: area.Wiring{Now: func() time.Time { return now }}})
	synthetic(r.tracker, n, now)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		size = 0
		e := state.NewEncoder(func(p []byte) error { size += len(p); return nil })
		if err := r.EncodeState(e); err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/n, "B/task")
}
