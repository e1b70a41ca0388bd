// Package activities turns ISC's account activities into Prometheus
// metrics: the counting rule (rule.go, all of it), the Refresher that feeds
// it from ISC, persists it and publishes what it counted (refresher.go), the
// metrics it builds from it (snapshot.go) and its section of the state file
// (state.go).
package activities

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
)

// descs are the activity metrics.
type descs struct {
	status                                        area.StatusDescs
	tracked                                       *prometheus.Desc
	activities, items, completed, itemsCompleted  *prometheus.Desc
	errors, warnings, durations, oldestIncomplete *prometheus.Desc
}

func newDescs(persisted bool, constLabels prometheus.Labels) *descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sailpoint_"+name, help, labels, constLabels)
	}
	out := &descs{
		status: area.StatusDescs{
			Up: d("up",
				"1 if the last refresh from ISC got every answer it asked for, 0 if it failed; the other metrics then keep their last known values."),
			LastSuccess: d("last_refresh_success_timestamp_seconds",
				"Unix time at which a refresh last caught up with ISC and its values were published (persisted first, with a state file)."),
			Duration: d("refresh_duration_seconds",
				"How long the last refresh took."),
		},
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
	}
	if persisted {
		out.status.HeldBack = d("refresh_held_back",
			"1 while the values the last refresh read are held back, unpublished, because the state file cannot be written (a full volume, say); the last success timestamp then stands still.")
	}
	return out
}

// data are the descs of the tracker's metrics, for Describe.
func (d *descs) data() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.tracked, d.activities, d.items, d.completed, d.itemsCompleted,
		d.errors, d.warnings, d.durations, d.oldestIncomplete,
	}
}
