// Package collector turns ISC's account activities into Prometheus metrics:
// the counting rule (tracker), the refresh that feeds it (Refresher), the
// immutable snapshot that scrapes read, and the prometheus.Collector.
package collector

import (
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

// descs are the metrics read from the snapshot.
type descs struct {
	up, lastSuccess, refreshDuration, tracked           *prometheus.Desc
	activities, items, completed, itemsCompleted        *prometheus.Desc
	errors, warnings, durations, oldestIncomplete, over *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return descs{
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
			"Account activities seen reaching a terminal state since the exporter started, each counted once.",
			lType, lCompletion, lExecution),
		itemsCompleted: d("account_activity_items_completed_total",
			"Items of completed account activities, with the item's provisioning status when the activity completed.",
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
	}
}

// Describe implements prometheus.Collector.
func (r *Refresher) Describe(ch chan<- *prometheus.Desc) {
	d := r.descs
	for _, desc := range []*prometheus.Desc{
		d.up, d.lastSuccess, d.refreshDuration, d.tracked,
		d.activities, d.items, d.completed, d.itemsCompleted,
		d.errors, d.warnings, d.durations, d.oldestIncomplete, d.over,
	} {
		ch <- desc
	}
}

// Collect implements prometheus.Collector. It only reads the current
// snapshot; refreshing is the Refresher's work, never a scrape's.
func (r *Refresher) Collect(ch chan<- prometheus.Metric) {
	s := r.current.Load()
	d := r.descs
	up := 0.0
	if s.up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up)
	if !s.lastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(d.lastSuccess, prometheus.GaugeValue, float64(s.lastSuccess.UnixMilli())/1000)
	}
	if s.refreshed {
		ch <- prometheus.MustNewConstMetric(d.refreshDuration, prometheus.GaugeValue, s.refreshDuration.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(d.tracked, prometheus.GaugeValue, float64(s.tracked))
	emit := func(desc *prometheus.Desc, vt prometheus.ValueType, samples []sample) {
		for _, m := range samples {
			ch <- prometheus.MustNewConstMetric(desc, vt, m.value, m.labels...)
		}
	}
	emit(d.activities, prometheus.GaugeValue, s.activities)
	emit(d.items, prometheus.GaugeValue, s.items)
	emit(d.completed, prometheus.CounterValue, s.completed)
	emit(d.itemsCompleted, prometheus.CounterValue, s.itemsCompleted)
	emit(d.errors, prometheus.CounterValue, s.errors)
	emit(d.warnings, prometheus.CounterValue, s.warnings)
	emit(d.oldestIncomplete, prometheus.GaugeValue, s.oldest)
	emit(d.over, prometheus.CounterValue, s.overflow)
	for _, h := range s.durations {
		ch <- prometheus.MustNewConstHistogram(d.durations, h.count, h.sum, h.buckets, h.labels...)
	}
}
