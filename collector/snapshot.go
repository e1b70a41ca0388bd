package collector

import (
	"slices"
	"strings"
	"time"
)

// snapshot is what one scrape reports: the tracker's aggregates with label
// values resolved, built after a refresh and never changed afterwards, so
// scrapes read it without locks and its size follows the number of series,
// not of activities.
type snapshot struct {
	up              bool
	lastSuccess     time.Time // zero before the first successful refresh
	refreshDuration time.Duration
	refreshed       bool // a refresh has ended, successfully or not
	tracked         int

	activities     []sample
	items          []sample
	completed      []sample
	itemsCompleted []sample
	errors         []sample
	warnings       []sample
	oldest         []sample
	overflow       []sample
	durations      []histogramSample
	buckets        []float64
}

type sample struct {
	labels []string
	value  float64
}

type histogramSample struct {
	labels  []string
	count   uint64
	sum     float64
	buckets map[float64]uint64 // cumulative, as Prometheus wants them
}

// snapshot resolves the tracker's aggregates into a new snapshot.
func (t *tracker) snapshot() *snapshot {
	l := t.labels
	s := &snapshot{tracked: t.entries.len(), buckets: t.buckets}
	for k, v := range t.activities {
		s.activities = append(s.activities, sample{[]string{l.typ.name(k[0]), l.completion.name(k[1]), l.execution.name(k[2])}, float64(v)})
	}
	for k, v := range t.items {
		s.items = append(s.items, sample{[]string{l.typ.name(k[0]), l.provisioning.name(k[1]), l.operation.name(k[2])}, float64(v)})
	}
	for k, v := range t.completed {
		s.completed = append(s.completed, sample{[]string{l.typ.name(k[0]), l.completion.name(k[1]), l.execution.name(k[2])}, float64(v)})
	}
	for k, v := range t.itemsCompleted {
		s.itemsCompleted = append(s.itemsCompleted, sample{[]string{l.typ.name(k[0]), l.provisioning.name(k[1]), l.operation.name(k[2]), l.source.name(k[3])}, float64(v)})
	}
	for k, v := range t.errors {
		s.errors = append(s.errors, sample{[]string{l.typ.name(k)}, float64(v)})
	}
	for k, v := range t.warnings {
		s.warnings = append(s.warnings, sample{[]string{l.typ.name(k)}, float64(v)})
	}
	for k, v := range t.oldest {
		s.oldest = append(s.oldest, sample{[]string{l.typ.name(k)}, float64(v) / 1000})
	}
	for k, v := range t.overflow {
		s.overflow = append(s.overflow, sample{[]string{k}, float64(v)})
	}
	for k, h := range t.durations {
		cumulative := make(map[float64]uint64, len(t.buckets))
		var running uint64
		for i, le := range t.buckets {
			running += h.buckets[i]
			cumulative[le] = running
		}
		s.durations = append(s.durations, histogramSample{[]string{l.typ.name(k[0]), l.completion.name(k[1])}, h.count, h.sum, cumulative})
	}
	sortSamples(s.activities, lType, lCompletion, lExecution)
	sortSamples(s.items, lType, lProvisioning, lOperation)
	sortSamples(s.completed, lType, lCompletion, lExecution)
	sortSamples(s.itemsCompleted, lType, lProvisioning, lOperation, lSource)
	return s
}

// sortSamples puts samples in the order the registry sorts them in on every
// scrape, by label values taken in the order of label names, so that sort
// finds its work done: a large share of a scrape's cost otherwise.
func sortSamples(samples []sample, names ...string) {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	slices.SortFunc(samples, func(a, b sample) int {
		for _, i := range order {
			if c := strings.Compare(a.labels[i], b.labels[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}
