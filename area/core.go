package area

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
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
}

// NewCore builds the Core of an area from its wiring: the publisher of status and data, the runner of refresh,
// and own, the area's collectors besides its publisher. A wiring without
// Shared gets families of the area's own, set in w and served by Collector.
func NewCore(w *Wiring, status StatusDescs, data []*prometheus.Desc, refresh func(context.Context) error, own ...prometheus.Collector) Core {
	c := Core{Publisher: NewPublisher(status, data...), Runner: NewRunner(refresh)}
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
