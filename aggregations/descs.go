// Package aggregations watches ISC's source aggregations through its task
// status list: which source failed to aggregate, which is stuck, which has
// not succeeded for a day. Its counting rule (rule.go, all of it), the
// Refresher that reads the task status and persists what it counted
// (refresher.go), the metrics it builds (snapshot.go) and its section of the
// state file (state.go).
package aggregations

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
)

// Label names.
const (
	lSource = "source_id"
	lType   = "type"
	lStatus = "completion_status"
)

// descs are the aggregation metrics.
type descs struct {
	status                               area.StatusDescs
	completed, lastCompleted, inProgress *prometheus.Desc
	oldestInProgress, durations          *prometheus.Desc
}

func newDescs(persisted bool, constLabels prometheus.Labels) *descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sailpoint_"+name, help, labels, constLabels)
	}
	out := &descs{
		status: area.StatusDescs{
			Up: d("aggregations_up",
				"1 if the last read of ISC's task status got every answer it asked for, 0 if it failed; the other aggregation metrics then keep their last values."),
			LastSuccess: d("aggregations_last_success_timestamp_seconds",
				"Unix time at which the task status was last read from ISC in full and what it said published."),
		},
		completed: d("source_aggregations_completed_total",
			"Aggregations seen finished, each counted once, if they finished after counting started and within the lookback; an ERROR, TERMINATED or TEMPERROR series carries the latest such task's id as an exemplar.",
			lSource, lType, lStatus),
		lastCompleted: d("source_aggregation_last_completed_timestamp_seconds",
			"Completion time of the latest aggregation with that status among those created within the lookback (cached from the last read).",
			lSource, lType, lStatus),
		inProgress: d("source_aggregations_in_progress",
			"Aggregations without a completion status yet, whatever their age, as far as ISC serves them (90 days) (cached from the last read).",
			lSource, lType),
		oldestInProgress: d("source_aggregation_oldest_in_progress_created_timestamp_seconds",
			"Creation time of the oldest aggregation still in progress (cached from the last read).",
			lSource, lType),
		durations: d("source_aggregation_duration_seconds",
			"Time from launch (creation where ISC gives no launch) to completion of counted aggregations.",
			lType, lStatus),
	}
	if persisted {
		out.status.HeldBack = d("aggregations_held_back",
			"1 while the aggregations the last read found are held back, unpublished, because the state file cannot be written; their last success timestamp then stands still.")
	}
	return out
}

func (d *descs) data() []*prometheus.Desc {
	return []*prometheus.Desc{d.completed, d.lastCompleted, d.inProgress, d.oldestInProgress, d.durations}
}
