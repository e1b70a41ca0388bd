package client

import (
	"sync"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/outage"
)

// Kinds of answers that are not as ISC documents them but can still be
// used, passed to Config.Unexpected.
const (
	// UnexpectedUnsorted: a page of account activities not sorted by
	// modified as asked; records may be missed.
	UnexpectedUnsorted = "unsorted_page"
	// UnexpectedMissingID: a listing of sources or clusters with records
	// without an id, which are left out.
	UnexpectedMissingID = "missing_id"
)

// unexpectedLog says each kind of odd answer once when it starts and once
// when it ends, per endpoint, as the outage lines do: ISC ignoring a sorter
// would otherwise be a warning on every page of every refresh.
type unexpectedLog struct {
	mu      sync.Mutex
	streaks map[[2]string]*outage.Streak
}

// unexpected records whether an answer of endpoint was of kind (happened)
// or, for that kind, as expected.
func (c *Client) unexpected(endpoint, kind string, happened bool, msg string, attrs ...any) {
	c.odd.mu.Lock()
	defer c.odd.mu.Unlock()
	if c.odd.streaks == nil {
		c.odd.streaks = map[[2]string]*outage.Streak{}
	}
	key := [2]string{endpoint, kind}
	s := c.odd.streaks[key]
	if s == nil {
		s = &outage.Streak{}
		c.odd.streaks[key] = s
	}
	now := c.now()
	if !happened {
		if n, lasted := s.Recover(now); n > 0 {
			c.logger.Info("ISC's answers are as documented again", "endpoint", endpoint, "kind", kind, "odd_answers", n, "for", lasted.Round(time.Second))
		}
		return
	}
	if c.cfg.Unexpected != nil {
		c.cfg.Unexpected(endpoint, kind)
	}
	if s.Fail(now, kind) {
		c.logger.Warn(msg+" (said once until ISC's answers are as documented again; sailpoint_api_unexpected_answers_total counts them)", append([]any{"endpoint", endpoint, "kind", kind}, attrs...)...)
	} else {
		c.logger.Debug(msg, append([]any{"endpoint", endpoint, "kind", kind, "odd_answers", s.Count()}, attrs...)...)
	}
}
