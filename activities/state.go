package activities

import (
	"fmt"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// The activities' section of the state file holds what the counting rule needs to resume exactly where
// a killed process stopped, and nothing an activity says about identities
// beyond ids. Its body, in order, each part with why it is needed:
//
//   - the lookback it was written with: the gauges, the rule's window and
//     what is tracked all follow from it, so a section of another lookback
//     is not used.
//   - the refresh's position: the cursor (to read on from it rather than
//     prime again), when the last complete scan began (what the overlap
//     re-reads is counted from it), the instant counting started (completions before it are
//     history, so a restart must not move it), whether the lookback was read
//     once (priming is over), and the last successful refresh (the gauge
//     continues).
//   - the label tables: counters and tracked activities store label values
//     as indexes into them, and a value keeps its index for life.
//   - the item shapes: tracked activities refer to them, so that a change of
//     an activity takes its old items back out of the gauges.
//   - every counter and histogram of the rule, with its value: they continue
//     from there instead of resetting; with them the exemplars of the failure
//     series, and the keys of rejected records (so that one read again after
//     the restart is not counted again).
//   - every tracked activity (id, created, modified, completion time, labels,
//     shape, flags): enough to never count one twice (it is flagged counted),
//     to take its contribution back out of the gauges when it changes, and
//     to find the oldest incomplete one. This is the minimal set: an
//     activity is tracked only while ISC could still send it in a form that
//     changes a metric (created within the lookback, incomplete, or completed
//     within the lookback); dropping any of them would either count it again
//     or leave its old state in the gauges. The gauges' values are sums over
//     these and are recomputed on load; only their series are kept, so that
//     one at 0 stays at 0 rather than vanishing.
//
// Integers are little-endian, strings a uvarint length and bytes, times unix
// milliseconds (the cursor: nanoseconds, since it keeps finer digits).

// resumable is the refresh's position, as the state file keeps it: the
// activities section all but the last three, which are in SectionLate.
type resumable struct {
	cursor      client.Cursor
	readSince   time.Time
	countFrom   int64 // unix ms
	primed      bool
	lastSuccess time.Time

	tailSince, sweepSince time.Time
	late                  lateness
}

// encodeState writes the section for t and the refresh position p; w hands
// its bytes on as they grow, so that a million tracked activities do not
// need a 50 MB buffer.
func encodeState(w *state.Encoder, t *tracker, p resumable) {
	w.I64(t.lookback.Milliseconds())
	w.I64(p.cursor.Modified.UnixNano())
	w.N(p.cursor.Offset)
	w.Bool(p.cursor.After)
	w.I64(p.readSince.UnixNano())
	w.I64(p.countFrom)
	w.Bool(p.primed)
	w.I64(area.UnixMilli(p.lastSuccess))

	for _, l := range t.labels.all() {
		l.EncodeState(w)
	}

	w.N(len(t.shapes.shapes))
	for _, counts := range t.shapes.shapes {
		w.N(len(counts))
		for _, c := range counts {
			w.U16(c.prov)
			w.U16(c.op)
			w.U32(c.n)
		}
	}

	w.N(len(t.activities))
	for k := range t.activities {
		w.U16(k[0])
		w.U16(k[1])
		w.U16(k[2])
	}
	w.N(len(t.items))
	for k := range t.items {
		w.U16(k[0])
		w.U16(k[1])
		w.U16(k[2])
	}
	w.N(len(t.completed))
	for k, v := range t.completed {
		w.U16(k[0])
		w.U16(k[1])
		w.U16(k[2])
		w.U64(v)
	}
	w.N(len(t.itemsCompleted))
	for k, v := range t.itemsCompleted {
		w.U16(k[0])
		w.U16(k[1])
		w.U16(k[2])
		w.U16(k[3])
		w.U64(v)
	}
	for _, m := range []map[uint16]uint64{t.errors, t.warnings} {
		w.N(len(m))
		for k, v := range m {
			w.U16(k)
			w.U64(v)
		}
	}
	w.N(len(t.overflow))
	for k, v := range t.overflow {
		w.Str(k)
		w.U64(v)
	}
	w.N(len(t.exemplars))
	for k, ex := range t.exemplars {
		w.U16(k[0])
		w.U16(k[1])
		w.U16(k[2])
		w.Str(ex.id)
		w.I64(ex.at)
	}
	w.N(len(t.itemExemplars))
	for k, ex := range t.itemExemplars {
		w.U16(k[0])
		w.U16(k[1])
		w.U16(k[2])
		w.U16(k[3])
		w.Str(ex.id)
		w.I64(ex.at)
	}
	t.rejections.EncodeState(w)
	area.EncodeHistograms(w, t.buckets, t.durations)
	w.Flush()

	writeEntry := func(e entry) {
		w.I64(e.created)
		w.I64(e.modified)
		w.I64(e.doneAt)
		w.U32(e.shape)
		w.U16(e.typ)
		w.U16(e.cs)
		w.U16(e.es)
		w.U8(e.flags)
	}
	t.entries.EncodeState(w, writeEntry)
}

// decodePosition reads the refresh's position, the section's first part
// after its lookback.
func decodePosition(r *state.Decoder) resumable {
	var p resumable
	p.cursor.Modified = time.Unix(0, r.I64()).UTC()
	p.cursor.Offset = r.N()
	p.cursor.After = r.Bool()
	p.readSince = time.Unix(0, r.I64()).UTC()
	p.countFrom = r.I64()
	p.primed = r.Bool()
	if ms := r.I64(); ms != 0 {
		p.lastSuccess = time.UnixMilli(ms)
	}
	return p
}

// ResumePoint says from where the first refresh of a process that resumes
// from the state file's activities and SectionLate sections (nil when it
// has none) reads, with the given overlap and sweep period (0: the
// default), if it starts at ISC's time now or within the next `within`:
// the earliest of those. What a restart costs is what ISC holds from there
// on.
func ResumePoint(section, late []byte, overlap, sweepEvery time.Duration, now time.Time, within time.Duration) (client.Cursor, error) {
	r := state.NewDecoder(section)
	lookback := time.Duration(r.I64()) * time.Millisecond
	p := decodePosition(r)
	if err := r.Err(); err != nil {
		return client.Cursor{}, err
	}
	if err := decodeLate(late, &p); err != nil {
		return client.Cursor{}, err
	}
	if sweepEvery == 0 {
		sweepEvery = DefaultSweepEvery
	}
	// Later, the tail is as long or shorter (lateness is forgotten) and a
	// re-read or a sweep falls due: read as much as either would.
	windowStart := windowStartOf(now, lookback)
	from := planReread(p, overlap, sweepEvery, now, windowStart).from
	if later := planReread(p, overlap, sweepEvery, now.Add(within), windowStart).from; later.Before(from) {
		from = later
	}
	if p.primed && overlap > 0 {
		if since := maxTime(p.tailSince.Add(-tailOf(&p.late, now, overlap)), windowStart); since.Before(from.Modified) {
			from = client.Cursor{Modified: since}
		}
	}
	return from, nil
}

// SectionLate is the name of the state file's section that holds what
// reading late records again needs (see reread.go): the starts of the
// last complete scans that read the tail and the whole overlap again, the
// largest lateness of each of the last twelve five-minute slots, and the
// readSince they go with. It is a section of its own, not a part added to
// the activities section, so that a file this version writes is still read
// by an older one (an older decoder refuses bytes after the end of a
// section, and would start afresh), which keeps the section as it found
// it: its readSince then no longer matches the activities section's, and
// its marks are not used. A file without it resumes the same way: as if the
// older version's last refresh, which read the whole overlap again, had
// been a sweep.
const SectionLate = "activities-late"

// lateFormat is the version of SectionLate's body; a body of another
// version is not used.
const lateFormat = 1

func encodeLate(w *state.Encoder, p resumable) {
	w.U8(lateFormat)
	w.I64(p.readSince.UnixNano())
	w.I64(p.tailSince.UnixNano())
	w.I64(p.sweepSince.UnixNano())
	w.N(len(p.late))
	for _, m := range p.late {
		w.I64(m.slot)
		w.I64(m.max.Milliseconds())
	}
}

// decodeLate completes p, read from the activities section, with what body
// (SectionLate's, nil when the file has none) holds for it. Without a
// usable one, the last tail and sweep began at readSince: each refresh of
// an older version read the whole overlap again, a sweep.
func decodeLate(body []byte, p *resumable) error {
	p.tailSince, p.sweepSince, p.late = p.readSince, p.readSince, lateness{}
	if body == nil {
		return nil
	}
	r := state.NewDecoder(body)
	if v := r.U8(); r.Err() == nil && v != lateFormat {
		return nil // a later version's: not ours to read
	}
	readSince := time.Unix(0, r.I64()).UTC()
	tailSince := time.Unix(0, r.I64()).UTC()
	sweepSince := time.Unix(0, r.I64()).UTC()
	var late lateness
	if n := r.N(); r.Err() == nil && n != len(late) {
		r.Fail("bad lateness slots")
	}
	for i := range late {
		if r.Err() != nil {
			break
		}
		late[i] = lateMax{slot: r.I64(), max: time.Duration(r.I64()) * time.Millisecond}
	}
	if err := r.Done(); err != nil {
		return err
	}
	p.late = late
	if readSince.Equal(p.readSince) {
		p.tailSince, p.sweepSince = tailSince, sweepSince
	}
	return nil
}

// decodeState rebuilds a tracker (configured like t, which it does not
// change) and the refresh position from a section. It returns an error
// matching state.ErrSettings for a section of another lookback, and one
// matching state.ErrCorrupt for anything that does not decode or does not
// fit.
func decodeState(body []byte, t *tracker) (*tracker, resumable, error) {
	r := state.NewDecoder(body)
	if lookback := time.Duration(r.I64()) * time.Millisecond; r.Err() == nil && lookback != t.lookback {
		return nil, resumable{}, &state.BadFileError{
			Reason: fmt.Sprintf("written with --activities.lookback=%s, this run uses %s", lookback, t.lookback),
			Err:    state.ErrSettings,
		}
	}
	p := decodePosition(r)

	nt := newTracker(t.lookback, t.labels.typ.Max(), t.labels.source.Max(), t.now, t.descs)
	nt.countFrom = p.countFrom
	for _, l := range nt.labels.all() {
		l.DecodeState(r)
	}

	shapes := make([][]itemCount, r.N())
	for i := range shapes {
		n := r.N()
		if n == 0 {
			continue
		}
		counts := make([]itemCount, n)
		for j := range counts {
			counts[j] = itemCount{prov: r.Index(nt.labels.provisioning.Len()), op: r.Index(nt.labels.operation.Len()), n: r.U32()}
		}
		shapes[i] = counts
	}
	if r.Err() == nil && (len(shapes) == 0 || shapes[0] != nil) {
		r.Fail("bad shape table")
	}

	l := &nt.labels
	for range r.N() {
		nt.activities[activityKey{r.Index(l.typ.Len()), r.Index(l.completion.Len()), r.Index(l.execution.Len())}] = 0
	}
	for range r.N() {
		nt.items[itemKey{r.Index(l.typ.Len()), r.Index(l.provisioning.Len()), r.Index(l.operation.Len())}] = 0
	}
	for range r.N() {
		k := activityKey{r.Index(l.typ.Len()), r.Index(l.completion.Len()), r.Index(l.execution.Len())}
		nt.completed[k] = r.U64()
	}
	for range r.N() {
		k := itemSourceKey{r.Index(l.typ.Len()), r.Index(l.provisioning.Len()), r.Index(l.operation.Len()), r.Index(l.source.Len())}
		nt.itemsCompleted[k] = r.U64()
	}
	for _, m := range []map[uint16]uint64{nt.errors, nt.warnings} {
		for range r.N() {
			k := r.Index(l.typ.Len())
			m[k] = r.U64()
		}
	}
	for range r.N() {
		k := r.Str()
		nt.overflow[k] = r.U64()
	}
	for range r.N() {
		k := activityKey{r.Index(l.typ.Len()), r.Index(l.completion.Len()), r.Index(l.execution.Len())}
		nt.exemplars[k] = exemplar{id: r.Str(), at: r.I64()}
	}
	for range r.N() {
		k := itemSourceKey{r.Index(l.typ.Len()), r.Index(l.provisioning.Len()), r.Index(l.operation.Len()), r.Index(l.source.Len())}
		nt.itemExemplars[k] = exemplar{id: r.Str(), at: r.I64()}
	}
	nt.rejections.DecodeState(r)
	area.DecodeHistograms(r, nt.buckets, nt.durations, l.typ.Len(), l.completion.Len())

	refs := make([]int, len(shapes))
	readEntry := func() entry {
		e := entry{created: r.I64(), modified: r.I64(), doneAt: r.I64(), shape: r.U32(),
			typ: r.Index(l.typ.Len()), cs: r.Index(l.completion.Len()), es: r.Index(l.execution.Len()), flags: r.U8()}
		if r.Err() == nil && int(e.shape) >= len(shapes) {
			r.Fail("shape out of range")
			return entry{}
		}
		if e.shape != 0 {
			refs[e.shape]++
		}
		return e
	}
	nt.entries.DecodeState(r, readEntry)
	if err := r.Done(); err != nil {
		return nil, resumable{}, err
	}

	// The shape table's references and the gauges follow from the entries.
	nt.shapes.restore(shapes, refs)
	nt.entries.Update(func(e *entry) (bool, bool) {
		if e.flags&flagInWindow != 0 {
			nt.addGauges(*e, +1)
		}
		return false, true
	})
	nt.Sweep()
	return nt, p, nil
}
