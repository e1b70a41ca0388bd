package activities

import (
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// Reading again what ISC makes visible late. A keyset scan on modified that
// has passed an instant never reads a record ISC shows later with that
// modified, so refreshes read a stretch before the cursor again. Reading the
// whole overlap every refresh costs (changes per second × overlap) records
// a refresh; most records are late by seconds, if at all. So:
//
//   - Lateness is measured: a record read now, new to the tracker, whose
//     modified is before the point the last complete scan that covered it
//     had read to (its start: it read everything visible then), was not
//     visible then; how far before is its lateness. For a record at or
//     after the cursor that scan is the previous one (readSince); for one
//     before the cursor, found by reading again, the last that read the
//     tail again (tailSince).
//   - The tail is twice the largest lateness seen in the last hour, at least
//     minTail and at most the overlap. It is read again from tailSince less
//     the tail, by a refresh at least a quarter of the tail after the last
//     one that did (each refresh at the default minute; every few seconds
//     when refreshes come every second, whose pages are then fuller). A
//     record late by at most the tail is always read: the first re-read
//     after it shows begins after it showed, and reads from the previous
//     re-read's start less the tail, which is before its modified.
//   - Every SweepEvery, a refresh reads from the last sweep's start less the
//     whole overlap: a record late by at most the overlap is always read, by
//     the same argument, at most SweepEvery after it shows; and its lateness
//     is then seen, so the tail grows to cover the next ones.
const (
	minTail = 10 * time.Second
	// lateSlot and lateSlots: the largest lateness is kept per five minutes
	// of ISC's clock for an hour.
	lateSlot  = 5 * time.Minute
	lateSlots = 12
	// DefaultSweepEvery is how often a refresh reads the whole overlap
	// again by default.
	DefaultSweepEvery = 5 * time.Minute
)

// lateness holds the largest lateness seen in each of the last lateSlots
// slots of lateSlot, on ISC's clock.
type lateness [lateSlots]lateMax

type lateMax struct {
	slot int64 // unix time / lateSlot
	max  time.Duration
}

func slotOf(at time.Time) int64 { return at.UnixMilli() / lateSlot.Milliseconds() }

// observe notes a record late by d, seen at ISC's time now.
func (l *lateness) observe(now time.Time, d time.Duration) {
	s := slotOf(now)
	m := &l[int(((s%lateSlots)+lateSlots)%lateSlots)]
	if m.slot != s {
		*m = lateMax{slot: s}
	}
	m.max = max(m.max, d)
}

// recent is the largest lateness seen within the last lateSlots slots.
func (l *lateness) recent(now time.Time) time.Duration {
	s := slotOf(now)
	var out time.Duration
	for _, m := range l {
		if m.slot > s-lateSlots && m.slot <= s {
			out = max(out, m.max)
		}
	}
	return out
}

// tailOf is how far before the last re-read of the tail a refresh reads
// again: twice the largest lateness seen recently, at least minTail, at most
// the overlap.
func tailOf(l *lateness, now time.Time, overlap time.Duration) time.Duration {
	return min(max(minTail, 2*l.recent(now)), overlap)
}

// reread is what a refresh reads: from where, and whether it reads the tail
// or the whole overlap again (a sweep).
type reread struct {
	from        client.Cursor
	tail, sweep bool
}

// what says what the refresh reads again, for its log line.
func (p reread) what() string {
	switch {
	case p.sweep:
		return "overlap"
	case p.tail:
		return "tail"
	}
	return "none"
}

// planReread says what a refresh starting at ISC's time now reads, from the
// position p, with the given overlap and sweep period (negative: every
// refresh sweeps). Never before the window; never after the cursor.
func planReread(p resumable, overlap, sweepEvery time.Duration, now, windowStart time.Time) reread {
	cursor := p.cursor
	if cursor.Modified.Before(windowStart) {
		cursor = client.Cursor{Modified: windowStart}
	}
	if !p.primed || overlap <= 0 {
		return reread{from: cursor}
	}
	tail := tailOf(&p.late, now, overlap)
	plan := reread{from: cursor}
	plan.sweep = sweepEvery < 0 || !now.Before(p.sweepSince.Add(sweepEvery))
	plan.tail = plan.sweep || !now.Before(p.tailSince.Add(tail/4))
	var since time.Time
	switch {
	case plan.sweep:
		since = p.sweepSince.Add(-overlap)
	case plan.tail:
		since = p.tailSince.Add(-tail)
	default:
		return plan
	}
	// The last instant of a finished scan is not read again and again
	// (the cursor is after it) unless a re-read reaches back to it.
	if since = maxTime(since, windowStart); !since.After(cursor.Modified) {
		plan.from = client.Cursor{Modified: since}
	}
	return plan
}

// lateBuckets are the buckets of sailpoint_activities_late_seconds: from a
// second to the overlap.
func lateBuckets(overlap time.Duration) []float64 {
	var out []float64
	for _, b := range []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400} {
		if b < overlap.Seconds() {
			out = append(out, b)
		}
	}
	if overlap > time.Second {
		return append(out, overlap.Seconds())
	}
	return []float64{1}
}
