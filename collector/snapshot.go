package collector

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
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

// An exemplar's labels may hold 128 characters in all (OpenMetrics); ISC's
// ids have 32.
const (
	exemplarLabel = "activity_id"
	maxExemplarID = 128 - len(exemplarLabel)
)

type sample struct {
	labels []string
	value  float64
	ex     *exemplar
}

// metrics builds the tracker's aggregates as const metrics.
func (t *tracker) metrics(d *descs) []prometheus.Metric {
	l := t.labels
	var activities, items, completed, itemsCompleted, errs, warnings, oldest, overflow []sample
	for k, v := range t.activities {
		activities = append(activities, sample{labels: []string{l.typ.name(k[0]), l.completion.name(k[1]), l.execution.name(k[2])}, value: float64(v)})
	}
	for k, v := range t.items {
		items = append(items, sample{labels: []string{l.typ.name(k[0]), l.provisioning.name(k[1]), l.operation.name(k[2])}, value: float64(v)})
	}
	for k, v := range t.completed {
		s := sample{labels: []string{l.typ.name(k[0]), l.completion.name(k[1]), l.execution.name(k[2])}, value: float64(v)}
		if ex, ok := t.exemplars[k]; ok {
			s.ex = &ex
		}
		completed = append(completed, s)
	}
	for k, v := range t.itemsCompleted {
		s := sample{labels: []string{l.typ.name(k[0]), l.provisioning.name(k[1]), l.operation.name(k[2]), l.source.name(k[3])}, value: float64(v)}
		if ex, ok := t.itemExemplars[k]; ok {
			s.ex = &ex
		}
		itemsCompleted = append(itemsCompleted, s)
	}
	for k, v := range t.errors {
		errs = append(errs, sample{labels: []string{l.typ.name(k)}, value: float64(v)})
	}
	for k, v := range t.warnings {
		warnings = append(warnings, sample{labels: []string{l.typ.name(k)}, value: float64(v)})
	}
	for k, v := range t.oldest {
		oldest = append(oldest, sample{labels: []string{l.typ.name(k)}, value: float64(v) / 1000})
	}
	for k, v := range t.overflow {
		overflow = append(overflow, sample{labels: []string{k}, value: float64(v)})
	}
	var rejected, truncated []sample
	for k, v := range t.rejected {
		rejected = append(rejected, sample{labels: []string{k}, value: float64(v)})
	}
	for i, name := range []string{lType, lCompletion, lExecution, lProvisioning, lOperation, lSource} {
		truncated = append(truncated, sample{labels: []string{name}, value: float64(t.labels.all()[i].truncated)})
	}

	out := []prometheus.Metric{prometheus.MustNewConstMetric(d.tracked, prometheus.GaugeValue, float64(t.entries.len()))}
	emit := func(desc *prometheus.Desc, vt prometheus.ValueType, samples []sample, names ...string) {
		sortSamples(samples, names...)
		for _, s := range samples {
			m := prometheus.MustNewConstMetric(desc, vt, s.value, s.labels...)
			if s.ex != nil && len(s.ex.id) <= maxExemplarID {
				m = withExemplar(m, s.ex)
			}
			out = append(out, m)
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
	emit(d.rejected, prometheus.CounterValue, rejected, "reason")
	emit(d.truncated, prometheus.CounterValue, truncated, "label")

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

// withExemplar returns counter m with ex as its exemplar. The dto is built
// here, once, and only read by scrapes: client_golang's own wrapper writes
// the exemplar into the const metric's shared dto on every scrape, a data
// race between concurrent scrapes.
func withExemplar(m prometheus.Metric, ex *exemplar) prometheus.Metric {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		panic(err) // a const metric we just built
	}
	pb.Counter = &dto.Counter{
		Value:            pb.Counter.Value,
		CreatedTimestamp: pb.Counter.CreatedTimestamp,
		Exemplar: &dto.Exemplar{
			Label:     []*dto.LabelPair{{Name: proto.String(exemplarLabel), Value: proto.String(ex.id)}},
			Value:     proto.Float64(1),
			Timestamp: timestamppb.New(time.UnixMilli(ex.at)),
		},
	}
	return builtMetric{desc: m.Desc(), pb: &pb}
}

// builtMetric is a metric whose dto was built at publication.
type builtMetric struct {
	desc *prometheus.Desc
	pb   *dto.Metric
}

func (m builtMetric) Desc() *prometheus.Desc { return m.desc }

func (m builtMetric) Write(out *dto.Metric) error {
	out.Label, out.Counter = m.pb.Label, m.pb.Counter
	return nil
}
