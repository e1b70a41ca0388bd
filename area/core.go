package area

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Core is what every counting area's Refresher holds besides its own rule
// and model: its logger and clocks, the publisher of its snapshot, the
// runner of its refresh, the collector it registers and its part of the
// shared counters. NewCore builds it the same way for every area.
type Core struct {
	Logger *slog.Logger
	// Now is the host's clock, ISCNow ISC's (see Wiring).
	Now, ISCNow func() time.Time
	Publisher   *Publisher
	Runner      *Runner
	// Collector is what the area registers: its publisher, the collectors
	// of its own, and the shared families when the wiring had none to add to.
	Collector prometheus.Collector
	Shared    SharedSource
}

// NewCore builds the Core of an area from its wiring, defaults filled
// (DefaultWiring): the publisher of status and data, the runner of refresh,
// and own, the area's collectors besides its publisher. A wiring without
// Shared gets families of the area's own, set in w and served by Collector.
func NewCore(w *Wiring, status StatusDescs, data []*prometheus.Desc, refresh func(context.Context) error, own ...prometheus.Collector) Core {
	c := Core{Logger: w.Logger, Now: w.Now, ISCNow: w.ISCNow, Publisher: NewPublisher(status, data...), Runner: NewRunner(refresh)}
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
