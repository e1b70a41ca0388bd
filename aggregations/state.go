package aggregations

import (
	"fmt"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// The aggregations' section of the state file holds what their counting
// rule needs to resume exactly where a killed process stopped, and nothing
// a task says beyond ids and times. In order, each part with why:
//
//   - the section's format and the lookback it was written with: what is
//     tracked and the gauges follow from the lookback, so a section of
//     another lookback is not used.
//   - the position: whether the first pass began and when counting started
//     (finishes before it are history), and for each watched type whether
//     its first pass is over and the newest creation time a complete listing
//     saw (the next listing reads back to it, less the overlap); the last
//     successful read.
//   - the label tables: counters and tasks store label values as indexes.
//   - every counter, its exemplar, the rejections, and every histogram,
//     so that they continue instead of resetting.
//   - every tracked task: enough to never count one twice, to follow up the
//     running ones, and to find each status' latest finish within the
//     lookback.
const sectionFormat = 1

// SectionName is the aggregations' section of the state file.
const SectionName = "aggregations"

// position is what the state file keeps of the reading.
type position struct {
	started     bool
	primed      map[string]bool
	watermarks  map[string]time.Time
	lastSuccess time.Time
}

func encodeState(w *state.Encoder, t *tracker, p position) {
	w.U8(sectionFormat)
	w.I64(t.lookback.Milliseconds())
	w.Bool(p.started)
	w.I64(t.countFrom)
	w.I64(area.UnixMilli(p.lastSuccess))
	w.N(len(p.watermarks))
	for typ, at := range p.watermarks {
		w.Str(typ)
		w.Bool(p.primed[typ])
		w.I64(at.UnixNano())
	}
	for _, l := range []interface{ EncodeState(*state.Encoder) }{t.sources, t.types, t.statuses} {
		l.EncodeState(w)
	}
	writeKey := func(k seriesKey) { w.U16(k[0]); w.U16(k[1]); w.U16(k[2]) }
	w.N(len(t.completed))
	for k, v := range t.completed {
		writeKey(k)
		w.U64(v)
	}
	w.N(len(t.exemplars))
	for k, ex := range t.exemplars {
		writeKey(k)
		w.Str(ex.id)
		w.I64(ex.at)
	}
	w.N(len(t.overflow))
	for k, v := range t.overflow {
		w.Str(k)
		w.U64(v)
	}
	t.rejections.EncodeState(w)
	area.EncodeHistograms(w, t.buckets, t.durations)
	w.Flush()
	writeTask := func(e task) {
		w.I64(e.created)
		w.I64(e.launched)
		w.I64(e.modified)
		w.I64(e.doneAt)
		w.U16(e.source)
		w.U16(e.typ)
		w.U16(e.status)
		w.U8(e.flags)
	}
	t.tasks.EncodeState(w, writeTask)
}

// CountingSince says, from section (the state file's aggregations section),
// when counting started: finishes before it are history. Zero when the
// first pass has not begun.
func CountingSince(section []byte) (time.Time, error) {
	r := state.NewDecoder(section)
	r.U8()
	r.I64()
	started, countFrom := r.Bool(), r.I64()
	if err := r.Err(); err != nil || !started {
		return time.Time{}, err
	}
	return time.UnixMilli(countFrom), nil
}

// decodeState rebuilds a tracker configured like t (which it does not
// change) and the position from a section. Its errors match
// state.ErrSettings for a section of another lookback or format, and
// state.ErrCorrupt for anything that does not decode or fit.
func decodeState(body []byte, t *tracker, types []string) (*tracker, position, error) {
	r := state.NewDecoder(body)
	if v := r.U8(); r.Err() == nil && v != sectionFormat {
		return nil, position{}, &state.BadFileError{Reason: fmt.Sprintf("aggregations section of format %d, this exporter reads %d", v, sectionFormat), Err: state.ErrSettings}
	}
	if lookback := time.Duration(r.I64()) * time.Millisecond; r.Err() == nil && lookback != t.lookback {
		return nil, position{}, &state.BadFileError{
			Reason: fmt.Sprintf("written with --aggregations.lookback=%s, this run uses %s", lookback, t.lookback),
			Err:    state.ErrSettings,
		}
	}
	p := position{started: r.Bool(), primed: map[string]bool{}, watermarks: map[string]time.Time{}}
	nt := newTracker(t.lookback, types, t.sources.Max(), t.now, t.descs)
	nt.countFrom = r.I64()
	if ms := r.I64(); ms != 0 {
		p.lastSuccess = time.UnixMilli(ms)
	}
	for range r.N() {
		typ := r.Str()
		p.primed[typ] = r.Bool()
		p.watermarks[typ] = time.Unix(0, r.I64()).UTC()
	}
	for _, l := range []interface{ DecodeState(*state.Decoder) }{nt.sources, nt.types, nt.statuses} {
		l.DecodeState(r)
	}
	// Types watched now that the file did not know get their index after
	// the file's: an index, once given, is a counter's for life.
	for _, typ := range types {
		nt.types.Lookup(typ)
	}
	readKey := func() seriesKey {
		return seriesKey{r.Index(nt.sources.Len()), r.Index(nt.types.Len()), r.Index(nt.statuses.Len())}
	}
	for range r.N() {
		k := readKey()
		nt.completed[k] = r.U64()
	}
	for range r.N() {
		k := readKey()
		nt.exemplars[k] = exemplar{id: r.Str(), at: r.I64()}
	}
	for range r.N() {
		k := r.Str()
		nt.overflow[k] = r.U64()
	}
	nt.rejections.DecodeState(r)
	area.DecodeHistograms(r, nt.buckets, nt.durations, nt.types.Len(), nt.statuses.Len())
	readTask := func() task {
		return task{created: r.I64(), launched: r.I64(), modified: r.I64(), doneAt: r.I64(),
			source: r.Index(nt.sources.Len()), typ: r.Index(nt.types.Len()), status: r.Index(nt.statuses.Len()), flags: r.U8()}
	}
	nt.tasks.DecodeState(r, readTask)
	if err := r.Done(); err != nil {
		return nil, position{}, err
	}
	nt.Sweep()
	return nt, p, nil
}
