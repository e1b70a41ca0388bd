package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// The state file holds what the counting rule needs to resume exactly where
// a killed process stopped, and nothing an activity says about identities
// beyond ids. Its body, in order, each part with why it is needed:
//
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

// stateFormat is the version of the body's layout; a file of another version
// is discarded, not guessed at.
const stateFormat = 1

// resumable is the refresh's position, as the state file keeps it.
type resumable struct {
	cursor      client.Cursor
	readSince   time.Time
	countFrom   int64 // unix ms
	primed      bool
	lastSuccess time.Time
}

// stateWriter appends the body to a buffer that its owner flushes as it
// grows.
type stateWriter struct{ b []byte }

func (w *stateWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *stateWriter) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *stateWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *stateWriter) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *stateWriter) i64(v int64)  { w.u64(uint64(v)) }
func (w *stateWriter) f64(v float64) {
	w.u64(math.Float64bits(v))
}
func (w *stateWriter) n(v int) { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *stateWriter) str(s string) {
	w.n(len(s))
	w.b = append(w.b, s...)
}
func (w *stateWriter) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

// errCorrupt says that a body does not decode; the file is discarded.
var errCorrupt = errors.New("corrupt state")

// stateReader decodes a body; after the first error every read returns zero
// and err says what went wrong.
type stateReader struct {
	b   []byte
	off int
	err error
}

func (r *stateReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errCorrupt, what, r.off)
	}
}

func (r *stateReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail("unexpected end")
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *stateReader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *stateReader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *stateReader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *stateReader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (r *stateReader) i64() int64   { return int64(r.u64()) }
func (r *stateReader) f64() float64 { return math.Float64frombits(r.u64()) }
func (r *stateReader) bool() bool   { return r.u8() != 0 }

// n reads a count; limit bounds it by what the rest of the body could hold
// (each element takes at least one byte), so a corrupt count cannot make a
// huge allocation.
func (r *stateReader) n() int {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b[r.off:])
	if k <= 0 || v > uint64(len(r.b)-r.off-k) {
		r.fail("bad count")
		return 0
	}
	r.off += k
	return int(v)
}

func (r *stateReader) str() string { return string(r.take(r.n())) }

// index reads a label index and checks it against the table's size.
func (r *stateReader) index(l *labelValues) uint16 {
	i := r.u16()
	if r.err == nil && int(i) >= len(l.values) {
		r.fail("label index out of range")
		return 0
	}
	return i
}

// encodeState writes the body for t and the refresh position p. flush is
// called whenever the buffer has grown past a chunk, so that a million
// tracked activities do not need a 50 MB buffer.
func encodeState(t *tracker, p resumable, flush func([]byte) error) error {
	const chunk = 256 << 10
	w := &stateWriter{b: make([]byte, 0, chunk+4096)}
	emit := func() error {
		if len(w.b) < chunk {
			return nil
		}
		err := flush(w.b)
		w.b = w.b[:0]
		return err
	}

	w.i64(p.cursor.Modified.UnixNano())
	w.n(p.cursor.Offset)
	w.bool(p.cursor.After)
	w.i64(p.readSince.UnixNano())
	w.i64(p.countFrom)
	w.bool(p.primed)
	w.i64(unixMilli(p.lastSuccess))

	for _, l := range t.labels.all() {
		w.n(len(l.values))
		for _, v := range l.values {
			w.str(v)
		}
		w.u64(l.truncated)
	}

	w.n(len(t.shapes.shapes))
	for _, counts := range t.shapes.shapes {
		w.n(len(counts))
		for _, c := range counts {
			w.u16(c.prov)
			w.u16(c.op)
			w.u32(c.n)
		}
	}

	w.n(len(t.activities))
	for k := range t.activities {
		w.u16(k[0])
		w.u16(k[1])
		w.u16(k[2])
	}
	w.n(len(t.items))
	for k := range t.items {
		w.u16(k[0])
		w.u16(k[1])
		w.u16(k[2])
	}
	w.n(len(t.completed))
	for k, v := range t.completed {
		w.u16(k[0])
		w.u16(k[1])
		w.u16(k[2])
		w.u64(v)
	}
	w.n(len(t.itemsCompleted))
	for k, v := range t.itemsCompleted {
		w.u16(k[0])
		w.u16(k[1])
		w.u16(k[2])
		w.u16(k[3])
		w.u64(v)
	}
	for _, m := range []map[uint16]uint64{t.errors, t.warnings} {
		w.n(len(m))
		for k, v := range m {
			w.u16(k)
			w.u64(v)
		}
	}
	w.n(len(t.overflow))
	for k, v := range t.overflow {
		w.str(k)
		w.u64(v)
	}
	w.n(len(t.exemplars))
	for k, ex := range t.exemplars {
		w.u16(k[0])
		w.u16(k[1])
		w.u16(k[2])
		w.str(ex.id)
		w.i64(ex.at)
	}
	w.n(len(t.itemExemplars))
	for k, ex := range t.itemExemplars {
		w.u16(k[0])
		w.u16(k[1])
		w.u16(k[2])
		w.u16(k[3])
		w.str(ex.id)
		w.i64(ex.at)
	}
	w.n(len(t.rejected))
	for k, v := range t.rejected {
		w.str(k)
		w.u64(v)
	}
	w.n(len(t.rejectedSeen))
	for k, at := range t.rejectedSeen {
		w.str(k)
		w.i64(at)
	}
	w.n(len(t.buckets))
	for _, le := range t.buckets {
		w.f64(le)
	}
	w.n(len(t.durations))
	for k, h := range t.durations {
		w.u16(k[0])
		w.u16(k[1])
		w.u64(h.count)
		w.f64(h.sum)
		for _, b := range h.buckets {
			w.u64(b)
		}
	}
	if err := emit(); err != nil {
		return err
	}

	writeEntry := func(e entry) {
		w.i64(e.created)
		w.i64(e.modified)
		w.i64(e.doneAt)
		w.u32(e.shape)
		w.u16(e.typ)
		w.u16(e.cs)
		w.u16(e.es)
		w.u8(e.flags)
	}
	w.n(len(t.entries.compact))
	for k, e := range t.entries.compact {
		w.b = append(w.b, k[:]...)
		writeEntry(e)
		if err := emit(); err != nil {
			return err
		}
	}
	w.n(len(t.entries.other))
	for id, e := range t.entries.other {
		w.str(id)
		writeEntry(e)
		if err := emit(); err != nil {
			return err
		}
	}
	if len(w.b) == 0 {
		return nil
	}
	return flush(w.b)
}

// decodeState rebuilds a tracker (configured like t, which it does not
// change) and the refresh position from a body. It returns an error
// matching errCorrupt for anything that does not decode or does not fit.
func decodeState(body []byte, t *tracker) (*tracker, resumable, error) {
	r := &stateReader{b: body}
	var p resumable
	p.cursor.Modified = time.Unix(0, r.i64()).UTC()
	p.cursor.Offset = r.n()
	p.cursor.After = r.bool()
	p.readSince = time.Unix(0, r.i64()).UTC()
	p.countFrom = r.i64()
	p.primed = r.bool()
	if ms := r.i64(); ms != 0 {
		p.lastSuccess = time.UnixMilli(ms)
	}

	nt := newTracker(t.lookback, t.labels.typ.max, t.labels.source.max, t.now)
	nt.countFrom = p.countFrom
	for _, l := range nt.labels.all() {
		n := r.n()
		values := make([]string, 0, n)
		for range n {
			values = append(values, r.str())
		}
		if r.err == nil && (n < 2 || n > 1<<16 || values[noneIndex] != labelNone || values[otherIndex] != labelOther) {
			r.fail("bad label table")
		}
		if r.err != nil {
			break
		}
		l.values = values
		for i, v := range values[2:] {
			l.index[v] = uint16(i + 2)
		}
		l.truncated = r.u64()
	}

	shapes := make([][]itemCount, r.n())
	for i := range shapes {
		n := r.n()
		if n == 0 {
			continue
		}
		counts := make([]itemCount, n)
		for j := range counts {
			counts[j] = itemCount{prov: r.index(nt.labels.provisioning), op: r.index(nt.labels.operation), n: r.u32()}
		}
		shapes[i] = counts
	}
	if r.err == nil && (len(shapes) == 0 || shapes[0] != nil) {
		r.fail("bad shape table")
	}

	l := &nt.labels
	for range r.n() {
		nt.activities[activityKey{r.index(l.typ), r.index(l.completion), r.index(l.execution)}] = 0
	}
	for range r.n() {
		nt.items[itemKey{r.index(l.typ), r.index(l.provisioning), r.index(l.operation)}] = 0
	}
	for range r.n() {
		k := activityKey{r.index(l.typ), r.index(l.completion), r.index(l.execution)}
		nt.completed[k] = r.u64()
	}
	for range r.n() {
		k := itemSourceKey{r.index(l.typ), r.index(l.provisioning), r.index(l.operation), r.index(l.source)}
		nt.itemsCompleted[k] = r.u64()
	}
	for _, m := range []map[uint16]uint64{nt.errors, nt.warnings} {
		for range r.n() {
			k := r.index(l.typ)
			m[k] = r.u64()
		}
	}
	for range r.n() {
		k := r.str()
		nt.overflow[k] = r.u64()
	}
	for range r.n() {
		k := activityKey{r.index(l.typ), r.index(l.completion), r.index(l.execution)}
		nt.exemplars[k] = exemplar{id: r.str(), at: r.i64()}
	}
	for range r.n() {
		k := itemSourceKey{r.index(l.typ), r.index(l.provisioning), r.index(l.operation), r.index(l.source)}
		nt.itemExemplars[k] = exemplar{id: r.str(), at: r.i64()}
	}
	for range r.n() {
		k := r.str()
		nt.rejected[k] = r.u64()
	}
	for range r.n() {
		k := r.str()
		nt.rejectedSeen[k] = r.i64()
	}
	buckets := make([]float64, r.n())
	for i := range buckets {
		buckets[i] = r.f64()
	}
	if r.err == nil && !slices.Equal(buckets, nt.buckets) {
		r.fail("histogram buckets differ from this version's")
	}
	for range r.n() {
		if r.err != nil {
			break
		}
		k := durationKey{r.index(l.typ), r.index(l.completion)}
		h := &durationHistogram{count: r.u64(), sum: r.f64(), buckets: make([]uint64, len(nt.buckets))}
		for i := range h.buckets {
			h.buckets[i] = r.u64()
		}
		nt.durations[k] = h
	}

	refs := make([]int, len(shapes))
	readEntry := func() entry {
		e := entry{created: r.i64(), modified: r.i64(), doneAt: r.i64(), shape: r.u32(),
			typ: r.index(l.typ), cs: r.index(l.completion), es: r.index(l.execution), flags: r.u8()}
		if r.err == nil && int(e.shape) >= len(shapes) {
			r.fail("shape out of range")
			return entry{}
		}
		if e.shape != 0 {
			refs[e.shape]++
		}
		return e
	}
	n := r.n()
	nt.entries.compact = make(map[[16]byte]entry, n)
	for range n {
		var k [16]byte
		copy(k[:], r.take(16))
		e := readEntry()
		if r.err != nil {
			break
		}
		nt.entries.compact[k] = e
	}
	for range r.n() {
		id := r.str()
		e := readEntry()
		if r.err != nil {
			break
		}
		nt.entries.other[id] = e
	}
	if r.err == nil && r.off != len(body) {
		r.fail("data after the end")
	}
	if r.err != nil {
		return nil, resumable{}, r.err
	}

	// The shape table's references and the gauges follow from the entries.
	nt.shapes.restore(shapes, refs)
	nt.entries.update(func(e *entry) (bool, bool) {
		if e.flags&flagInWindow != 0 {
			nt.addGauges(*e, +1)
		}
		return false, true
	})
	nt.sweep()
	return nt, p, nil
}
