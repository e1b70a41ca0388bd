// Package collector turns ISC's account activities into Prometheus metrics:
// the counting rule (rule.go), the Refresher that feeds it from ISC and
// publishes what it counted, and the Collector that serves the last
// publication to scrapes.
package collector

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "sailpoint"

// Label names.
const (
	lType         = "type"
	lCompletion   = "completion_status"
	lExecution    = "execution_status"
	lProvisioning = "provisioning_status"
	lOperation    = "operation"
	lSource       = "source_id"
)

// descs are the metrics a snapshot holds.
type descs struct {
	up, lastSuccess, refreshDuration, tracked           *prometheus.Desc
	activities, items, completed, itemsCompleted        *prometheus.Desc
	errors, warnings, durations, oldestIncomplete, over *prometheus.Desc
	rejected, truncated                                 *prometheus.Desc
}

func newDescs() *descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &descs{
		up: d("up",
			"1 if the last refresh from ISC got every answer it asked for, 0 if it failed; the other metrics then keep their last known values."),
		lastSuccess: d("last_refresh_success_timestamp_seconds",
			"Unix time at which a refresh last caught up with ISC."),
		refreshDuration: d("refresh_duration_seconds",
			"How long the last refresh took."),
		tracked: d("tracked_activities",
			"Account activities held in memory: created within the lookback, incomplete, or completed within the lookback."),
		activities: d("account_activities",
			"Account activities created within the lookback window, by current state (cached from the last refresh).",
			lType, lCompletion, lExecution),
		items: d("account_activity_items",
			"Items of account activities created within the lookback window, by current state (cached from the last refresh).",
			lType, lProvisioning, lOperation),
		completed: d("account_activities_completed_total",
			"Account activities seen reaching a terminal state since counting started, each counted once; a FAILURE series carries the latest failed activity's id as an exemplar.",
			lType, lCompletion, lExecution),
		itemsCompleted: d("account_activity_items_completed_total",
			"Items of completed account activities, with the item's provisioning status when the activity completed; a FAILED series carries the latest failed activity's id as an exemplar.",
			lType, lProvisioning, lOperation, lSource),
		errors: d("account_activity_errors_total",
			"Error messages on completed account activities.",
			lType),
		warnings: d("account_activity_warnings_total",
			"Warning messages on completed account activities.",
			lType),
		durations: d("account_activity_duration_seconds",
			"Time from creation to completion of completed account activities.",
			lType, lCompletion),
		oldestIncomplete: d("account_activity_oldest_incomplete_created_timestamp_seconds",
			"Creation time of the oldest account activity not yet terminal, of any age, among those the exporter has seen.",
			lType),
		over: d("label_overflow_total",
			"Counted activities or items whose label value was reported as \"other\" because the label's cap of distinct values was reached.",
			"label"),
		rejected: d("activities_rejected_total",
			"Records ISC sent that are not account activities the exporter can use, each counted once, by reason; the records around them are counted as usual.",
			"reason"),
		truncated: d("label_values_truncated_total",
			"Distinct label values longer than 128 bytes, cut to that length.",
			"label"),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.up, d.lastSuccess, d.refreshDuration, d.tracked,
		d.activities, d.items, d.completed, d.itemsCompleted,
		d.errors, d.warnings, d.durations, d.oldestIncomplete, d.over,
		d.rejected, d.truncated,
	}
}

// Collector is the prometheus.Collector of the activity metrics. It holds
// only the last published snapshot, whose metrics were built when it was
// published: a scrape sends them as they are, never waits for a refresh and
// takes no lock.
type Collector struct {
	descs   *descs
	current atomic.Pointer[snapshot]
}

func newCollector(d *descs) *Collector {
	c := &Collector{descs: d}
	c.current.Store(&snapshot{})
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs.all() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.current.Load()
	for _, m := range s.status {
		ch <- m
	}
	for _, m := range s.data {
		ch <- m
	}
}

// markDown republishes the current snapshot with sailpoint_up 0, for the
// watchdog; it reports whether up was 1.
func (c *Collector) markDown() bool {
	for {
		old := c.current.Load()
		if !old.refresh.up {
			return false
		}
		s := *old
		s.refresh.up = false
		s.status = s.refresh.metrics(c.descs)
		if c.current.CompareAndSwap(old, &s) {
			return true
		}
	}
}
