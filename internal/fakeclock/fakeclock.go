// Package fakeclock is the one settable clock of the tests: code that takes
// a Now func is given Clock.Now, and a test moves time with Advance instead
// of sleeping.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a time source that only moves when told to. It is safe for
// concurrent use, so a simulated tenant serving HTTP and the client talking
// to it can share one.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that reads start until it is advanced.
func New(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
