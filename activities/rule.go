package activities

import (
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/label"
)

// entry is what the exporter remembers of one activity: enough to take its
// contribution back out of the gauges when it changes, to never count it
// twice, and to find the oldest incomplete one. Times are unix milliseconds,
// ISC's precision.
type entry struct {
	created  int64
	modified int64 // 0 when ISC sent null
	doneAt   int64 // completion time, while flagTerminal
	shape    uint32
	typ      uint16
	cs       uint16
	es       uint16
	flags    uint8
}

const (
	flagTerminal uint8 = 1 << iota // terminal in its current state
	flagCounted                    // was terminal once: never counted again
	flagInWindow                   // created within the lookback: in the gauges
)

type activityKey [3]uint16   // type, completion status, execution status
type itemKey [3]uint16       // type, provisioning status, operation
type itemSourceKey [4]uint16 // type, provisioning status, operation, source
type durationKey [2]uint16   // type, completion status

// durationBuckets spans provisioning as it happens: seconds for a password
// change, hours for a manual work item, days for an approval.
func durationBuckets() []float64 {
	return []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800}
}

// tracker applies the counting rule to the activities it is given. This file
// holds every clause of the rule; the client only reports what ISC said.
//
//   - Terminal: an activity is terminal when `completed` is set, or its
//     executionStatus is COMPLETED or TERMINATED (see terminal).
//   - Completion time: `completed`, or `modified` where ISC left `completed`
//     null (see completionTime); the instant of applying it when both are null.
//   - Counted once: an activity is counted when first seen terminal, and never
//     again, whatever ISC later says of it (flagCounted).
//   - Since the first pass: a completion before the exporter's first pass
//     began is history (priming only fills the gauges with it); counting by
//     completion time rather than by when a pass happened to see an activity
//     makes the counters independent of paging: an activity that completes
//     while the first pass runs is counted, whichever page it appears on.
//   - Within the lookback: a completion older than the lookback is never
//     counted, so an activity may be forgotten once its completion leaves the
//     window (forgettable): seen again, it still would not count.
//   - What a count adds: +1 activity, +1 per item with the item's status at
//     that moment, len(errors) and len(warnings), one duration observation
//     (completion time minus created, when created is known).
//   - Gauges: activities created within the lookback, in their current state;
//     the oldest incomplete activity of each type, whatever its age.
//   - Duplicates: a record older (by `modified`) than the version applied
//     changes nothing; one as old is applied again, which changes nothing
//     unless ISC changed it within the same millisecond (a lagging index can
//     show the earlier of two such versions first). Re-reading a stretch of
//     ISC is harmless either way: nothing is counted twice.
//   - Rejections: an element of a page that is not an activity the exporter
//     can use (the client says why) is counted once by reason, however often
//     it is read again, and its neighbours are counted as usual.
//   - Exemplars: a failed activity (completionStatus FAILURE) and a failed
//     item (provisioningStatus FAILED) leave their activity's id and
//     completion time on the series they were counted into, the latest one
//     winning: from an alert to the activity, without an id as a label.
//
// It is not safe for concurrent use: the Refresher's refresh owns it, and
// holds the Refresher's lock while it changes it (see Refresher.mu).
type tracker struct {
	descs *descs // of the series Metrics builds

	lookback time.Duration
	now      func() time.Time

	countFrom int64 // unix ms: completions before it are history

	labels  labelSpace
	shapes  *itemShapes
	failed  uint16 // index of provisioning status FAILED
	entries area.IDMap[entry]
	scratch []itemCount

	activities     map[activityKey]int64
	items          map[itemKey]int64
	completed      map[activityKey]uint64
	itemsCompleted map[itemSourceKey]uint64
	errors         map[uint16]uint64
	warnings       map[uint16]uint64
	durations      map[durationKey]*area.Histogram
	overflow       map[string]uint64
	oldest         map[uint16]int64 // by type: created of the oldest incomplete, as of the last sweep
	buckets        []float64

	failure       uint16 // index of completion status FAILURE
	exemplars     map[activityKey]exemplar
	itemExemplars map[itemSourceKey]exemplar

	rejections *area.Rejections
}

// exemplar is the latest activity counted into a failure series.
type exemplar struct {
	id string
	at int64 // completion time, unix ms
}

// maxRejectedSeen bounds the memory of rejected records; past it, a record
// rejected again within the lookback may be counted again.
const maxRejectedSeen = 100_000

func newTracker(lookback time.Duration, maxTypes, maxSources int, now func() time.Time, d *descs) *tracker {
	t := &tracker{
		descs:          d,
		lookback:       lookback,
		now:            now,
		labels:         newLabelSpace(maxTypes, maxSources),
		shapes:         newItemShapes(),
		entries:        area.NewIDMap[entry](),
		activities:     map[activityKey]int64{},
		items:          map[itemKey]int64{},
		completed:      map[activityKey]uint64{},
		itemsCompleted: map[itemSourceKey]uint64{},
		errors:         map[uint16]uint64{},
		warnings:       map[uint16]uint64{},
		durations:      map[durationKey]*area.Histogram{},
		overflow:       map[string]uint64{},
		oldest:         map[uint16]int64{},
		buckets:        durationBuckets(),
		exemplars:      map[activityKey]exemplar{},
		itemExemplars:  map[itemSourceKey]exemplar{},
		rejections:     area.NewRejections(client.RejectReasons, maxRejectedSeen),
	}
	t.failed = t.labels.provisioning.Lookup("FAILED")
	t.failure = t.labels.completion.Lookup("FAILURE")
	for _, label := range []string{lType, lCompletion, lExecution, lProvisioning, lOperation, lSource} {
		t.overflow[label] = 0
	}
	return t
}

// startCounting sets when the first pass began; completions before it are
// never counted. Later calls change nothing.
func (t *tracker) startCounting(at time.Time) {
	if t.countFrom == 0 {
		t.countFrom = at.UnixMilli()
	}
}

func (t *tracker) windowStart(now int64) int64 { return now - t.lookback.Milliseconds() }

// apply takes in one activity as ISC sent it. A record older than the one
// applied changes nothing; one without an id cannot be told from others, so
// it is left out (the client rejects it before it gets here). It reports
// whether the record is new to the tracker: an activity it did not track,
// or a newer version of one, that it keeps.
func (t *tracker) apply(a *client.Activity) (fresh bool) {
	if a.ID == "" {
		return false
	}
	old, known := t.entries.Get(a.ID)
	modified := area.UnixMilli(a.Modified)
	if known && modified != 0 && modified < old.modified {
		return false
	}
	fresh = !known || modified > old.modified
	now := t.now().UnixMilli()
	windowStart := t.windowStart(now)

	e := entry{
		created:  area.FirstNonZero(area.UnixMilli(a.Created), modified, area.UnixMilli(a.Completed), now),
		modified: modified,
		typ:      t.labels.typ.Lookup(a.Type),
		cs:       t.labels.completion.Lookup(a.CompletionStatus),
		es:       t.labels.execution.Lookup(a.ExecutionStatus),
	}
	if _, ok := t.errors[e.typ]; !ok {
		// Start at zero so that increase() sees the first error of a type.
		t.errors[e.typ], t.warnings[e.typ] = 0, 0
	}
	counts := t.scratch[:0]
	for i := range a.Items {
		it := &a.Items[i]
		prov, op := t.labels.provisioning.Lookup(it.ProvisioningStatus), t.labels.operation.Lookup(it.Operation)
		counts = appendCount(counts, prov, op)
		failedKey := itemSourceKey{e.typ, t.failed, op, t.labels.source.Lookup(it.SourceID)}
		if _, ok := t.itemsCompleted[failedKey]; !ok {
			// Start at zero so that increase() sees the first failure on a source.
			t.itemsCompleted[failedKey] = 0
		}
	}
	t.scratch = counts
	e.shape = t.shapes.acquire(counts)
	if terminal(a) {
		e.flags |= flagTerminal
		e.doneAt = area.FirstNonZero(area.UnixMilli(completionTime(a)), now)
	}

	if known {
		e.flags |= old.flags & flagCounted
		if old.flags&flagInWindow != 0 {
			t.addGauges(old, -1)
		}
		t.shapes.release(old.shape)
	}
	if e.flags&flagTerminal != 0 && e.flags&flagCounted == 0 {
		e.flags |= flagCounted
		if t.countFrom != 0 && e.doneAt >= windowStart && e.doneAt >= t.countFrom {
			t.count(a, &e)
		}
	}
	if e.created >= windowStart {
		e.flags |= flagInWindow
		t.addGauges(e, +1)
	}
	if t.forgettable(e, windowStart) {
		// Terminal and wholly before the window: whatever ISC says of it
		// again, it will not be counted, so it need not be remembered.
		t.shapes.release(e.shape)
		if known {
			t.entries.Remove(a.ID)
		}
		return false
	}
	t.entries.Set(a.ID, e)
	return fresh
}

// ISC's executionStatus values that end an activity.
const (
	executionCompleted  = "COMPLETED"
	executionTerminated = "TERMINATED"
)

// terminal reports whether an activity has ended: ISC set its completion
// time, or its execution status is COMPLETED or TERMINATED.
func terminal(a *client.Activity) bool {
	return !a.Completed.IsZero() || a.ExecutionStatus == executionCompleted || a.ExecutionStatus == executionTerminated
}

// completionTime is when a terminal activity ended: its completed time, or
// its last modification where ISC left completed null (half of the
// TERMINATED activities have none).
func completionTime(a *client.Activity) time.Time {
	if !a.Completed.IsZero() {
		return a.Completed
	}
	return a.Modified
}

func (t *tracker) forgettable(e entry, windowStart int64) bool {
	return e.flags&flagInWindow == 0 && e.flags&flagTerminal != 0 && e.doneAt < windowStart
}

// count records a completion: the activity, its items as they are now, its
// errors and warnings, and how long it took.
func (t *tracker) count(a *client.Activity, e *entry) {
	ak := activityKey{e.typ, e.cs, e.es}
	t.completed[ak]++
	if e.cs == t.failure {
		t.exemplars[ak] = exemplar{a.ID, e.doneAt}
	}
	t.countOverflow(lType, e.typ)
	t.countOverflow(lCompletion, e.cs)
	t.countOverflow(lExecution, e.es)
	t.errors[e.typ] += uint64(a.Errors)
	t.warnings[e.typ] += uint64(a.Warnings)
	for i := range a.Items {
		it := &a.Items[i]
		k := itemSourceKey{
			e.typ,
			t.labels.provisioning.Lookup(it.ProvisioningStatus),
			t.labels.operation.Lookup(it.Operation),
			t.labels.source.Lookup(it.SourceID),
		}
		t.itemsCompleted[k]++
		if k[1] == t.failed {
			t.itemExemplars[k] = exemplar{a.ID, e.doneAt}
		}
		t.countOverflow(lProvisioning, k[1])
		t.countOverflow(lOperation, k[2])
		t.countOverflow(lSource, k[3])
	}
	if a.Created.IsZero() {
		return // no start, no duration
	}
	dk := durationKey{e.typ, e.cs}
	h := t.durations[dk]
	if h == nil {
		h = area.NewHistogram(len(t.buckets))
		t.durations[dk] = h
	}
	h.Observe(t.buckets, max(float64(e.doneAt-area.UnixMilli(a.Created))/1000, 0))
}

// reject counts a rejected record once; it reports whether it was new.
func (t *tracker) reject(r *client.Rejection) bool {
	return t.rejections.Add(r.Key, r.Reason, t.now().UnixMilli())
}

func (t *tracker) countOverflow(name string, i uint16) {
	if i == label.OtherIndex {
		t.overflow[name]++
	}
}

func (t *tracker) addGauges(e entry, sign int64) {
	t.activities[activityKey{e.typ, e.cs, e.es}] += sign
	for _, c := range t.shapes.counts(e.shape) {
		t.items[itemKey{e.typ, c.prov, c.op}] += sign * int64(c.n)
	}
}

// Sweep moves activities that aged out of the lookback out of the gauges,
// forgets those that can no longer be counted, and finds the oldest
// incomplete activity of each type.
func (t *tracker) Sweep() {
	windowStart := t.windowStart(t.now().UnixMilli())
	clear(t.oldest)
	// ISC sends records modified within the lookback, no older ones.
	t.rejections.Forget(windowStart)
	t.entries.Update(func(e *entry) (changed, keep bool) {
		if e.flags&flagInWindow != 0 && e.created < windowStart {
			t.addGauges(*e, -1)
			e.flags &^= flagInWindow
			changed = true
		}
		if t.forgettable(*e, windowStart) {
			t.shapes.release(e.shape)
			return changed, false
		}
		if e.flags&flagTerminal == 0 {
			if o, ok := t.oldest[e.typ]; !ok || e.created < o {
				t.oldest[e.typ] = e.created
			}
		}
		return changed, true
	})
}
