package area

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Core is what every counting area's Refresher builds from its Wiring
// besides its own rule and model: the publisher of its snapshot, the runner
// of its refresh, the collector it registers and its part of the shared
// counters. NewCore builds it the same way for every area; the logger and
// the clocks stay in the Wiring.
type Core struct {
	Publisher *Publisher
	Runner    *Runner
	// Collector is what the area registers: its publisher, the collectors
	// of its own, and the shared families when the wiring had none to add to.
	Collector prometheus.Collector
	Shared    SharedSource

	state *state.File      // the wiring's, nil for none
	now   func() time.Time // the host's clock: the last success
}

// Counted is an area's counting rule as its Core persists and publishes it.
type Counted interface {
	// Sweep forgets what left the lookback and brings the gauges up to
	// date; the Core calls it under the area's lock.
	Sweep()
	// Metrics are the area's data series as counted, built once per
	// publication.
	Metrics() []prometheus.Metric
	// SharedCounts are the area's parts of the shared families, in maps
	// that no longer change: rejected records by reason, label overflows
	// and truncated label values by label.
	SharedCounts() (rejected, overflow, truncated map[string]uint64)
}

// Publish is how every area publishes after reading: persist, then publish
// (Publisher.Persist says why, and what happens when the state file cannot
// be written). Under mu it sweeps counted and, when the refresh succeeded,
// moves st's last success; then it writes the state file and, once that
// holds what was counted, swaps in the snapshot of st and counted.
func (c *Core) Publish(mu *sync.Mutex, st *Status, succeeded bool, counted Counted) {
	if c.Publisher.Persist(mu, st, c.state, succeeded, c.now, counted.Sweep) {
		c.Store(*st, counted)
	}
}

// Store swaps in the snapshot of st and counted as they are, without
// writing the state file: for what was just read from it.
func (c *Core) Store(st Status, counted Counted) {
	c.Publisher.Publish(st, counted.Metrics())
	c.Shared.Publish(counted.SharedCounts())
}

// NewCore builds the Core of an area from its wiring, as DefaultWiring left
// it: the publisher of status and data, the runner of refresh, and own, the
// area's collectors besides its publisher. A wiring without Shared gets
// families of the area's own, set in w and served by Collector.
func NewCore(w *Wiring, status StatusDescs, data []*prometheus.Desc, refresh func(context.Context) error, own ...prometheus.Collector) Core {
	c := Core{Publisher: NewPublisher(status, data...), Runner: NewRunner(refresh), state: w.State, now: w.Now}
	collectors := append(Collectors{c.Publisher}, own...)
	if w.Shared == nil {
		w.Shared = NewShared(w.ConstLabels)
		collectors = append(collectors, w.Shared.Collector())
	}
	c.Shared = w.Shared.Source()
	c.Collector = collectors
	if len(collectors) == 1 {
		c.Collector = c.Publisher
	}
	return c
}
