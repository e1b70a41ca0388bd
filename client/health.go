package client

import (
	"sync"
	"time"
)

// health remembers since when ISC has not answered: a request that failed
// without an answer worth having (an error, a 5xx, a body cut short, one
// that does not decode) starts
// the streak, and so does a request still unanswered; an answer ends it. A
// refresh that keeps retrying thus shows as failing long before it gives up.
type health struct {
	mu       sync.Mutex
	failing  time.Time // first failure since the last answer; zero when none
	inFlight map[uint64]time.Time
	next     uint64
}

// begin notes a request sent at t and returns its number for end.
func (h *health) begin(t time.Time) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inFlight == nil {
		h.inFlight = map[uint64]time.Time{}
	}
	h.next++
	h.inFlight[h.next] = t
	return h.next
}

// end notes how request n, sent at sent, ended: answered (any answer that is
// not a server error) or not.
func (h *health) end(n uint64, sent time.Time, answered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.inFlight, n)
	switch {
	case answered:
		h.failing = time.Time{}
	case h.failing.IsZero():
		h.failing = sent
	}
}

// FailingSince is when ISC began to fail or leave a request unanswered,
// counting from the oldest request still in flight; zero while it answers.
// A request in flight for a second is normal: callers compare with a grace.
func (c *Client) FailingSince() time.Time {
	h := &c.health
	h.mu.Lock()
	defer h.mu.Unlock()
	since := h.failing
	for _, t := range h.inFlight {
		if since.IsZero() || t.Before(since) {
			since = t
		}
	}
	return since
}
