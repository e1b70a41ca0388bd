package client

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cursor marks how far a scan has read, in ISC's order of `modified`: every
// activity modified before Modified, and the first Offset of those modified
// exactly at Modified.
type Cursor struct {
	Modified time.Time
	Offset   int
}

// Page is what one list request delivered: the activities the scan had not
// yet delivered, and the cursor from which a later scan may resume once they
// are applied. The slices are reused after the PageFunc returns.
type Page struct {
	Activities []Activity
	Resume     Cursor
}

// PageFunc receives each page of a scan, in order.
type PageFunc func(p Page) error

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

	cur := from
	var (
		page       []Activity
		atCursor   = map[string]struct{}{}  // ids read at cur.Modified in this scan
		offsetRead = map[string]time.Time{} // ids read at an instant later paged with an offset
		rescanFrom time.Time
		rescans    int
	)
	for {
		var err error
		page, err = c.listPage(ctx, d, cur, page)
		if err != nil {
			return err
		}
		full := len(page) == c.cfg.PageSize
		next := advance(cur, page)
		if !sortedByModified(page) {
			c.logger.Warn("ISC returned a page not sorted by modified; records may be missed", "from", formatTimestamp(cur.Modified))
		}

		fresh := 0
		for i := range page {
			a := &page[i]
			if at, ok := offsetRead[a.ID]; ok && a.Modified.After(at) && (rescanFrom.IsZero() || at.Before(rescanFrom)) {
				rescanFrom = at
			}
			if a.Modified.Equal(cur.Modified) {
				if _, dup := atCursor[a.ID]; dup {
					continue
				}
			}
			// Swap, not copy: each element owns the backing array of its items.
			page[fresh], page[i] = page[i], page[fresh]
			fresh++
		}
		if full && fresh == 0 && next.Modified.Equal(cur.Modified) && cur.Offset > 0 {
			return fmt.Errorf("list account activities: ISC answered offset %d with records already read; it may ignore offset", cur.Offset)
		}
		if !next.Modified.Equal(cur.Modified) {
			clear(atCursor)
		}
		for i := range page {
			if page[i].Modified.Equal(next.Modified) {
				atCursor[page[i].ID] = struct{}{}
				if full && next.Offset > 0 {
					offsetRead[page[i].ID] = next.Modified
				}
			}
		}
		resume := Cursor{Modified: next.Modified}
		if full && next.Modified.Equal(cur.Modified) {
			// Inside an instant larger than a page: resuming at its start
			// could read the same page forever.
			resume.Offset = next.Offset
		}
		if err := fn(Page{Activities: page[:fresh], Resume: resume}); err != nil {
			return err
		}
		if !full {
			next = resume
		}
		cur = next
		if full {
			continue
		}
		if rescanFrom.IsZero() || rescans >= maxRescans {
			return nil
		}
		c.logger.Debug("records changed while paging; reading again", "from", formatTimestamp(rescanFrom))
		rescans++
		cur = Cursor{Modified: rescanFrom}
		rescanFrom = time.Time{}
		clear(atCursor)
		clear(offsetRead)
	}
}

// advance returns the cursor after page, which was read at cur.
func advance(cur Cursor, page []Activity) Cursor {
	last := cur.Modified
	for i := range page {
		if page[i].Modified.After(last) {
			last = page[i].Modified
		}
	}
	if last.Equal(cur.Modified) {
		return Cursor{Modified: last, Offset: cur.Offset + len(page)}
	}
	n := 0
	for i := range page {
		if page[i].Modified.Equal(last) {
			n++
		}
	}
	return Cursor{Modified: last, Offset: n}
}

// sortedByModified ignores null modified times, which a filter on modified
// should not return at all.
func sortedByModified(page []Activity) bool {
	var last time.Time
	for i := range page {
		m := page[i].Modified
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

// listPage reads one page at cur.
func (c *Client) listPage(ctx context.Context, d *pageDecoder, cur Cursor, page []Activity) ([]Activity, error) {
	u := *c.listURL
	u.RawQuery = listQuery(cur, c.cfg.PageSize)
	err := c.call(ctx, endpointList, &u, func(body io.Reader) error {
		var err error
		page, err = d.decodeList(body, page)
		return err
	})
	if err != nil {
		return page[:0], fmt.Errorf("list account activities modified since %s: %w", formatTimestamp(cur.Modified), err)
	}
	return page, nil
}

// listQuery encodes spaces as %20, as ISC's documentation asks, not as '+'.
func listQuery(cur Cursor, limit int) string {
	params := []struct{ k, v string }{
		{"limit", strconv.Itoa(limit)},
		{"offset", strconv.Itoa(cur.Offset)},
		{"filters", "modified ge " + formatTimestamp(cur.Modified)},
		{"sorters", "modified"},
	}
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
