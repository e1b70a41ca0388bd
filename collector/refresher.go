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
	Scan(ctx context.Context, from client.Cursor, fn client.PageFunc) error
}

// iscClock is a Source that tells ISC's time from its answers. The counting
// rule compares ISC's timestamps with "now", so its now is ISC's: on the
// host's clock, a host two minutes ahead would skip every completion of the
// first two minutes, and one behind would count completions from before the
// exporter started.
type iscClock interface {
	Now() time.Time
	// SyncClock makes sure Now has heard from ISC at least once.
	SyncClock(ctx context.Context) error
}

// healthReporter is a Source that says since when ISC has not answered.
type healthReporter interface {
	FailingSince() time.Time
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
	// Overlap is how far before the cursor each refresh reads again, so
	// that a change ISC makes visible after its modified time (an index that
	// lags) is still read. Records read again change nothing.
	Overlap time.Duration
	// StallAfter is how long ISC may fail or leave an attempt unanswered
	// before sailpoint_up goes to 0, whatever the refresh in flight is still
	// trying. Default 30s.
	StallAfter time.Duration
	// State, when set, persists what the rule counted before each
	// publication, and Restore resumes from it.
	State  *StateFile
	Logger *slog.Logger
	// Now is the host's clock: durations and the last success. Default
	// time.Now.
	Now func() time.Time
	// ISCNow is ISC's clock, for the counting rule. Default: the source's
	// when it keeps one, else Now.
	ISCNow func() time.Time
}

// Refresher keeps the counting rule's tracker up to date with ISC and
// publishes what it counted to its Collector.
//
// It runs one refresh at a time (Refresh shares a refresh in flight with
// every caller that arrives meanwhile), and only a refresh touches the
// tracker and the fields below it, so they need no lock: scrapes never see
// them, only the immutable snapshots a refresh publishes.
type Refresher struct {
	source    Source
	opts      Options
	logger    *slog.Logger
	now       func() time.Time
	iscNow    func() time.Time
	descs     *descs
	collector *Collector
	ready     atomic.Bool
	// announced is set when the watchdog has said that ISC stopped
	// answering, so the refresh that fails then says it only at debug level.
	announced atomic.Bool

	flight   sync.Mutex
	inFlight *refreshCall // the refresh that concurrent callers share

	// Owned by the refresh in flight.
	tracker *tracker
	cursor  client.Cursor
	// readSince is when (on ISC's clock) the last scan that read to the end
	// began: what became visible since has a modified time after readSince
	// less the overlap.
	readSince time.Time
	started   bool
	primed    bool // a pass has read the whole lookback window
	status    refreshStatus
	failures  failureLog
}

type refreshCall struct {
	done    chan struct{}
	err     error
	joiners int // callers waiting for this refresh; guarded by flight
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
	if opts.StallAfter <= 0 {
		opts.StallAfter = 30 * time.Second
	}
	if opts.ISCNow == nil {
		if c, ok := source.(iscClock); ok && opts.Now == nil {
			opts.ISCNow = c.Now
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ISCNow == nil {
		opts.ISCNow = opts.Now
	}
	d := newDescs()
	return &Refresher{
		source:    source,
		opts:      opts,
		logger:    opts.Logger,
		now:       opts.Now,
		iscNow:    opts.ISCNow,
		descs:     d,
		collector: newCollector(d),
		tracker:   newTracker(opts.Lookback, opts.MaxTypes, opts.MaxSources, opts.ISCNow),
	}
}

// Restore resumes from the state file, if there is one and it belongs to this
// tenant, client id and lookback: the counters continue from their values and
// the next refresh reads on from where the last process stopped. Call it
// before the first refresh. It fails only if the file exists but cannot be
// read; a file that cannot be used is set aside and counting starts afresh.
func (r *Refresher) Restore() error {
	if r.opts.State == nil {
		return nil
	}
	t, p, ok, err := r.opts.State.load(r.tracker)
	if err != nil || !ok {
		return err
	}
	r.tracker = t
	r.cursor, r.readSince, r.primed, r.status.lastSuccess = p.cursor, p.readSince, p.primed, p.lastSuccess
	r.started = true
	// What was loaded is what the file holds: served without writing it again.
	r.store()
	r.ready.Store(true)
	return nil
}

// position is what the state file keeps of the refresh.
func (r *Refresher) position() resumable {
	return resumable{cursor: r.cursor, readSince: r.readSince, countFrom: r.tracker.countFrom, primed: r.primed, lastSuccess: r.status.lastSuccess}
}

// Collector is what to register with Prometheus.
func (r *Refresher) Collector() *Collector { return r.collector }

// Ready reports whether a first refresh has ended, successfully or not: from
// then on the metrics say what the exporter knows, sailpoint_up included.
func (r *Refresher) Ready() bool { return r.ready.Load() }

// Refresh reads what changed in ISC since the last refresh, applies it and
// publishes a new snapshot. A caller arriving while a refresh runs waits for
// that one (or for its own ctx) instead of starting another. What was read
// before an error or the end of ctx is kept; the next refresh goes on from there.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.flight.Lock()
	if call := r.inFlight; call != nil {
		call.joiners++
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
	pages, err := r.scan(ctx, start)

	// Our own deadline cutting a refresh that made progress is not a failure
	// of ISC: the next refresh goes on from the cursor.
	cut := err != nil && ctx.Err() != nil && pages > 0
	r.status.up = err == nil || cut
	r.status.refreshed, r.status.duration = true, r.now().Sub(start)
	if err == nil {
		r.status.lastSuccess = r.now()
		if !r.primed {
			r.primed = true
			r.logger.Info("primed from ISC", "activities", r.tracker.entries.len(), "took", r.status.duration.Round(time.Millisecond))
		}
	}
	r.publish()
	r.ready.Store(true)

	switch {
	case err == nil:
		r.failures.succeeded(r.logger, r.now())
		r.announced.Store(false)
		return nil
	case cut:
		r.logger.Debug("refresh cut short by its deadline; it goes on at the next one", "pages", pages)
		return nil
	case errors.Is(err, context.Canceled):
		return err
	}
	r.failures.failed(r.logger, r.now(), err, r.announced.Load())
	return err
}

// scan reads from the cursor, less the overlap, applies what it reads and
// returns how many pages it read.
func (r *Refresher) scan(ctx context.Context, start time.Time) (pages int, err error) {
	if !r.started {
		// Priming reads the whole lookback window, on ISC's clock.
		if c, ok := r.source.(iscClock); ok {
			if err := c.SyncClock(ctx); err != nil {
				return 0, err
			}
		}
		now := r.iscNow()
		r.started = true
		r.cursor = client.Cursor{Modified: now.Add(-r.opts.Lookback).Truncate(time.Millisecond)}
		r.tracker.startCounting(now)
	}
	windowStart := r.iscNow().Add(-r.opts.Lookback).Truncate(time.Millisecond)
	if r.cursor.Modified.Before(windowStart) {
		// Back after more than the lookback: what changed before the window
		// cannot change a metric any more.
		r.cursor = client.Cursor{Modified: windowStart}
	}
	// Read again what may have become visible late: modified up to the
	// overlap before the last complete scan began, unless the cursor is
	// earlier still (a quiet tenant, or a refresh that did not finish).
	from := r.cursor
	if r.primed && r.opts.Overlap > 0 {
		if since := maxTime(r.readSince.Add(-r.opts.Overlap), windowStart); since.Before(from.Modified) || since.Equal(from.Modified) {
			from = client.Cursor{Modified: since}
		}
	}
	scanStart := r.iscNow()

	lastPublish := start
	err = r.source.Scan(ctx, from, func(p client.Page) error {
		for i := range p.Activities {
			r.tracker.apply(&p.Activities[i])
		}
		for i := range p.Rejected {
			if rej := &p.Rejected[i]; r.tracker.reject(rej) {
				r.logger.Warn("skipped a record ISC sent that is not an account activity the exporter can use; the records around it are counted",
					"reason", rej.Reason, "id", rej.ID, "modified", rej.Modified, "cursor", rej.At.Modified, "offset", rej.At.Offset, "err", rej.Detail)
			}
		}
		// The cursor never goes back: reading again (the overlap, a rescan)
		// is covered by the next refresh's from.
		if r.cursor.Before(p.Resume) || !r.primed {
			r.cursor = p.Resume
		}
		pages++
		if now := r.now(); now.Sub(lastPublish) >= r.opts.PublishEvery {
			// Progress of a long refresh: what it read so far, with the
			// previous refresh's up, since only a finished refresh decides it.
			lastPublish = now
			r.publish()
		}
		return nil
	})
	if err == nil {
		r.readSince = scanStart
	}
	return pages, err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// publish sweeps the tracker, persists it and swaps in a new snapshot built
// from it. Persist before publish: a value served is never ahead of the
// state file, or a kill would take it back after the restart (a counter
// going down reads as a reset to Prometheus). If the write fails, the
// counters stay at what the file holds; only the refresh status moves on.
func (r *Refresher) publish() {
	r.tracker.sweep()
	if r.opts.State != nil {
		if err := r.opts.State.write(r.tracker, r.position()); err != nil {
			prev := r.collector.current.Load()
			r.collector.current.Store(&snapshot{refresh: r.status, tracked: prev.tracked, status: r.status.metrics(r.descs), data: prev.data})
			return
		}
	}
	r.store()
}

// store swaps in a snapshot built from the tracker as it is.
func (r *Refresher) store() {
	r.collector.current.Store(&snapshot{
		refresh: r.status,
		tracked: r.tracker.entries.len(),
		status:  r.status.metrics(r.descs),
		data:    r.tracker.metrics(r.descs),
	})
}

// Run refreshes now and then every interval until ctx ends. A refresh still
// running when the next is due makes that one skip. Each refresh may take up
// to five intervals, and at least five minutes (a first pass over a large
// tenant at ISC's rate limit takes a while); what it read by then is kept.
// Meanwhile a watchdog sets sailpoint_up to 0 as soon as ISC has failed or
// left an attempt unanswered for StallAfter, rather than when the refresh
// finally gives up.
func (r *Refresher) Run(ctx context.Context, interval time.Duration) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if h, ok := r.source.(healthReporter); ok {
		wg.Go(func() { r.watch(ctx, h) })
	}
	timeout := max(5*interval, 5*time.Minute)
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

// watch marks the published snapshot down while ISC has been failing or
// silent for longer than StallAfter, and says so once.
func (r *Refresher) watch(ctx context.Context, h healthReporter) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		since := h.FailingSince()
		if since.IsZero() || r.now().Sub(since) < r.opts.StallAfter {
			continue
		}
		if r.collector.markDown() && !r.announced.Swap(true) {
			r.logger.Warn("ISC has not answered for "+r.opts.StallAfter.String()+": sailpoint_up is 0 and the metrics keep their last values until a refresh succeeds; the exporter keeps trying",
				"failing_since", since)
		}
	}
}
