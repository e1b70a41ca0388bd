package aggregations

import (
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/label"
)

// task is what the exporter remembers of one aggregation: enough to count
// its finish once, to tell whether it runs, and to find the latest finish of
// each status. Times are unix milliseconds, ISC's precision.
type task struct {
	created  int64
	launched int64 // 0 when ISC sent null
	modified int64 // 0 when ISC sent null
	doneAt   int64 // completion time, once finished
	source   uint16
	typ      uint16
	status   uint16 // completion status; none while it runs
	flags    uint8
}

const (
	flagFinished uint8 = 1 << iota // has a completion status
	flagCounted                    // was finished once: never counted again
)

type seriesKey [3]uint16   // source, type, completion status
type progressKey [2]uint16 // source, type
type durationKey [2]uint16 // type, completion status

// durationBuckets span aggregations as they run: seconds for a small flat
// file, hours for a directory of a million accounts, a day for one stuck.
func durationBuckets() []float64 {
	return []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400}
}

// Completion statuses whose series of the counter start at zero, so that
// increase() and the alerts see a source's first failure, and carry the
// latest failed task as an exemplar.
var failureStatuses = []string{"ERROR", "TERMINATED"}

// exemplarStatuses are the completion statuses whose counter series carry
// the latest task counted into them.
var exemplarStatuses = map[string]bool{"ERROR": true, "TERMINATED": true, "TEMPERROR": true}

// tracker applies the aggregations' counting rule to the tasks it is given.
// This file holds every clause of the rule; the client only reports what
// ISC said:
//
//   - Finished: a task is finished when ISC gives it a completionStatus or
//     a completion time (its status then reads "none"). Its completion time
//     is `completed`, or `modified` where ISC left `completed` null, or the
//     instant it was applied when both are null.
//   - Counted once: a task is counted when first seen finished, and never
//     again, whatever ISC later says of it (flagCounted).
//   - Since the first pass: a finish before the exporter's first pass began
//     (on ISC's clock) is history; one after it is counted whichever
//     listing shows it: the first pass's, a later one's, or the follow-up
//     of a task seen running.
//   - Within the lookback: a finish older than the lookback is never
//     counted.
//   - What a count adds: +1 on the counter of (source, type, status), one
//     duration observation (completed − launched, or − created where
//     launched is null), and, for a failure, the task as the series'
//     exemplar.
//   - Gauges: the tasks running now, of any age ISC still serves (90
//     days), by source and type, with the oldest one's creation; the latest
//     completion per (source, type, status) among the tasks created within
//     the lookback.
//   - Forgetting: a finished task created before the lookback can no longer
//     change a metric, and no listing reads it again (they read back to a
//     recent watermark, or ask for running tasks only): it is forgotten.
//   - Duplicates: a version older (by `modified`) than the one applied
//     changes nothing.
//
// It is not safe for concurrent use: the Refresher's refresh owns it, and
// holds the Refresher's lock while it changes it.
type tracker struct {
	descs *descs // of the series Metrics builds

	lookback time.Duration
	now      func() time.Time

	countFrom int64 // unix ms: finishes before it are history

	sources, types, statuses *label.Values
	tasks                    area.IDMap[task]

	completed map[seriesKey]uint64
	overflow  map[string]uint64 // counted tasks whose label became "other", by label
	durations map[durationKey]*area.Histogram
	exemplars map[seriesKey]exemplar
	buckets   []float64

	// What the last sweep found, for the gauges.
	running      map[progressKey]int
	oldest       map[progressKey]int64 // created of the oldest running
	lastFinished map[seriesKey]int64   // latest completion among tasks created within the lookback

	rejections *area.Rejections
}

// exemplar is the latest task counted into a failure series.
type exemplar struct {
	id string
	at int64 // completion time, unix ms
}

// maxRejectedSeen bounds the memory of rejected records.
const maxRejectedSeen = 10_000

func newTracker(lookback time.Duration, types []string, maxSources int, now func() time.Time, d *descs) *tracker {
	t := &tracker{
		descs:        d,
		lookback:     lookback,
		now:          now,
		sources:      label.NewValues(maxSources),
		types:        label.NewValues(len(types)),
		statuses:     label.NewValues(label.MaxEnumValues),
		tasks:        area.NewIDMap[task](),
		completed:    map[seriesKey]uint64{},
		overflow:     map[string]uint64{lSource: 0, lStatus: 0},
		durations:    map[durationKey]*area.Histogram{},
		exemplars:    map[seriesKey]exemplar{},
		buckets:      durationBuckets(),
		running:      map[progressKey]int{},
		oldest:       map[progressKey]int64{},
		lastFinished: map[seriesKey]int64{},
		rejections:   area.NewRejections(taskRejectReasons, maxRejectedSeen),
	}
	for _, typ := range types {
		t.types.Lookup(typ)
	}
	for _, s := range failureStatuses {
		t.statuses.Lookup(s)
	}
	return t
}

// taskRejectReasons are the reasons a task element can be rejected for.
var taskRejectReasons = []string{client.RejectMalformed, client.RejectTooLarge, client.RejectInvalidTimestamp, client.RejectWrongType, client.RejectMissingID, client.RejectMissingTarget}

// startCounting sets when the first pass began; finishes before it are
// never counted. Later calls change nothing.
func (t *tracker) startCounting(at time.Time) {
	if t.countFrom == 0 {
		t.countFrom = at.UnixMilli()
	}
}

func (t *tracker) windowStart(now int64) int64 { return now - t.lookback.Milliseconds() }

// apply takes in one task, of the definition type typ (the listing's).
func (t *tracker) apply(tk *client.Task, typ string) {
	old, known := t.tasks.Get(tk.ID)
	modified := area.UnixMilli(tk.Modified)
	if known && modified != 0 && modified < old.modified {
		return
	}
	now := t.now().UnixMilli()
	e := task{
		created:  area.UnixMilli(tk.Created),
		launched: area.UnixMilli(tk.Launched),
		modified: modified,
		source:   t.sources.Lookup(tk.SourceID),
		typ:      t.types.Lookup(typ),
		status:   t.statuses.Lookup(tk.CompletionStatus),
	}
	for _, s := range failureStatuses {
		k := seriesKey{e.source, e.typ, t.statuses.Lookup(s)}
		if _, ok := t.completed[k]; !ok {
			// Start at zero so that increase() sees a source's first failure.
			t.completed[k] = 0
		}
	}
	if tk.CompletionStatus != "" || !tk.Completed.IsZero() {
		e.flags |= flagFinished
		e.doneAt = area.FirstNonZero(area.UnixMilli(tk.Completed), modified, now)
	}
	if known {
		e.flags |= old.flags & flagCounted
	}
	windowStart := t.windowStart(now)
	if e.flags&flagFinished != 0 && e.flags&flagCounted == 0 {
		e.flags |= flagCounted
		if t.countFrom != 0 && e.doneAt >= t.countFrom && e.doneAt >= windowStart {
			t.count(tk.ID, &e)
		}
	}
	if t.forgettable(e, windowStart) {
		if known {
			t.tasks.Remove(tk.ID)
		}
		return
	}
	t.tasks.Set(tk.ID, e)
}

func (t *tracker) forgettable(e task, windowStart int64) bool {
	return e.flags&flagFinished != 0 && e.created < windowStart
}

// count records a finish: the counter, the duration, the exemplar.
func (t *tracker) count(id string, e *task) {
	k := seriesKey{e.source, e.typ, e.status}
	t.completed[k]++
	if e.source == label.OtherIndex {
		t.overflow[lSource]++
	}
	if e.status == label.OtherIndex {
		t.overflow[lStatus]++
	}
	if exemplarStatuses[t.statuses.Name(e.status)] {
		t.exemplars[k] = exemplar{id: id, at: e.doneAt}
	}
	dk := durationKey{e.typ, e.status}
	h := t.durations[dk]
	if h == nil {
		h = area.NewHistogram(len(t.buckets))
		t.durations[dk] = h
	}
	started := area.FirstNonZero(e.launched, e.created)
	h.Observe(t.buckets, max(float64(e.doneAt-started)/1000, 0))
}

// reject counts a rejected record once; it reports whether it was new.
func (t *tracker) reject(r *client.Rejection) bool {
	return t.rejections.Add(r.Key, r.Reason, t.now().UnixMilli())
}

// forget drops a running task that ISC no longer serves (older than its
// 90 days, or deleted): its finish can never be read.
func (t *tracker) forget(id string) { t.tasks.Remove(id) }

// Sweep forgets what can no longer change a metric and computes the gauges.
func (t *tracker) Sweep() {
	windowStart := t.windowStart(t.now().UnixMilli())
	clear(t.running)
	clear(t.oldest)
	clear(t.lastFinished)
	t.rejections.Forget(windowStart)
	t.tasks.Update(func(e *task) (changed, keep bool) {
		if t.forgettable(*e, windowStart) {
			return false, false
		}
		if e.flags&flagFinished == 0 {
			k := progressKey{e.source, e.typ}
			t.running[k]++
			if o, ok := t.oldest[k]; !ok || e.created < o {
				t.oldest[k] = e.created
			}
			return false, true
		}
		k := seriesKey{e.source, e.typ, e.status}
		if e.doneAt > t.lastFinished[k] {
			t.lastFinished[k] = e.doneAt
		}
		return false, true
	})
}
