package collector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// Source is where activities come from: the ISC client, in production.
type Source interface {
	Scan(ctx context.Context, from client.Cursor, fn client.PageFunc) (client.Cursor, error)
}

// Options configure a Refresher.
type Options struct {
	Lookback   time.Duration // default 24h
	MaxTypes   int           // distinct type label values; default 64
	MaxSources int           // distinct source_id label values; default 256
	// PublishEvery bounds how stale scrapes may be during a long refresh,
	// such as priming a large tenant: a snapshot is published at least this
	// often while pages arrive. Default 5s.
	PublishEvery time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Refresher keeps the tracker up to date with ISC and publishes snapshots.
// It is the prometheus.Collector of the activity metrics.
type Refresher struct {
	source Source
	opts   Options
	logger *slog.Logger
	now    func() time.Time
	descs  descs

	current atomic.Pointer[snapshot]

	flight   sync.Mutex
	inFlight *refreshCall // the refresh that concurrent callers share

	mu          sync.Mutex // guards what follows, held while a page is applied
	tracker     *tracker
	cursor      client.Cursor
	started     bool
	primed      bool // a pass has read the whole lookback window
	lastSuccess time.Time
}

type refreshCall struct {
	done chan struct{}
	err  error
}

// NewRefresher returns a Refresher that reads from source. Nothing is read
// until Refresh or Run is called.
func NewRefresher(source Source, opts Options) *Refresher {
	if opts.Lookback <= 0 {
		opts.Lookback = 24 * time.Hour
	}
	if opts.MaxTypes <= 0 {
		opts.MaxTypes = 64
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = 256
	}
	if opts.PublishEvery <= 0 {
		opts.PublishEvery = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Refresher{
		source:  source,
		opts:    opts,
		logger:  opts.Logger,
		now:     opts.Now,
		descs:   newDescs(),
		tracker: newTracker(opts.Lookback, opts.MaxTypes, opts.MaxSources, opts.Now),
	}
	r.current.Store(&snapshot{buckets: durationBuckets()})
	return r
}

// Refresh reads what changed in ISC since the last refresh, applies it and
// publishes a new snapshot. A caller arriving while a refresh runs waits for
// that one (or for its own ctx) instead of starting another. What was read
// before an error or the end of ctx is kept; the next refresh goes on from there.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.flight.Lock()
	if call := r.inFlight; call != nil {
		r.flight.Unlock()
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	call := &refreshCall{done: make(chan struct{})}
	r.inFlight = call
	r.flight.Unlock()

	call.err = r.refresh(ctx)

	r.flight.Lock()
	r.inFlight = nil
	r.flight.Unlock()
	close(call.done)
	return call.err
}

func (r *Refresher) refresh(ctx context.Context) error {
	start := r.now()
	r.mu.Lock()
	if !r.started {
		// Priming reads the whole lookback window.
		r.started = true
		r.cursor = client.Cursor{Modified: start.Add(-r.opts.Lookback).Truncate(time.Millisecond)}
		r.tracker.startCounting(start)
	}
	from := r.cursor
	r.mu.Unlock()

	pages, unidentified := 0, 0
	lastPublish := start
	_, err := r.source.Scan(ctx, from, func(page []client.Activity, resume client.Cursor) error {
		r.mu.Lock()
		for i := range page {
			if page[i].ID == "" {
				unidentified++
			}
			r.tracker.apply(&page[i])
		}
		r.cursor = resume
		r.mu.Unlock()
		pages++
		if now := r.now(); now.Sub(lastPublish) >= r.opts.PublishEvery {
			lastPublish = now
			r.publish(true, start, false)
		}
		return nil
	})

	if unidentified > 0 {
		r.logger.Warn("ISC sent activities without an id; they are left out", "count", unidentified)
	}
	// Our own deadline cutting a refresh that made progress is not a failure
	// of ISC: the next refresh goes on from the cursor.
	cut := err != nil && ctx.Err() != nil && pages > 0
	up := err == nil || cut
	r.mu.Lock()
	if err == nil && !r.primed {
		r.primed = true
		r.logger.Info("primed from ISC", "activities", r.tracker.entries.len(), "took", r.now().Sub(start).Round(time.Millisecond))
	}
	if err == nil {
		r.lastSuccess = r.now()
	}
	r.mu.Unlock()
	r.publish(up, start, true)

	switch {
	case err == nil:
		return nil
	case cut:
		r.logger.Debug("refresh cut short by its deadline; it goes on at the next one", "pages", pages)
		return nil
	case errors.Is(err, context.Canceled):
		return err
	}
	r.logger.Error("refresh from ISC failed", "err", err)
	return err
}

// publish sweeps the tracker and swaps in a new snapshot.
func (r *Refresher) publish(up bool, start time.Time, ended bool) {
	r.mu.Lock()
	r.tracker.sweep()
	s := r.tracker.snapshot()
	s.lastSuccess = r.lastSuccess
	r.mu.Unlock()
	s.up = up
	prev := r.current.Load()
	s.refreshed, s.refreshDuration = prev.refreshed, prev.refreshDuration
	if ended {
		s.refreshed, s.refreshDuration = true, r.now().Sub(start)
	}
	r.current.Store(s)
}

// Run refreshes now and then every interval until ctx ends. A refresh still
// running when the next is due makes that one skip. Each refresh may take up
// to timeout; what it read by then is kept.
func (r *Refresher) Run(ctx context.Context, interval, timeout time.Duration) {
	ticker := time.NewTicker(interval)
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
