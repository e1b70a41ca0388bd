package area

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Histogram counts the observations of one series per bucket, not
// cumulatively, so that a state file can keep it as it is.
type Histogram struct {
	Buckets []uint64 // one per bound of the area's bounds
	Count   uint64
	Sum     float64
}

// NewHistogram returns an empty histogram of n bounds.
func NewHistogram(n int) *Histogram { return &Histogram{Buckets: make([]uint64, n)} }

// Observe adds v; an observation above the last bound counts only in Count
// and Sum (the +Inf bucket).
func (h *Histogram) Observe(bounds []float64, v float64) {
	for i, le := range bounds {
		if v <= le {
			h.Buckets[i]++
			break
		}
	}
	h.Count++
	h.Sum += v
}

// Metric builds the const histogram of desc with the label values.
func (h *Histogram) Metric(desc *prometheus.Desc, bounds []float64, labels ...string) prometheus.Metric {
	cumulative := make(map[float64]uint64, len(bounds))
	var running uint64
	for i, le := range bounds {
		running += h.Buckets[i]
		cumulative[le] = running
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum, cumulative, labels...)
}

// EncodeState writes h.
func (h *Histogram) EncodeState(e *state.Encoder) {
	e.U64(h.Count)
	e.F64(h.Sum)
	for _, b := range h.Buckets {
		e.U64(b)
	}
}

// DecodeHistogram reads a histogram of n bounds written by EncodeState.
func DecodeHistogram(d *state.Decoder, n int) *Histogram {
	h := &Histogram{Count: d.U64(), Sum: d.F64(), Buckets: make([]uint64, n)}
	for i := range h.Buckets {
		h.Buckets[i] = d.U64()
	}
	return h
}

// EncodeBounds writes an area's bucket bounds, so that a file of another
// version's buckets is told apart.
func EncodeBounds(e *state.Encoder, bounds []float64) {
	e.N(len(bounds))
	for _, le := range bounds {
		e.F64(le)
	}
}

// DecodeBounds reads the bounds and fails d unless they are want.
func DecodeBounds(d *state.Decoder, want []float64) {
	n := d.N()
	same := n == len(want)
	for i := range n {
		if le := d.F64(); same && le != want[i] {
			same = false
		}
	}
	if d.Err() == nil && !same {
		d.Fail("histogram buckets differ from this version's")
	}
}

// EncodeHistograms writes the bounds and every histogram of hs, each by
// its key of two label indexes: the duration histograms of every area.
func EncodeHistograms[K ~[2]uint16](e *state.Encoder, bounds []float64, hs map[K]*Histogram) {
	EncodeBounds(e, bounds)
	e.N(len(hs))
	for k, h := range hs {
		e.U16(k[0])
		e.U16(k[1])
		h.EncodeState(e)
	}
}

// DecodeHistograms reads what EncodeHistograms wrote into hs, failing d
// unless the bounds are these and each key's indexes are below n0 and n1,
// the lengths of the two labels' value tables.
func DecodeHistograms[K ~[2]uint16](d *state.Decoder, bounds []float64, hs map[K]*Histogram, n0, n1 int) {
	DecodeBounds(d, bounds)
	for range d.N() {
		if d.Err() != nil {
			return
		}
		k := K{d.Index(n0), d.Index(n1)}
		hs[k] = DecodeHistogram(d, len(bounds))
	}
}

// HistogramMetrics builds the const histograms of hs, one per key, whose
// label values labels gives, in the order the registry sorts them in.
func HistogramMetrics[K comparable](desc *prometheus.Desc, bounds []float64, hs map[K]*Histogram, labels func(K) []string) []prometheus.Metric {
	type series struct {
		labels []string
		h      *Histogram
	}
	all := make([]series, 0, len(hs))
	for k, h := range hs {
		all = append(all, series{labels(k), h})
	}
	slices.SortFunc(all, func(a, b series) int { return slices.Compare(a.labels, b.labels) })
	out := make([]prometheus.Metric, 0, len(all))
	for _, s := range all {
		out = append(out, s.h.Metric(desc, bounds, s.labels...))
	}
	return out
}
