package simtenant

import "time"

// allow applies a sliding-window limit per client id. A sliding log, not a
// fixed window, so Retry-After is exactly when the oldest counted request
// leaves the window and a client that honours it is never refused twice.
// Refused requests are not counted, otherwise a client retrying too early
// would push its own window forward forever.
func (t *Tenant) allow(client string) (bool, time.Duration) {
	if t.cfg.RateLimit < 0 {
		return true, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	hits := t.limiter[client]
	keep := 0
	for keep < len(hits) && !hits[keep].Add(t.cfg.RateWindow).After(now) {
		keep++
	}
	hits = hits[keep:]
	if len(hits) >= t.cfg.RateLimit {
		t.limiter[client] = hits
		return false, max(time.Second, hits[0].Add(t.cfg.RateWindow).Sub(now))
	}
	t.limiter[client] = append(hits, now)
	return true, 0
}
