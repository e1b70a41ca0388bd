package area

import (
	"context"
	"sync"
	"time"
)

// Runner runs one area's refreshes. At most one runs at a time: a caller
// that arrives while one runs waits for that one (or for its own ctx) and
// gets its result, instead of starting another. So the area's refresh owns
// its state alone, and needs no lock against itself.
type Runner struct {
	refresh func(context.Context) error

	flight   sync.Mutex
	inFlight *call // the refresh that concurrent callers share
}

type call struct {
	done chan struct{}
	err  error
}

// NewRunner returns a Runner of refresh. Nothing runs until Refresh or Run.
func NewRunner(refresh func(context.Context) error) *Runner {
	return &Runner{refresh: refresh}
}

// Refresh runs a refresh, or waits for the one in flight, and returns its
// error; it returns ctx's error if ctx ends first.
func (r *Runner) Refresh(ctx context.Context) error {
	r.flight.Lock()
	if c := r.inFlight; c != nil {
		r.flight.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	r.inFlight = c
	r.flight.Unlock()

	c.err = r.refresh(ctx)

	r.flight.Lock()
	r.inFlight = nil
	r.flight.Unlock()
	close(c.done)
	return c.err
}

// Schedule is how Run runs a Runner in the background.
type Schedule struct {
	// Interval between the starts of refreshes; a refresh still running when
	// the next is due makes that one skip.
	Interval time.Duration
	// Timeout bounds each refresh; what it read by then is kept. Default:
	// the interval, and at least a minute.
	Timeout time.Duration
	// Watch, when set, runs beside the refreshes for as long as Run does.
	Watch func(ctx context.Context)
}

// Run refreshes now and then every interval until ctx ends, and returns
// once every goroutine it started has ended.
func (r *Runner) Run(ctx context.Context, s Schedule) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.Watch != nil {
		wg.Go(func() { s.Watch(ctx) })
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = max(s.Interval, time.Minute)
	}
	ticker := time.NewTicker(s.Interval)
	defer ticker.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		_ = r.Refresh(rctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
