package activities

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/outage"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Source is where activities come from: the ISC client, in production.
type Source interface {
	Scan(ctx context.Context, from client.Cursor, fn client.PageFunc) error
}

// rangeScanner is a Source that can read a long stretch as ranges side by
// side (client.ScanRanges): the first pass uses it.
type rangeScanner interface {
	ScanRanges(ctx context.Context, from client.Cursor, until time.Time, workers int, fn client.PageFunc) error
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
	// Overlap is how far before the cursor a refresh reads again, so that
	// a change ISC makes visible after its modified time (an index that
	// lags) is still read. Records read again change nothing. Refreshes
	// read again the tail that the lateness seen needs, and every
	// SweepEvery the whole overlap (see reread.go).
	Overlap time.Duration
	// SweepEvery is how often a refresh reads the whole Overlap again.
	// Default DefaultSweepEvery; negative: every refresh.
	SweepEvery time.Duration
	// PrimeConcurrency is how many ranges of the lookback the first pass
	// reads side by side, at most (client.ScanRanges); 1 reads it as one
	// scan. Default 8.
	PrimeConcurrency int
	// StallAfter is how long ISC may fail or leave an attempt unanswered
	// before sailpoint_up goes to 0, whatever the refresh in flight is still
	// trying: the request timeout (--isc.timeout). Default 30s.
	StallAfter time.Duration
	// Wiring plugs the Refresher into its tenant. The counting rule runs on
	// ISC's clock: the source's when it is an area.ISCClock (the ISC client).
	area.Wiring
}

// Refresher keeps the counting rule's tracker up to date with ISC and
// publishes what it counted.
//
// Its Runner runs one refresh at a time, and only a refresh changes the
// tracker and the position, so the refresh reads them without a lock. It
// holds mu while it changes them, because the state file encodes them from
// whichever goroutine writes it (another area's refresh, say).
type Refresher struct {
	source Source
	opts   Options
	core   area.Core // publisher, runner, collector, shared counters
	ready  atomic.Bool
	// announced is set when the watchdog has said that ISC stopped
	// answering, so the refresh that fails then says it only at debug level.
	announced atomic.Bool

	mu sync.Mutex // held by the refresh while it changes what follows, and by EncodeState

	tracker *tracker
	cursor  client.Cursor
	// readSince is when (on ISC's clock) the last scan that read to the end
	// began; tailSince and sweepSince, the last that read the tail and the
	// whole overlap again (see reread.go).
	readSince, tailSince, sweepSince time.Time
	started                          bool
	primed                           bool // a pass has read the whole lookback window
	late                             lateness
	// lateAgainst is what the records of the scan running are late
	// against.
	lateAgainst lateReference
	lateSeconds prometheus.Histogram

	status   area.Status // owned by the refresh alone
	failures outage.Streak
}

// NewRefresher returns a Refresher that reads from source. With a state
// file, it resumes from the file's activities section when that belongs to
// this lookback: the counters continue from their values and the first
// refresh reads on from where the last process stopped. Nothing is read
// from ISC until Refresh or Run.
func NewRefresher(source Source, opts Options) *Refresher {
	opts.DefaultWiring(source)
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
	if opts.StallAfter <= 0 {
		opts.StallAfter = 30 * time.Second
	}
	if opts.SweepEvery == 0 {
		opts.SweepEvery = DefaultSweepEvery
	}
	if opts.PrimeConcurrency <= 0 {
		opts.PrimeConcurrency = DefaultPrimeConcurrency
	}
	d := newDescs(opts.State != nil, opts.ConstLabels)
	r := &Refresher{
		source: source,
		lateSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "sailpoint_activities_late_seconds",
			Help:        "How far before the point the last complete refresh had read to an activity that ISC made visible late was modified: what reading again before the cursor must cover.",
			Buckets:     lateBuckets(opts.Overlap),
			ConstLabels: opts.ConstLabels,
		}),
		tracker: newTracker(opts.Lookback, opts.MaxTypes, opts.MaxSources, opts.ISCNow, d),
	}
	r.core = area.NewCore(&opts.Wiring, d.status, d.data(), r.refresh, r.lateSeconds)
	r.opts = opts
	if opts.State == nil || !r.restore(opts.State) {
		// sailpoint_up 0 from the first scrape on, until a refresh succeeds.
		r.core.Publisher.Publish(r.status, nil)
	}
	return r
}

// DefaultPrimeConcurrency is how many ranges the first pass reads side by
// side, at most, by default.
const DefaultPrimeConcurrency = 8

// restore attaches the Refresher to the state file and resumes from what the
// file held for it; a section it cannot use is rejected, and counting
// starts afresh. It reports whether it resumed.
func (r *Refresher) restore(f *state.File) bool {
	body, ok := f.Attach(state.SectionActivities, r)
	if !ok {
		f.Attach(SectionLate, lateSection{r})
		return false
	}
	late, _ := f.Attach(SectionLate, lateSection{r})
	t, p, err := decodeState(body, r.tracker)
	if err != nil {
		f.Reject(state.SectionActivities, err)
		return false
	}
	if err := decodeLate(late, &p); err != nil {
		r.opts.Logger.Warn("the state file's "+SectionLate+" section cannot be read: resuming as from an older version's file, whose last refresh read the whole overlap again", "file", f.Path(), "err", err)
	}
	r.tracker = t
	r.cursor, r.readSince, r.primed, r.status.LastSuccess = p.cursor, p.readSince, p.primed, p.lastSuccess
	r.tailSince, r.sweepSince, r.late = p.tailSince, p.sweepSince, p.late
	r.started = true
	r.opts.Logger.Info("resuming from the state file", "file", f.Path(), "tracked_activities", t.entries.Len(), "cursor", p.cursor.Modified)
	// What was loaded is what the file holds: served without writing it again.
	r.store()
	r.ready.Store(true)
	return true
}

// EncodeState implements state.Section: the tracker and the position as the
// last page applied left them.
func (r *Refresher) EncodeState(e *state.Encoder) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	encodeState(e, r.tracker, r.position())
	return nil
}

// position is what the state file keeps of the refresh.
func (r *Refresher) position() resumable {
	return resumable{cursor: r.cursor, readSince: r.readSince, countFrom: r.tracker.countFrom, primed: r.primed, lastSuccess: r.status.LastSuccess,
		tailSince: r.tailSince, sweepSince: r.sweepSince, late: r.late}
}

// lateSection is the Refresher's SectionLate of the state file.
type lateSection struct{ r *Refresher }

// EncodeState implements state.Section.
func (s lateSection) EncodeState(e *state.Encoder) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	encodeLate(e, s.r.position())
	return nil
}

// Collector is what to register with Prometheus: the activity metrics,
// and the shared families unless Options.Shared shares them.
func (r *Refresher) Collector() prometheus.Collector { return r.core.Collector }

// Runner runs the refreshes, in the background or on scrape.
func (r *Refresher) Runner() *area.Runner { return r.core.Runner }

// Ready reports whether a first refresh has ended, successfully or not: from
// then on the metrics say what the exporter knows, sailpoint_up included.
func (r *Refresher) Ready() bool { return r.ready.Load() }

// Refresh reads what changed in ISC since the last refresh, applies it and
// publishes a new snapshot; a caller arriving while a refresh runs shares
// that one. What was read before an error or the end of ctx is kept; the
// next refresh goes on from there.
func (r *Refresher) Refresh(ctx context.Context) error { return r.core.Runner.Refresh(ctx) }

func (r *Refresher) refresh(ctx context.Context) error {
	start := r.opts.Now()
	pages, plan, err := r.scan(ctx, start)

	// Our own deadline cutting a refresh that made progress is not a failure
	// of ISC: the next refresh goes on from the cursor.
	cut := err != nil && ctx.Err() != nil && pages > 0
	r.status.Up = err == nil || cut
	r.status.Refreshed, r.status.Duration = true, r.opts.Now().Sub(start)
	newlyPrimed := err == nil && !r.primed
	if err == nil {
		r.mu.Lock()
		r.primed = true
		r.mu.Unlock()
	}
	r.publish(err == nil)
	if newlyPrimed {
		r.opts.Logger.Info("primed from ISC", "activities", r.tracker.entries.Len(), "took", r.status.Duration.Round(time.Millisecond))
	}
	if err == nil {
		r.opts.Logger.Debug("refreshed from ISC", "from", plan.from.Modified, "reread", plan.what(), "pages", pages, "took", r.status.Duration.Round(time.Millisecond))
	}
	r.ready.Store(true)

	switch {
	case err == nil:
		if failures, lasted := r.failures.Recover(r.opts.Now()); failures > 0 {
			r.opts.Logger.Info("refresh from ISC succeeded again", "failed_refreshes", failures, "failing_for", lasted.Round(time.Second))
		}
		r.announced.Store(false)
		return nil
	case cut:
		r.opts.Logger.Debug("refresh cut short by its deadline; it goes on at the next one", "pages", pages)
		return nil
	case errors.Is(err, context.Canceled):
		return err
	}
	r.failed(err)
	return err
}

// scan reads from the cursor, or before it what may have become visible
// late (planReread), applies what it reads and returns how many pages it
// read.
func (r *Refresher) scan(ctx context.Context, start time.Time) (pages int, plan reread, err error) {
	if !r.started {
		// Priming reads the whole lookback window, on ISC's clock.
		if c, ok := r.source.(area.ISCClock); ok {
			if err := c.SyncClock(ctx); err != nil {
				return 0, plan, err
			}
		}
		now := r.opts.ISCNow()
		r.mu.Lock()
		r.started = true
		r.cursor = client.Cursor{Modified: now.Add(-r.opts.Lookback).Truncate(time.Millisecond)}
		r.tracker.startCounting(now)
		r.mu.Unlock()
		// When counting started is written at once: a process killed
		// during its first pass resumes counting from then, rather than
		// from a later first pass that would take what completed meanwhile
		// for history.
		if r.opts.State != nil {
			_ = r.opts.State.Write()
		}
	}
	now := r.opts.ISCNow()
	windowStart := windowStartOf(now, r.opts.Lookback)
	if r.cursor.Modified.Before(windowStart) {
		// Back after more than the lookback: what changed before the window
		// cannot change a metric any more.
		r.mu.Lock()
		r.cursor = client.Cursor{Modified: windowStart}
		r.mu.Unlock()
	}
	plan = planReread(r.position(), r.opts.Overlap, r.opts.SweepEvery, now, windowStart)
	scanStart := r.opts.ISCNow()
	r.mu.Lock()
	r.lateAgainst = lateReference{on: r.primed, cursor: r.cursor.Modified, readSince: r.readSince, tailSince: r.tailSince}
	r.mu.Unlock()

	lastPublish := start
	var end client.Cursor // the last page's Resume: where the scan ended
	fn := func(p client.Page) error {
		r.apply(p)
		end = p.Resume
		pages++
		if now := r.opts.Now(); now.Sub(lastPublish) >= r.opts.PublishEvery {
			// Progress of a long refresh: what it read so far, with the
			// previous refresh's up, since only a finished refresh decides it.
			lastPublish = now
			r.publish(false)
		}
		return nil
	}
	ranges, ok := r.source.(rangeScanner)
	// The first pass reads the lookback as ranges side by side, cut no
	// later than a moment before it began; its last range, read to the end
	// once the others are, reads what changed meanwhile.
	if until := scanStart.Add(-primeTail).Truncate(time.Millisecond); ok && !r.primed && r.opts.PrimeConcurrency > 1 && until.Sub(plan.from.Modified) >= time.Minute {
		err = ranges.ScanRanges(ctx, plan.from, until, r.opts.PrimeConcurrency, fn)
	} else {
		err = r.source.Scan(ctx, plan.from, fn)
	}
	if err == nil {
		r.mu.Lock()
		if pages > 0 {
			// Where the whole scan ended, even if before the cursor: at an
			// instant still current the scan ends at its start, offset 0,
			// rather than past the records read there with an offset. A
			// record that leaves the instant before the next scan would
			// shift that offset onto a record after it, never to be read.
			r.cursor = end
		}
		r.readSince = scanStart
		if plan.tail || !r.primed {
			r.tailSince = scanStart
		}
		if plan.sweep || !r.primed {
			r.sweepSince = scanStart
		}
		r.mu.Unlock()
	}
	return pages, plan, err
}

// primeTail is how long before the first pass began its ranges are cut at
// the latest: what was modified after that, during the pass included, is
// the last range's, read to the end once the others are, so that a change
// made while they are read is read (a few seconds allow for ISC's clock as
// the exporter knows it).
const primeTail = 10 * time.Second

// lateReference is what the records a scan reads are late against: the
// start of the previous complete scan for those at or after the cursor it
// began at, the start of the last that read the tail again for those before
// it (read again).
type lateReference struct {
	on                   bool // counting is past its first pass
	cursor               time.Time
	readSince, tailSince time.Time
}

// lateBy is how late a record modified at m that is new to the tracker
// was made visible, as far as the last scans tell; 0 if not late.
func (l lateReference) lateBy(m time.Time) time.Duration {
	if !l.on || m.IsZero() {
		return 0
	}
	ref := l.readSince
	if m.Before(l.cursor) {
		ref = l.tailSince
	}
	return max(ref.Sub(m), 0)
}

// apply takes in one page and moves the cursor past it.
func (r *Refresher) apply(p client.Page) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p.Activities {
		a := &p.Activities[i]
		if r.tracker.apply(a) {
			if d := r.lateAgainst.lateBy(a.Modified); d > 0 {
				r.lateSeconds.Observe(d.Seconds())
				r.late.observe(r.opts.ISCNow(), d)
			}
		}
	}
	for i := range p.Rejected {
		if rej := &p.Rejected[i]; r.tracker.reject(rej) {
			r.opts.Logger.Warn("skipped a record ISC sent that is not an account activity the exporter can use; the records around it are counted",
				"reason", rej.Reason, "id", rej.ID, "modified", rej.Modified, "cursor", rej.At.Modified, "offset", rej.At.Offset, "err", rej.Detail)
		}
	}
	// The cursor never goes back: reading again (the overlap, a rescan)
	// is covered by the next refresh's from.
	if r.cursor.Before(p.Resume) || !r.primed {
		r.cursor = p.Resume
	}
}

// windowStartOf is where the lookback window starts at now, to ISC's
// millisecond.
func windowStartOf(now time.Time, lookback time.Duration) time.Time {
	return now.Add(-lookback).Truncate(time.Millisecond)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// publish persists what the tracker counted and then publishes it, moving
// the last success when the refresh caught up (succeeded); see
// area.Core.Publish.
func (r *Refresher) publish(succeeded bool) {
	r.core.Publish(&r.mu, &r.status, succeeded, r.tracker)
}

// store publishes the tracker as it is, without writing the state file.
func (r *Refresher) store() { r.core.Store(r.status, r.tracker) }

// Schedule is how Run refreshes in the background: every interval, each
// refresh for up to five intervals and at least five minutes (a first pass
// over a large tenant at ISC's rate limit takes a while; what it read by
// then is kept), with a watchdog that sets sailpoint_up to 0 as soon as ISC
// has failed or left an attempt unanswered for StallAfter, rather than when
// the refresh finally gives up.
func (r *Refresher) Schedule(interval time.Duration) area.Schedule {
	s := area.Schedule{Interval: interval, Timeout: max(5*interval, 5*time.Minute)}
	if h, ok := r.source.(healthReporter); ok {
		s.Watch = func(ctx context.Context) { r.watch(ctx, h) }
	}
	return s
}

// Run refreshes now and then every interval until ctx ends (see Schedule).
func (r *Refresher) Run(ctx context.Context, interval time.Duration) {
	r.core.Runner.Run(ctx, r.Schedule(interval))
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
		if since.IsZero() || r.opts.Now().Sub(since) < r.opts.StallAfter {
			continue
		}
		if r.core.Publisher.MarkDown() && !r.announced.Swap(true) {
			r.opts.Logger.Warn("ISC has failed or not answered for "+r.opts.StallAfter.String()+": sailpoint_up is 0 and the metrics keep their last values until a refresh succeeds; the exporter keeps trying",
				"failing_since", since)
		}
	}
}
