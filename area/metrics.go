package area

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Sample is one series of a metric about to be built: its label values in
// the order of the Desc's label names, its value, and optionally the
// exemplar of a counter.
type Sample struct {
	Labels []string
	Value  float64
	Ex     *Exemplar
}

// Exemplar is the latest record counted into a failure series: from an alert
// to the record in ISC, without an id as a label.
type Exemplar struct {
	Label string // the exemplar's label name: activity_id, task_id
	ID    string
	At    time.Time
}

// An exemplar's labels may hold 128 characters in all (OpenMetrics); ISC's
// ids have 32. A longer id is left out rather than cut.
const maxExemplarRunes = 128

// ConstMetrics builds samples as const metrics of desc, in the order the
// registry sorts them in on every scrape (by label values taken in the order
// of label names, given as names), so that its sort finds its work done: a
// large share of a scrape's cost otherwise.
func ConstMetrics(desc *prometheus.Desc, vt prometheus.ValueType, samples []Sample, names ...string) []prometheus.Metric {
	SortSamples(samples, names...)
	out := make([]prometheus.Metric, 0, len(samples))
	for _, s := range samples {
		m := prometheus.MustNewConstMetric(desc, vt, s.Value, s.Labels...)
		if s.Ex != nil && vt == prometheus.CounterValue && len(s.Ex.Label)+len(s.Ex.ID) <= maxExemplarRunes {
			m = WithExemplar(m, s.Ex)
		}
		out = append(out, m)
	}
	return out
}

// SortSamples sorts samples by label values taken in the order of names.
func SortSamples(samples []Sample, names ...string) {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	slices.SortFunc(samples, func(a, b Sample) int {
		for _, i := range order {
			if c := strings.Compare(a.Labels[i], b.Labels[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// WithExemplar returns counter m with ex as its exemplar. The dto is built
// here, once, and only read by scrapes: client_golang's own wrapper writes
// the exemplar into the const metric's shared dto on every scrape, a data
// race between concurrent scrapes.
func WithExemplar(m prometheus.Metric, ex *Exemplar) prometheus.Metric {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		panic(err) // a const metric just built
	}
	pb.Counter = &dto.Counter{
		Value:            pb.Counter.Value,
		CreatedTimestamp: pb.Counter.CreatedTimestamp,
		Exemplar: &dto.Exemplar{
			Label:     []*dto.LabelPair{{Name: proto.String(ex.Label), Value: proto.String(ex.ID)}},
			Value:     proto.Float64(1),
			Timestamp: timestamppb.New(ex.At),
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

// Write hands out a copy of the label slice: a wrapping registerer (a
// tenant's label) appends to it, which must not touch the shared one.
func (m builtMetric) Write(out *dto.Metric) error {
	out.Label, out.Counter = slices.Clone(m.pb.Label), m.pb.Counter
	return nil
}
