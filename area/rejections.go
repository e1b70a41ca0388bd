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

// SharedCounter is a counter family of one label that several areas add
// to: sailpoint_activities_rejected_total by reason, for instance, counts
// the activities and the aggregation tasks ISC sent that the exporter cannot
// use. Each area hands it the counts it last published, so the sum never
// runs ahead of any area's state file, and never goes down.
type SharedCounter struct {
	desc    *prometheus.Desc
	sources []*atomic.Pointer[map[string]uint64]
}

// NewSharedCounter returns the counter family name of one label, with no
// area yet.
func NewSharedCounter(name, help, label string, constLabels prometheus.Labels) *SharedCounter {
	return &SharedCounter{desc: prometheus.NewDesc(name, help, []string{label}, constLabels)}
}

// Source adds an area and returns where it publishes its counts.
func (c *SharedCounter) Source() *atomic.Pointer[map[string]uint64] {
	p := &atomic.Pointer[map[string]uint64]{}
	c.sources = append(c.sources, p)
	return p
}

// Describe implements prometheus.Collector.
func (c *SharedCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *SharedCounter) Collect(ch chan<- prometheus.Metric) {
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

// Shared are the counter families every area that reads records adds to.
type Shared struct {
	Rejected, Overflow, Truncated *SharedCounter
}

// NewShared returns the shared families, with no area yet.
func NewShared(constLabels prometheus.Labels) *Shared {
	return &Shared{
		Rejected: NewSharedCounter("sailpoint_activities_rejected_total",
			"Records ISC sent that the exporter cannot use (account activities, aggregation tasks), each counted once, by reason; the records around them are counted as usual.",
			"reason", constLabels),
		Overflow: NewSharedCounter("sailpoint_label_overflow_total",
			"Counted activities, items or aggregations whose label value was reported as \"other\" because the label's cap of distinct values was reached.",
			"label", constLabels),
		Truncated: NewSharedCounter("sailpoint_label_values_truncated_total",
			"Distinct label values longer than 128 bytes, cut to that length.",
			"label", constLabels),
	}
}

// Collector is what to register: the three families.
func (s *Shared) Collector() prometheus.Collector {
	return Collectors{s.Rejected, s.Overflow, s.Truncated}
}

// SharedSource is where one area publishes its part of the shared families.
type SharedSource struct {
	rejected, overflow, truncated *atomic.Pointer[map[string]uint64]
}

// Source adds an area.
func (s *Shared) Source() SharedSource {
	return SharedSource{s.Rejected.Source(), s.Overflow.Source(), s.Truncated.Source()}
}

// Publish hands the area's counts over; the maps must not change afterwards.
func (s SharedSource) Publish(rejected, overflow, truncated map[string]uint64) {
	s.rejected.Store(&rejected)
	s.overflow.Store(&overflow)
	s.truncated.Store(&truncated)
}
