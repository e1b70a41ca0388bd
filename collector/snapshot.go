package collector

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// snapshot is what scrapes report: metrics built once, when the snapshot is
// published, and never changed afterwards. Its size follows the number of
// series, not of activities.
type snapshot struct {
	refresh refreshStatus
	tracked int
	// status are the few metrics that describe the refreshes, data the
	// tracker's aggregates.
	status []prometheus.Metric
	data   []prometheus.Metric
}

// refreshStatus is how the refreshes have gone.
type refreshStatus struct {
	up          bool
	lastSuccess time.Time // zero before the first successful refresh
	duration    time.Duration
	refreshed   bool // a refresh has ended, successfully or not
}

func (st refreshStatus) metrics(d *descs) []prometheus.Metric {
	up := 0.0
	if st.up {
		up = 1
	}
	out := []prometheus.Metric{prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up)}
	if !st.lastSuccess.IsZero() {
		out = append(out, prometheus.MustNewConstMetric(d.lastSuccess, prometheus.GaugeValue, float64(st.lastSuccess.UnixMilli())/1000))
	}
	if st.refreshed {
		out = append(out, prometheus.MustNewConstMetric(d.refreshDuration, prometheus.GaugeValue, st.duration.Seconds()))
	}
	return out
}

type sample struct {
	labels []string
	value  float64
}

// metrics builds the tracker's aggregates as const metrics.
func (t *tracker) metrics(d *descs) []prometheus.Metric {
	l := t.labels
	var activities, items, completed, itemsCompleted, errs, warnings, oldest, overflow []sample
	for k, v := range t.activities {
		activities = append(activities, sample{[]string{l.typ.name(k[0]), l.completion.name(k[1]), l.execution.name(k[2])}, float64(v)})
	}
	for k, v := range t.items {
		items = append(items, sample{[]string{l.typ.name(k[0]), l.provisioning.name(k[1]), l.operation.name(k[2])}, float64(v)})
	}
	for k, v := range t.completed {
		completed = append(completed, sample{[]string{l.typ.name(k[0]), l.completion.name(k[1]), l.execution.name(k[2])}, float64(v)})
	}
	for k, v := range t.itemsCompleted {
		itemsCompleted = append(itemsCompleted, sample{[]string{l.typ.name(k[0]), l.provisioning.name(k[1]), l.operation.name(k[2]), l.source.name(k[3])}, float64(v)})
	}
	for k, v := range t.errors {
		errs = append(errs, sample{[]string{l.typ.name(k)}, float64(v)})
	}
	for k, v := range t.warnings {
		warnings = append(warnings, sample{[]string{l.typ.name(k)}, float64(v)})
	}
	for k, v := range t.oldest {
		oldest = append(oldest, sample{[]string{l.typ.name(k)}, float64(v) / 1000})
	}
	for k, v := range t.overflow {
		overflow = append(overflow, sample{[]string{k}, float64(v)})
	}

	out := []prometheus.Metric{prometheus.MustNewConstMetric(d.tracked, prometheus.GaugeValue, float64(t.entries.len()))}
	emit := func(desc *prometheus.Desc, vt prometheus.ValueType, samples []sample, names ...string) {
		sortSamples(samples, names...)
		for _, s := range samples {
			out = append(out, prometheus.MustNewConstMetric(desc, vt, s.value, s.labels...))
		}
	}
	emit(d.activities, prometheus.GaugeValue, activities, lType, lCompletion, lExecution)
	emit(d.items, prometheus.GaugeValue, items, lType, lProvisioning, lOperation)
	emit(d.completed, prometheus.CounterValue, completed, lType, lCompletion, lExecution)
	emit(d.itemsCompleted, prometheus.CounterValue, itemsCompleted, lType, lProvisioning, lOperation, lSource)
	emit(d.errors, prometheus.CounterValue, errs, lType)
	emit(d.warnings, prometheus.CounterValue, warnings, lType)
	emit(d.oldestIncomplete, prometheus.GaugeValue, oldest, lType)
	emit(d.over, prometheus.CounterValue, overflow, "label")

	type histogram struct {
		labels []string
		h      *durationHistogram
	}
	var hs []histogram
	for k, h := range t.durations {
		hs = append(hs, histogram{[]string{l.typ.name(k[0]), l.completion.name(k[1])}, h})
	}
	slices.SortFunc(hs, func(a, b histogram) int { return slices.Compare(a.labels, b.labels) })
	for _, h := range hs {
		cumulative := make(map[float64]uint64, len(t.buckets))
		var running uint64
		for i, le := range t.buckets {
			running += h.h.buckets[i]
			cumulative[le] = running
		}
		out = append(out, prometheus.MustNewConstHistogram(d.durations, h.h.count, h.h.sum, cumulative, h.labels...))
	}
	return out
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
