package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// iscClock estimates ISC's clock from the Date header of its answers. A Date
// says that ISC's time was within [Date, Date+1s) at some instant between
// sending the request and reading the answer, which bounds the offset of
// ISC's clock to the host's; the bounds of recent answers are intersected,
// which narrows the estimate well below a second, and old ones forgotten,
// so that a clock that drifts or steps is followed.
type iscClock struct {
	logger *slog.Logger

	mu     sync.Mutex
	bounds [16]offsetBounds // a ring of the latest answers'
	n      int              // answers seen
	logged bool             // a large offset was said
}

type offsetBounds struct{ lo, hi time.Duration }

// clockSkewToLog is how far apart the clocks may be before it is said.
const clockSkewToLog = 5 * time.Second

// observe takes in the Date header of an answer to a request sent at sent
// and read by received, on the host's clock.
func (c *iscClock) observe(header http.Header, sent, received time.Time) {
	date, err := http.ParseTime(header.Get("Date"))
	if err != nil {
		return
	}
	b := offsetBounds{lo: date.Sub(received), hi: date.Add(time.Second).Sub(sent)}
	c.mu.Lock()
	c.bounds[c.n%len(c.bounds)] = b
	c.n++
	offset, _ := c.offsetLocked()
	say := !c.logged && (offset > clockSkewToLog || offset < -clockSkewToLog)
	c.logged = c.logged || say
	c.mu.Unlock()
	if say {
		c.logger.Warn("ISC's clock and this host's differ; the exporter counts on ISC's clock", "isc_minus_host", offset.Round(time.Millisecond))
	}
}

// offsetLocked intersects the bounds of the latest answers, dropping the
// oldest until they agree. Where the bounds allow the clocks to agree it
// returns 0: a Date header has a resolution of a second, and within it the
// host's clock is the better one. Otherwise it returns the lower bound, the
// one ISC's clock is certainly past: "now" is then never ahead of ISC's, so
// no completion after the exporter started is taken for history.
func (c *iscClock) offsetLocked() (time.Duration, bool) {
	k := min(c.n, len(c.bounds))
	if k == 0 {
		return 0, false
	}
	for keep := k; keep > 0; keep-- {
		lo, hi := time.Duration(-1<<63), time.Duration(1<<63-1)
		for i := range keep {
			b := c.bounds[(c.n-1-i)%len(c.bounds)]
			lo, hi = max(lo, b.lo), min(hi, b.hi)
		}
		if lo <= hi {
			if lo <= 0 && 0 <= hi {
				return 0, true
			}
			return lo, true
		}
	}
	return 0, false // unreachable: one answer's bounds always agree
}

// offset is ISC's clock minus the host's; ok is false before any answer.
func (c *iscClock) offset() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offsetLocked()
}

// Now is ISC's time, as its answers tell it: the host's clock, corrected by
// the offset the Date headers of ISC's answers show. Before any answer it is
// the host's.
func (c *Client) Now() time.Time {
	off, _ := c.clock.offset()
	return c.now().Add(off)
}

// ClockOffset is ISC's clock minus the host's; ok is false before any answer.
func (c *Client) ClockOffset() (time.Duration, bool) { return c.clock.offset() }

// SyncClock makes sure Now has heard from ISC: if no answer came yet, it
// asks for one activity (retried like any request), whose answer, and the
// token's before it, carry ISC's Date.
func (c *Client) SyncClock(ctx context.Context) error {
	if _, ok := c.clock.offset(); ok {
		return nil
	}
	u := c.endpointURL(EndpointList)
	u.RawQuery = "limit=1"
	err := c.call(ctx, EndpointList, u, func(body io.Reader, _ int64, _ http.Header) error {
		_, err := io.Copy(io.Discard, io.LimitReader(body, maxBody))
		return err
	})
	if err != nil {
		return fmt.Errorf("asking ISC for the time: %w", err)
	}
	return nil
}
