package client

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"
)

// ScanRanges reads what Scan reads from `from` on, but as ranges of
// `modified` side by side where that helps, so that a long first pass runs
// at the rate limit rather than at ISC's latency: one page after another, a
// scan waits for every answer (about 150 ms), and never sends more than
// 1/latency requests a second whatever it is allowed.
//
// It starts as Scan, one walk from `from` on, whose first request asks how
// many records it will read (count=true, ISC's X-Total-Count). When the
// rate limit allows more requests in ISC's answer time than the walks busy
// send (the client keeps a mean of its answer times), an idle walk cuts the
// range with the most left (at least two pages) in two, at the middle of
// the time it has left before until, and reads the later half; each half's
// first request asks for its count too, which tells how much the other has
// left. So the ranges follow where the activities are, at most workers are
// read at a time, and where one walk already keeps up with the rate (a
// fast ISC) there is no cut, and no cost: a cut costs about one request,
// the two halves' last pages. A range is read by key as Scan reads it,
// bounded above where it was cut (filters=modified ge A and modified lt B;
// lt on modified is documented for the list operation in every version).
//
// The last range has no end: it is read to the end last, once every other
// is read (a walk that reaches the end sooner waits, then reads on), so
// that what changed while they were read, which has a newer modified, is
// read there, and the scan ends where one scan would have. A record that
// left an instant a range paged with an offset, read again there with its
// newer modified, makes that instant be read again.
//
// fn is called by one goroutine at a time, with the pages of the ranges in
// no particular order. Each page's Resume is where a later scan may resume
// once the pages so far are applied: the start of the first range not read
// to its end, or where that range got to, never past an instant to read
// again; the last one is where Scan would have ended. So a cursor kept from
// the pages is never later than a record not yet delivered.
func (c *Client) ScanRanges(ctx context.Context, from Cursor, until time.Time, workers int, fn PageFunc) error {
	_, err := c.scanRanges(ctx, from, until, workers, fn)
	return err
}

// scanRanges is ScanRanges; it returns the scan, for tests to look at its
// ranges (nil when it fell back to Scan).
func (c *Client) scanRanges(ctx context.Context, from Cursor, until time.Time, workers int, fn PageFunc) (*rangeScan, error) {
	workers = min(workers, max(1, int(math.Ceil(c.cfg.RequestsPerSecond))))
	span := until.Sub(from.Modified)
	if workers < 2 || span < time.Duration(workers)*time.Millisecond {
		return nil, c.Scan(ctx, from, fn)
	}
	rs := &rangeScan{c: c, fn: fn, workers: workers, until: until, offsetRead: map[string]time.Time{}, changed: map[string]time.Time{}}
	rs.wake = sync.NewCond(&rs.mu)
	rs.spans = []*rangeSpan{{w: newWalk(from, time.Time{}), total: -1}}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			if err := rs.work(wctx); err != nil {
				rs.fail(err)
				cancel()
			}
		})
	}
	wg.Wait()
	if rs.err != nil {
		return rs, rs.err
	}
	return rs, rs.finish(ctx)
}

// rangeScan is one ScanRanges: its ranges, and what its walks share.
type rangeScan struct {
	c       *Client
	fn      PageFunc
	workers int
	until   time.Time // ranges are cut before it

	mu    sync.Mutex // held to change what follows, and while fn runs
	wake  *sync.Cond // a range ended, was cut, or the scan failed
	spans []*rangeSpan
	busy  int // ranges being read
	// offsetRead holds, for every walk, the ids read at an instant later
	// paged with an offset, with that instant; again, the instants to read
	// again, ascending.
	offsetRead map[string]time.Time
	again      []time.Time
	// changed holds the newest modified delivered of every record changed
	// while the scan runs (modified at or after until): a walk may take the
	// new version of a record before another takes the old one at an
	// instant it then pages with an offset, and take, which looks for the
	// new version after the old, would not see it leave.
	changed map[string]time.Time
	// last is the newest modified delivered: where one scan would have
	// ended, should the last range find nothing after it.
	last time.Time
	err  error
}

// rangeSpan is one range of a rangeScan.
type rangeSpan struct {
	w *walk
	// end is where the range ends now (zero: the last range, which has
	// none); its walk takes it before each request, since a cut can move it
	// meanwhile.
	end                 time.Time
	started, busy, done bool
	// waiting is the last range, read to the end before the others: it
	// reads on once they are read.
	waiting bool
	resume  Cursor // what the range's last page said, once started
	total   int    // records in the range, as far as known; -1 unknown
	read    int    // elements delivered
	// cut is the half last cut off this range while its count is still to
	// come, and cutFrom that half's range; totalBeforeCut is the range's
	// total when it was cut.
	cut, cutFrom   *rangeSpan
	totalBeforeCut int
}

func (rs *rangeScan) fail(err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.err == nil || errors.Is(rs.err, context.Canceled) {
		rs.err = err
	}
	rs.wake.Broadcast()
}

// work reads ranges until there are none left to read or to cut.
func (rs *rangeScan) work(ctx context.Context) error {
	d := rs.c.decoders.Get().(*pageDecoder)
	defer rs.c.decoders.Put(d)
	for {
		s := rs.claim()
		if s == nil {
			return nil
		}
		for {
			limit, err := rs.c.fetch(ctx, d, s.w)
			if err != nil {
				return err
			}
			done, err := rs.deliver(s, limit)
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
}

// claim returns a range to read: one not started yet, one cut off the busy
// range with the most left, or the last range to read on once every other
// is read; nil when there is none and there will be none, because no range
// is being read any more (or the scan failed).
func (rs *rangeScan) claim() *rangeSpan {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for rs.err == nil {
		if s := rs.pick(); s != nil {
			if !s.started {
				s.started = true
				s.w.count, s.resume = true, s.w.cur
			}
			s.busy, s.waiting = true, false
			rs.busy++
			return s
		}
		if rs.busy == 0 {
			return nil
		}
		rs.wake.Wait()
	}
	return nil
}

// pick finds the next range to read; rs.mu is held.
func (rs *rangeScan) pick() *rangeSpan {
	others := true // every range but the last is read
	for _, s := range rs.spans {
		if !s.started {
			return s
		}
		others = others && (s.done || s.end.IsZero())
	}
	if last := rs.spans[len(rs.spans)-1]; last.waiting && others {
		return last
	}
	if rs.busy >= rs.useful() {
		return nil
	}
	// Cut the busy range with the most left, if that is at least two
	// pages: below that, the cut's cost (about a request) buys nothing.
	var best *rangeSpan
	bestLeft := 2*rs.c.cfg.PageSize - 1
	for _, s := range rs.spans {
		if !s.busy || s.total < 0 || s.cut != nil {
			continue
		}
		if left := s.total - s.read; left > bestLeft {
			best, bestLeft = s, left
		}
	}
	if best == nil {
		return nil
	}
	at, end := best.w.cur.Modified, best.end
	if end.IsZero() || end.After(rs.until) {
		end = rs.until
	}
	mid := at.Add(end.Sub(at) / 2).Truncate(time.Millisecond)
	if !mid.After(at) {
		return nil
	}
	half := &rangeSpan{w: newWalk(Cursor{Modified: mid}, best.end), end: best.end, total: -1, cutFrom: best}
	best.end, best.cut, best.totalBeforeCut = mid, half, best.total
	i := slices.Index(rs.spans, best)
	rs.spans = slices.Insert(rs.spans, i+1, half)
	return half
}

// useful is how many ranges are worth reading at a time: one where one
// walk sends four fifths or more of the requests the rate limit allows
// (the mean answer time jitters, and a pass cut in two then waits for its
// slower half at the end for nothing); else as many as the rate allows
// within an answer time, and one more to cover what a walk does between
// answers.
func (rs *rangeScan) useful() int {
	perAnswer := rs.c.cfg.RequestsPerSecond * rs.c.answerTime().Seconds()
	if perAnswer <= 1.25 {
		return 1
	}
	return min(rs.workers, int(math.Ceil(perAnswer))+1)
}

// deliver takes in the page s's walk fetched and hands it to fn; done says
// the range is read to its end.
func (rs *rangeScan) deliver(s *rangeSpan, limit int) (done bool, err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	defer rs.wake.Broadcast()
	if rs.err != nil {
		return true, rs.err
	}
	page, done, err := rs.c.take(s.w, limit, rs.offsetRead, rs.readAgain)
	if err != nil {
		return true, err
	}
	rs.crossCheck(page)
	if s.total < 0 && s.w.total >= 0 {
		s.total = s.w.total
	}
	if p := s.cutFrom; p != nil {
		// The half's count says how much the range it was cut off has left.
		p.total = -1
		if s.total >= 0 && p.totalBeforeCut >= 0 {
			p.total = max(p.read, p.totalBeforeCut-s.total)
		}
		p.cut, s.cutFrom = nil, nil
	}
	s.read += len(page.Activities) + len(page.Rejected)
	for i := range page.Activities {
		rs.last = maxTime(rs.last, page.Activities[i].Modified)
	}
	for i := range page.Rejected {
		rs.last = maxTime(rs.last, page.Rejected[i].Modified)
	}
	// A cut while this page was asked for: what the page holds past the
	// new end is the other half's, and read again there.
	s.w.end = s.end
	if !done && !s.end.IsZero() && !s.w.cur.Modified.Before(s.end) {
		done = true
	}
	s.resume = page.Resume
	if done {
		s.busy = false
		rs.busy--
		s.done = !s.end.IsZero() || rs.othersDone(s)
		// The last range read to the end before the others: it reads on
		// once they are, for what changes meanwhile.
		s.waiting = !s.done
		if s.done && s.end.IsZero() && s.read == 0 && !rs.last.IsZero() {
			// Cut off past the newest record: one scan would have ended
			// after that record, not where the cut fell.
			s.resume = Cursor{Modified: rs.last, After: rs.last.Before(rs.c.Now().Add(-afterMargin))}
		}
	}
	page.Resume = rs.resumePoint()
	return done, rs.fn(page)
}

// othersDone reports whether every range but s is read to its end.
func (rs *rangeScan) othersDone(s *rangeSpan) bool {
	for _, o := range rs.spans {
		if o != s && !o.done {
			return false
		}
	}
	return true
}

// crossCheck notes the records of page changed while the scan runs, and
// has an instant read again where a record read there, about to be paged
// past with an offset, was already delivered with a newer modified by
// another walk: it left the instant, and the offset may skip a record.
// rs.mu is held.
func (rs *rangeScan) crossCheck(page Page) {
	for i := range page.Activities {
		a := &page.Activities[i]
		if at, ok := rs.offsetRead[a.ID]; ok && at.Equal(a.Modified) {
			if newer, ok := rs.changed[a.ID]; ok && newer.After(at) {
				delete(rs.offsetRead, a.ID)
				rs.readAgain(at)
			}
		}
		if !a.Modified.Before(rs.until) && a.Modified.After(rs.changed[a.ID]) {
			rs.changed[a.ID] = a.Modified
		}
	}
}

// readAgain notes an instant to read again; rs.mu is held.
func (rs *rangeScan) readAgain(at time.Time) {
	i, found := slices.BinarySearchFunc(rs.again, at, time.Time.Compare)
	if !found {
		rs.again = slices.Insert(rs.again, i, at)
	}
}

// resumePoint is where a later scan may resume: the start of the first
// range not read to its end, or where it got to; never past an instant to
// read again. rs.mu is held.
func (rs *rangeScan) resumePoint() Cursor {
	at := rs.spans[len(rs.spans)-1].resume // all read: where the last ended
	for _, s := range rs.spans {
		if s.done {
			continue
		}
		at = s.w.cur // a range not started yet: its start
		if s.started {
			at = s.resume
		}
		break
	}
	return rs.hold(at)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hold keeps a cursor from passing an instant to read again.
func (rs *rangeScan) hold(at Cursor) Cursor {
	if len(rs.again) > 0 {
		if first := (Cursor{Modified: rs.again[0]}); first.Before(at) {
			return first
		}
	}
	return at
}

// finish reads again, once every range is read, from each instant where a
// record left one a range paged with an offset to the end of that range:
// the record's leaving shifted the range's next page by one, so the record
// after the instant, at a later instant of the same range, may not have
// been read (Scan, for the same reason, reads again from the instant to its
// end). Then it reads on from where the last range ended, to notice a
// record that left one of those instants meanwhile; at most maxRescans
// times.
func (rs *rangeScan) finish(ctx context.Context) error {
	d := rs.c.decoders.Get().(*pageDecoder)
	defer rs.c.decoders.Put(d)
	cur := rs.spans[len(rs.spans)-1].resume
	for rounds := 0; ; rounds++ {
		rs.mu.Lock()
		again := slices.Clone(rs.again)
		rs.mu.Unlock()
		if len(again) == 0 || rounds >= maxRescans {
			return nil
		}
		rs.c.logger.Debug("records changed while paging; reading again", "instants", len(again), "from", formatTimestamp(again[0]))
		for len(again) > 0 {
			// The earliest instant left, to the end of its range, which
			// covers the later instants of that range too.
			at, end := again[0], rs.endOf(again[0])
			covered := len(again)
			if !end.IsZero() {
				covered, _ = slices.BinarySearchFunc(again, end, time.Time.Compare)
			}
			reread := again[:covered]
			again = again[covered:]
			w := newWalk(Cursor{Modified: at}, end)
			for done := false; !done; {
				limit, err := rs.c.fetch(ctx, d, w)
				if err != nil {
					return err
				}
				if done, err = rs.deliverAt(w, limit, func(p Page, done bool) Cursor {
					if !done {
						return cur
					}
					for _, t := range reread {
						if i, found := slices.BinarySearchFunc(rs.again, t, time.Time.Compare); found {
							rs.again = slices.Delete(rs.again, i, i+1)
						}
					}
					if end.IsZero() {
						// The last range read again to its end: where the
						// scan ends now.
						cur = p.Resume
					}
					return cur
				}); err != nil {
					return err
				}
			}
		}
		w := newWalk(cur, time.Time{})
		for done := false; !done; {
			limit, err := rs.c.fetch(ctx, d, w)
			if err != nil {
				return err
			}
			if done, err = rs.deliverAt(w, limit, func(p Page, done bool) Cursor {
				if done {
					cur = p.Resume
				}
				return p.Resume
			}); err != nil {
				return err
			}
		}
	}
}

// endOf is the end of the range that holds the instant at: zero for the
// last range, which has none. The ranges are contiguous and in order.
func (rs *rangeScan) endOf(at time.Time) time.Time {
	for _, s := range rs.spans {
		if !s.end.IsZero() && at.Before(s.end) {
			return s.end
		}
	}
	return time.Time{}
}

// deliverAt takes in a page of one of finish's walks and hands it to fn,
// with the Resume resume says, held before the instants to read again.
func (rs *rangeScan) deliverAt(w *walk, limit int, resume func(p Page, done bool) Cursor) (bool, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	page, done, err := rs.c.take(w, limit, rs.offsetRead, rs.readAgain)
	if err != nil {
		return true, err
	}
	rs.crossCheck(page)
	page.Resume = rs.hold(resume(page, done))
	return done, rs.fn(page)
}

// answerTimes keeps the mean time ISC takes to answer, an exponentially
// weighted mean of the latest answers.
type answerTimes struct {
	mu sync.Mutex
	m  time.Duration
}

func (a *answerTimes) observe(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == 0 {
		a.m = d
		return
	}
	a.m += (d - a.m) / 8
}

func (a *answerTimes) mean() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m
}
