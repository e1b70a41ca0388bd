package activities

import (
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
)

// exemplarLabel names the activity an exemplar points to.
const exemplarLabel = "activity_id"

func (ex exemplar) sample() *area.Exemplar {
	return &area.Exemplar{Label: exemplarLabel, ID: ex.id, At: time.UnixMilli(ex.at)}
}

// SharedCounts implements area.Counted.
func (t *tracker) SharedCounts() (rejected, overflow, truncated map[string]uint64) {
	return t.rejections.Snapshot(), maps.Clone(t.overflow), t.truncated()
}

// truncated counts the values cut to 128 bytes, by label name.
func (t *tracker) truncated() map[string]uint64 {
	out := map[string]uint64{}
	for i, table := range t.labels.all() {
		out[labelNames[i]] = table.Truncated()
	}
	return out
}

// Metrics builds the tracker's aggregates as const metrics, once per
// publication (area.Counted). Their number follows the number of series,
// not of activities.
func (t *tracker) Metrics() []prometheus.Metric {
	d := t.descs
	l := t.labels
	var activities, items, completed, itemsCompleted, errs, warnings, oldest []area.Sample
	for k, v := range t.activities {
		activities = append(activities, area.Sample{Labels: []string{l.typ.Name(k[0]), l.completion.Name(k[1]), l.execution.Name(k[2])}, Value: float64(v)})
	}
	for k, v := range t.items {
		items = append(items, area.Sample{Labels: []string{l.typ.Name(k[0]), l.provisioning.Name(k[1]), l.operation.Name(k[2])}, Value: float64(v)})
	}
	for k, v := range t.completed {
		s := area.Sample{Labels: []string{l.typ.Name(k[0]), l.completion.Name(k[1]), l.execution.Name(k[2])}, Value: float64(v)}
		if ex, ok := t.exemplars[k]; ok {
			s.Ex = ex.sample()
		}
		completed = append(completed, s)
	}
	for k, v := range t.itemsCompleted {
		s := area.Sample{Labels: []string{l.typ.Name(k[0]), l.provisioning.Name(k[1]), l.operation.Name(k[2]), l.source.Name(k[3])}, Value: float64(v)}
		if ex, ok := t.itemExemplars[k]; ok {
			s.Ex = ex.sample()
		}
		itemsCompleted = append(itemsCompleted, s)
	}
	for k, v := range t.errors {
		errs = append(errs, area.Sample{Labels: []string{l.typ.Name(k)}, Value: float64(v)})
	}
	for k, v := range t.warnings {
		warnings = append(warnings, area.Sample{Labels: []string{l.typ.Name(k)}, Value: float64(v)})
	}
	for k, v := range t.oldest {
		oldest = append(oldest, area.Sample{Labels: []string{l.typ.Name(k)}, Value: float64(v) / 1000})
	}

	out := []prometheus.Metric{prometheus.MustNewConstMetric(d.tracked, prometheus.GaugeValue, float64(t.entries.Len()))}
	out = append(out, area.ConstMetrics(d.activities, prometheus.GaugeValue, activities, lType, lCompletion, lExecution)...)
	out = append(out, area.ConstMetrics(d.items, prometheus.GaugeValue, items, lType, lProvisioning, lOperation)...)
	out = append(out, area.ConstMetrics(d.completed, prometheus.CounterValue, completed, lType, lCompletion, lExecution)...)
	out = append(out, area.ConstMetrics(d.itemsCompleted, prometheus.CounterValue, itemsCompleted, lType, lProvisioning, lOperation, lSource)...)
	out = append(out, area.ConstMetrics(d.errors, prometheus.CounterValue, errs, lType)...)
	out = append(out, area.ConstMetrics(d.warnings, prometheus.CounterValue, warnings, lType)...)
	out = append(out, area.ConstMetrics(d.oldestIncomplete, prometheus.GaugeValue, oldest, lType)...)

	out = append(out, area.HistogramMetrics(d.durations, t.buckets, t.durations, func(k durationKey) []string { return []string{l.typ.Name(k[0]), l.completion.Name(k[1])} })...)
	return out
}
