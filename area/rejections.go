package area

import (
	"maps"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Rejections counts the records ISC sent that an area cannot use, each
// once by reason however often it is read again, and remembers their keys
// for as long as ISC may send them again.
type Rejections struct {
	Counts  map[string]uint64 // by reason
	Seen    map[string]int64  // keys of rejected records, with when they were first seen (unix ms)
	maxSeen int
}

// NewRejections counts reasons from zero; maxSeen bounds the memory of keys
// (past it, a record rejected again may be counted again).
func NewRejections(reasons []string, maxSeen int) *Rejections {
	r := &Rejections{Counts: map[string]uint64{}, Seen: map[string]int64{}, maxSeen: maxSeen}
	for _, reason := range reasons {
		r.Counts[reason] = 0
	}
	return r
}

// Add counts a rejected record of key once; it reports whether it was new.
func (r *Rejections) Add(key, reason string, now int64) bool {
	if _, seen := r.Seen[key]; seen {
		return false
	}
	if len(r.Seen) < r.maxSeen {
		r.Seen[key] = now
	}
	r.Counts[reason]++
	return true
}

// Forget drops the keys first seen before t: ISC sends nothing that old.
func (r *Rejections) Forget(before int64) {
	for k, at := range r.Seen {
		if at < before {
			delete(r.Seen, k)
		}
	}
}

// Snapshot is a copy of the counts, to publish.
func (r *Rejections) Snapshot() map[string]uint64 { return maps.Clone(r.Counts) }

// EncodeState writes the counts and the keys.
func (r *Rejections) EncodeState(e *state.Encoder) {
	e.N(len(r.Counts))
	for k, v := range r.Counts {
		e.Str(k)
		e.U64(v)
	}
	e.N(len(r.Seen))
	for k, at := range r.Seen {
		e.Str(k)
		e.I64(at)
	}
}

// DecodeState reads what EncodeState wrote into r.
func (r *Rejections) DecodeState(d *state.Decoder) {
	for range d.N() {
		k := d.Str()
		r.Counts[k] = d.U64()
	}
	for range d.N() {
		k := d.Str()
		r.Seen[k] = d.I64()
	}
}

// RejectedTotal serves sailpoint_activities_rejected_total: the records ISC
// sent that the exporter cannot use, by reason, summed over the areas that
// read records (the account activities, the aggregation tasks). Each area
// hands it the counts it last published, so the sum never runs ahead of
// any area's state file.
type RejectedTotal struct {
	desc    *prometheus.Desc
	sources []*atomic.Pointer[map[string]uint64]
}

// NewRejectedTotal returns the collector, with no area yet.
func NewRejectedTotal() *RejectedTotal {
	return &RejectedTotal{desc: prometheus.NewDesc("sailpoint_activities_rejected_total",
		"Records ISC sent that the exporter cannot use (account activities, aggregation tasks), each counted once, by reason; the records around them are counted as usual.",
		[]string{"reason"}, nil)}
}

// Source adds an area and returns where it publishes its counts.
func (c *RejectedTotal) Source() *atomic.Pointer[map[string]uint64] {
	p := &atomic.Pointer[map[string]uint64]{}
	c.sources = append(c.sources, p)
	return p
}

// Describe implements prometheus.Collector.
func (c *RejectedTotal) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *RejectedTotal) Collect(ch chan<- prometheus.Metric) {
	sum := map[string]uint64{}
	for _, s := range c.sources {
		if m := s.Load(); m != nil {
			for k, v := range *m {
				sum[k] += v
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sum)) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(sum[k]), k)
	}
}
