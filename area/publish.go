package area

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status is how an area's refreshes have gone.
type Status struct {
	Up bool
	// LastSuccess is when a refresh's values were last published: zero
	// before the first. A refresh whose values are held back does not move
	// it, so that a staleness alert sees values that do not move.
	LastSuccess time.Time
	Duration    time.Duration // of the last refresh
	Refreshed   bool          // a refresh has ended, successfully or not
	// HeldBack is set while the values read cannot be published because the
	// state file cannot be written (a full volume, say).
	HeldBack bool
}

// StatusDescs are the metrics that say an area's Status; a nil one is not
// exported.
type StatusDescs struct {
	Up, LastSuccess, Duration, HeldBack *prometheus.Desc
}

func (d StatusDescs) metrics(st Status) []prometheus.Metric {
	var out []prometheus.Metric
	if d.Up != nil {
		out = append(out, prometheus.MustNewConstMetric(d.Up, prometheus.GaugeValue, Bool(st.Up)))
	}
	if d.LastSuccess != nil && !st.LastSuccess.IsZero() {
		out = append(out, prometheus.MustNewConstMetric(d.LastSuccess, prometheus.GaugeValue, Seconds(st.LastSuccess)))
	}
	if d.Duration != nil && st.Refreshed {
		out = append(out, prometheus.MustNewConstMetric(d.Duration, prometheus.GaugeValue, st.Duration.Seconds()))
	}
	if d.HeldBack != nil {
		out = append(out, prometheus.MustNewConstMetric(d.HeldBack, prometheus.GaugeValue, Bool(st.HeldBack)))
	}
	return out
}

// Snapshot is what scrapes of an area report: metrics built once, when it
// was published, and never changed afterwards.
type Snapshot struct {
	Status Status
	status []prometheus.Metric
	Data   []prometheus.Metric
}

// Publisher is an area's prometheus.Collector. It holds only the last
// published snapshot: a scrape sends its metrics as they were built, never
// waits for a refresh and takes no lock.
type Publisher struct {
	status StatusDescs
	descs  []*prometheus.Desc
	cur    atomic.Pointer[Snapshot]
}

// NewPublisher returns a Publisher of the status metrics and the data
// metrics of descs, with nothing published yet: it serves nothing until the
// first Publish.
func NewPublisher(status StatusDescs, data ...*prometheus.Desc) *Publisher {
	p := &Publisher{status: status, descs: data}
	p.cur.Store(&Snapshot{})
	return p
}

// Publish swaps in a snapshot of st and data.
func (p *Publisher) Publish(st Status, data []prometheus.Metric) {
	p.cur.Store(&Snapshot{Status: st, status: p.status.metrics(st), Data: data})
}

// PublishStatus swaps in a snapshot of st that keeps the last data: what a
// refresh does whose values cannot be published (ISC failed, the state file
// could not be written).
func (p *Publisher) PublishStatus(st Status) {
	p.Publish(st, p.cur.Load().Data)
}

// Persist is every area's step between reading and publishing: persist
// before publish. Under mu it runs sweep (the tracker forgets what left
// the lookback) and, when the refresh succeeded, moves st's last success
// to now; then it writes the state file (w, nil for none). If the write
// fails it takes the last success back, marks the values held back,
// publishes that status alone and returns false: the caller must not
// publish what it read, since a value served ahead of the file would go
// back after a kill and restart (a counter going down reads as a reset),
// and a last success that does not move is what a staleness alert sees.
func (p *Publisher) Persist(mu *sync.Mutex, st *Status, w interface{ Write() error }, succeeded bool, now func() time.Time, sweep func()) bool {
	mu.Lock()
	sweep()
	prev := st.LastSuccess
	if succeeded {
		st.LastSuccess = now()
	}
	mu.Unlock()
	if err := w.Write(); err != nil {
		mu.Lock()
		st.LastSuccess = prev
		mu.Unlock()
		st.HeldBack = true
		p.PublishStatus(*st)
		return false
	}
	st.HeldBack = false
	return true
}

// Current is the last published snapshot.
func (p *Publisher) Current() *Snapshot { return p.cur.Load() }

// MarkDown republishes the current snapshot with up 0, for a watchdog that
// knows the refresh in flight will fail; it reports whether up was 1.
func (p *Publisher) MarkDown() bool {
	for {
		old := p.cur.Load()
		if !old.Status.Up {
			return false
		}
		s := *old
		s.Status.Up = false
		s.status = p.status.metrics(s.Status)
		if p.cur.CompareAndSwap(old, &s) {
			return true
		}
	}
}

// Describe implements prometheus.Collector.
func (p *Publisher) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.status.Up, p.status.LastSuccess, p.status.Duration, p.status.HeldBack} {
		if d != nil {
			ch <- d
		}
	}
	for _, d := range p.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (p *Publisher) Collect(ch chan<- prometheus.Metric) {
	s := p.cur.Load()
	for _, m := range s.status {
		ch <- m
	}
	for _, m := range s.Data {
		ch <- m
	}
}

// Bool is a gauge's value of b.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Seconds is t as a Unix time in seconds, to the millisecond.
func Seconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// Collectors is several collectors registered as one.
type Collectors []prometheus.Collector

// Describe implements prometheus.Collector.
func (cs Collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (cs Collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
