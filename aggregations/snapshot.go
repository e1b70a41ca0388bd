package aggregations

import (
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
)

// exemplarLabel names the task an exemplar points to.
const exemplarLabel = "task_id"

// Metrics builds the tracker's aggregates as const metrics, once per
// publication (area.Counted): their number follows the sources and types,
// not the tasks.
func (t *tracker) Metrics() []prometheus.Metric {
	d := t.descs
	var completed, last, running, oldest []area.Sample
	for k, v := range t.completed {
		s := area.Sample{Labels: t.seriesLabels(k), Value: float64(v)}
		if ex, ok := t.exemplars[k]; ok {
			s.Ex = &area.Exemplar{Label: exemplarLabel, ID: ex.id, At: time.UnixMilli(ex.at)}
		}
		completed = append(completed, s)
	}
	for k, at := range t.lastFinished {
		last = append(last, area.Sample{Labels: t.seriesLabels(k), Value: float64(at) / 1000})
	}
	for k, n := range t.running {
		labels := []string{t.sources.Name(k[0]), t.types.Name(k[1])}
		running = append(running, area.Sample{Labels: labels, Value: float64(n)})
		oldest = append(oldest, area.Sample{Labels: labels, Value: float64(t.oldest[k]) / 1000})
	}
	var out []prometheus.Metric
	out = append(out, area.ConstMetrics(d.completed, prometheus.CounterValue, completed, lSource, lType, lStatus)...)
	out = append(out, area.ConstMetrics(d.lastCompleted, prometheus.GaugeValue, last, lSource, lType, lStatus)...)
	out = append(out, area.ConstMetrics(d.inProgress, prometheus.GaugeValue, running, lSource, lType)...)
	out = append(out, area.ConstMetrics(d.oldestInProgress, prometheus.GaugeValue, oldest, lSource, lType)...)

	out = append(out, area.HistogramMetrics(d.durations, t.buckets, t.durations, func(k durationKey) []string { return []string{t.types.Name(k[0]), t.statuses.Name(k[1])} })...)
	return out
}

func (t *tracker) seriesLabels(k seriesKey) []string {
	return []string{t.sources.Name(k[0]), t.types.Name(k[1]), t.statuses.Name(k[2])}
}

// SharedCounts are the tracker's rejections, overflows and truncations
// (area.Counted).
func (t *tracker) SharedCounts() (rejected, overflow, truncated map[string]uint64) {
	return t.rejections.Snapshot(), maps.Clone(t.overflow), t.truncated()
}

// truncated counts the values cut to 128 bytes, by label name.
func (t *tracker) truncated() map[string]uint64 {
	return map[string]uint64{lSource: t.sources.Truncated(), lStatus: t.statuses.Truncated()}
}
