package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cursor marks how far a scan has read, in ISC's order of `modified`: every
// activity modified before Modified, and the first Offset of those modified
// exactly at Modified; with After, every one modified at Modified too (the
// next scan asks for `modified gt`, so that the last instant of a finished
// scan, a bulk refresh of thousands, is not read again and again).
type Cursor struct {
	Modified time.Time
	Offset   int
	After    bool
}

// Before reports whether c is an earlier position than d.
func (c Cursor) Before(d Cursor) bool {
	switch {
	case !c.Modified.Equal(d.Modified):
		return c.Modified.Before(d.Modified)
	case c.After != d.After:
		return d.After
	}
	return c.Offset < d.Offset
}

// Page is what one list request delivered: the activities the scan had not
// yet delivered, and the cursor from which a later scan may resume once they
// are applied. The slices are reused after the PageFunc returns.
type Page struct {
	Activities []Activity
	// Rejected are the elements of the page that are not activities the
	// exporter can use, each with the reason; At is the cursor of the request
	// they came in.
	Rejected []Rejection
	Resume   Cursor
}

// PageFunc receives each page of a scan, in order.
type PageFunc func(p Page) error

// afterMargin is how far ISC's clock must be past the last instant read for
// the next scan to skip that instant: a change within the same millisecond,
// after the read, would otherwise be missed.
const afterMargin = time.Second

// maxRescans bounds how often one scan re-reads a stretch in which a record
// may have been skipped; each rescan is caused by a concurrent change in ISC.
const maxRescans = 3

// Scan reads every activity modified at or after the cursor, page by page,
// oldest modification first. Each page carries the cursor the next scan
// resumes from; the last page's is where this scan ended.
//
// Plain offset paging would skip records: one modified during the scan moves
// to the end and shifts the rest under the offset. So pages are keyed on
// `modified` (filters=modified ge T, sorters=modified), and an offset is only
// used within one instant of `modified`, for the records already read at that
// instant; that also covers more than a page of records sharing one instant,
// as a bulk refresh makes. A record that leaves such an instant while the scan
// is past it can shift the others by one; it reappears later in the scan with
// a newer `modified`, and the scan then re-reads from that instant. Records
// may therefore be delivered twice, never with a different `modified` than
// ISC holds, so callers de-duplicate by id and modified.
func (c *Client) Scan(ctx context.Context, from Cursor, fn PageFunc) error {
	d := c.decoders.Get().(*pageDecoder)
	defer c.decoders.Put(d)

	w := newWalk(from, time.Time{})
	var (
		offsetRead = map[string]time.Time{} // ids read at an instant later paged with an offset
		rescanFrom time.Time
		rescans    int
	)
	rescan := func(at time.Time) {
		if rescanFrom.IsZero() || at.Before(rescanFrom) {
			rescanFrom = at
		}
	}
	for {
		limit, err := c.fetch(ctx, d, w)
		if err != nil {
			return err
		}
		page, done, err := c.take(w, limit, offsetRead, rescan)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if !done {
			continue
		}
		if rescanFrom.IsZero() || rescans >= maxRescans {
			return nil
		}
		c.logger.Debug("records changed while paging; reading again", "from", formatTimestamp(rescanFrom))
		rescans++
		w.restart(Cursor{Modified: rescanFrom})
		rescanFrom = time.Time{}
		clear(offsetRead)
	}
}

// walk is one keyset walk over the activities modified from cur on, and
// before end when end is set: Scan's one, or one range of ScanRanges.
type walk struct {
	cur Cursor
	end time.Time // exclusive; zero: no end
	// count asks ISC with the next request how many records the walk has
	// in all (count=true); total is what the last answer to such a request
	// said, -1 when none did.
	count bool
	total int

	res      listResult
	atCursor map[string]struct{} // ids read at cur.Modified
	narrow   narrowing
}

func newWalk(from Cursor, end time.Time) *walk {
	return &walk{cur: from, end: end, total: -1, atCursor: map[string]struct{}{}}
}

// restart moves the walk back to from, to read a stretch again.
func (w *walk) restart(from Cursor) {
	w.cur = from
	clear(w.atCursor)
}

// fetch asks ISC for the walk's next page and decodes it into w.res,
// narrowing the request down to the one record that cannot be read when an
// answer does not decode; it returns the limit it asked for. It touches the
// walk alone, so walks fetch side by side.
func (c *Client) fetch(ctx context.Context, d *pageDecoder, w *walk) (int, error) {
	for {
		limit := w.narrow.limit(c.cfg.PageSize)
		total, err := c.listPage(ctx, d, w, limit)
		var repeated *repeatedDecodeError
		switch {
		case errors.As(err, &repeated):
			// The same answer keeps failing to decode: find the one record
			// it cannot read with smaller pages, and skip exactly that one.
			if !w.narrow.failed(limit, repeated.DecodeError) {
				return 0, err
			}
			if limit > 1 {
				c.logger.Debug("an answer of ISC does not decode; asking for fewer activities to find the record", "from", formatTimestamp(w.cur.Modified), "offset", w.cur.Offset, "limit", w.narrow.next, "err", err)
				continue
			}
			w.res = isolated(w.cur, repeated.DecodeError)
			return limit, nil
		case err != nil:
			return 0, err
		}
		w.narrow.succeeded(limit)
		if w.count {
			w.count, w.total = false, total
		}
		return limit, nil
	}
}

// take turns the page fetch decoded into the Page to deliver and moves the
// walk past it; done says the walk has reached its end (a page shorter than
// asked for). offsetRead holds, for every walk of the scan, the ids read at
// an instant later paged with an offset, with that instant; rescan is told
// of such an instant where one of them reappears with a newer modified: it
// left the instant, and may have shifted a record under the offset.
func (c *Client) take(w *walk, limit int, offsetRead map[string]time.Time, rescan func(at time.Time)) (page Page, done bool, err error) {
	res, cur := &w.res, w.cur
	elements := len(res.modified)
	full := elements == limit
	next := advance(cur, res.modified)
	c.unexpected(EndpointList, UnexpectedUnsorted, !sortedByModified(res.modified),
		"ISC returned a page not sorted by modified; records may be missed", "from", formatTimestamp(cur.Modified))

	activities := res.activities
	fresh := 0
	for i := range activities {
		a := &activities[i]
		if at, ok := offsetRead[a.ID]; ok && a.Modified.After(at) {
			delete(offsetRead, a.ID)
			rescan(at)
		}
		if a.Modified.Equal(cur.Modified) {
			if _, dup := w.atCursor[a.ID]; dup {
				continue
			}
		}
		// Swap, not copy: each element owns the backing array of its items.
		activities[fresh], activities[i] = activities[i], activities[fresh]
		fresh++
	}
	if full && fresh == 0 && len(res.rejected) == 0 && next.Modified.Equal(cur.Modified) && cur.Offset > 0 {
		return Page{}, false, fmt.Errorf("list account activities: ISC answered offset %d with records already read; it may ignore offset", cur.Offset)
	}
	if !next.Modified.Equal(cur.Modified) {
		clear(w.atCursor)
	}
	for i := range activities {
		if activities[i].Modified.Equal(next.Modified) {
			w.atCursor[activities[i].ID] = struct{}{}
			if full && next.Offset > 0 {
				offsetRead[activities[i].ID] = next.Modified
			}
		}
	}
	resume := Cursor{Modified: next.Modified}
	switch {
	case !full && (elements > 0 || !cur.After) && next.Modified.Before(c.Now().Add(-afterMargin)):
		// The end, at an instant ISC's clock has left: everything up to
		// and at it is read, and nothing can be modified at it any more.
		resume.After = true
	case !full && (elements > 0 || !cur.After):
		// The end, at an instant still current: a change may yet come at
		// it, so the next scan reads it again.
	case !full:
		resume = cur
	case next.Modified.Equal(cur.Modified):
		// Inside an instant larger than a page: resuming at its start
		// could read the same page forever.
		resume = next
	}
	for i := range res.rejected {
		res.rejected[i].At = cur
	}
	if !full {
		next = resume
	}
	w.cur = next
	return Page{Activities: activities[:fresh], Rejected: res.rejected, Resume: resume}, !full, nil
}

// narrowing is the search for a record that ISC sends in a form that cannot
// be read. The page that fails is asked for again with a smaller limit:
// where the decoder knows in which element it failed, the elements before it
// (which are fine) and then that one alone; otherwise by halving. A page of
// one element that fails is the record: it is skipped. Cost: about 3 extra
// requests when the element is known, at most about 2·log2(page size)
// otherwise, and never more than budget requests before normal paging
// resumes.
type narrowing struct {
	next, after int // limits of the next request and of the one after it; 0: normal
	budget      int
}

func (n *narrowing) limit(pageSize int) int {
	if n.next == 0 {
		return pageSize
	}
	return n.next
}

// failed narrows after a page of limit elements failed with err; false
// when narrowing cannot help (the answer is not a list at all).
func (n *narrowing) failed(limit int, err *DecodeError) bool {
	if n.next == 0 {
		n.budget = 2*bits.Len(uint(limit)) + 4
	}
	switch {
	case limit == 1:
		// Isolated, if the failure is in that one element.
		n.next, n.after = 0, 0
		return err.Element == 0 || err.Reason == RejectTooLarge
	case err.Element > 0:
		n.next, n.after = err.Element, 1
	case err.Element == 0:
		n.next, n.after = 1, 1
	default:
		n.next, n.after = max(1, limit/2), max(1, limit/2)
	}
	return true
}

func (n *narrowing) succeeded(limit int) {
	if n.next == 0 {
		return
	}
	n.budget--
	n.next = n.after
	if n.budget <= 0 {
		n.next, n.after = 0, 0
	}
}

// isolated is the page of one record that cannot be read: a rejection in
// its place, of unknown modified, so that the cursor moves past it.
func isolated(cur Cursor, err *DecodeError) listResult {
	key := err.Hash
	if len(key) > 32 {
		key = key[:32]
	}
	return listResult{
		rejected: []Rejection{{Reason: err.Reason, ID: err.ID, Key: "sha256:" + key, Detail: err.Error()}},
		modified: []time.Time{{}},
	}
}

// advance returns the cursor after a page read at cur, given the modified
// time of each of its elements in order (zero where a rejected element's
// could not be read). Such an element counts at the last instant only if
// the known element before it is at that instant: counting it otherwise
// could skip a record, while not counting it at most reads one again.
func advance(cur Cursor, modified []time.Time) Cursor {
	last := cur.Modified
	for _, m := range modified {
		if m.After(last) {
			last = m
		}
	}
	if last.Equal(cur.Modified) {
		return Cursor{Modified: last, Offset: cur.Offset + len(modified), After: cur.After}
	}
	n := 0
	left := cur.Modified
	for _, m := range modified {
		switch {
		case !m.IsZero():
			left = m
			if m.Equal(last) {
				n++
			}
		case left.Equal(last):
			n++
		}
	}
	return Cursor{Modified: last, Offset: n}
}

// sortedByModified ignores null modified times, which a filter on modified
// should not return at all.
func sortedByModified(modified []time.Time) bool {
	var last time.Time
	for _, m := range modified {
		if m.IsZero() {
			continue
		}
		if m.Before(last) {
			return false
		}
		last = m
	}
	return true
}

// listPage reads the walk's next page of at most limit activities into
// w.res; total is ISC's X-Total-Count when the walk asked for it, else -1.
func (c *Client) listPage(ctx context.Context, d *pageDecoder, w *walk, limit int) (total int, err error) {
	u := c.endpointURL(EndpointList)
	u.RawQuery = listQuery(w.cur, w.end, limit, w.count)
	total = -1
	err = c.call(ctx, EndpointList, u, func(body io.Reader, length int64, header http.Header) error {
		total = -1
		if n, err := strconv.Atoi(header.Get("X-Total-Count")); err == nil && n >= 0 {
			total = n
		}
		return d.decodeList(body, length, &w.res)
	})
	if err != nil {
		return -1, fmt.Errorf("list account activities modified since %s: %w", formatTimestamp(w.cur.Modified), err)
	}
	return total, nil
}

// listQuery asks for the activities modified from cur on, and before end
// when it is set (lt, as the spec documents for modified in every version),
// sorted by modified. It encodes spaces as %20, as ISC's documentation
// asks, not as '+'.
func listQuery(cur Cursor, end time.Time, limit int, count bool) string {
	op := "ge"
	if cur.After {
		op = "gt"
	}
	filter := "modified " + op + " " + formatTimestamp(cur.Modified)
	if !end.IsZero() {
		filter += " and modified lt " + formatTimestamp(end)
	}
	params := []struct{ k, v string }{
		{"limit", strconv.Itoa(limit)},
		{"offset", strconv.Itoa(cur.Offset)},
	}
	if count {
		params = append(params, struct{ k, v string }{"count", "true"})
	}
	params = append(params, []struct{ k, v string }{
		{"filters", filter},
		{"sorters", "modified"},
	}...)
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(p.v), "+", "%20"))
	}
	return b.String()
}
