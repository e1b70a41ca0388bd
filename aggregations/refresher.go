package aggregations

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/outage"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Lister reads ISC's task status: the ISC client, in production.
type Lister interface {
	ListTasks(ctx context.Context, q client.TaskQuery, fn client.TaskPageFunc) error
}

// Default settings.
const (
	// DefaultLookback is a week: a source aggregated weekly still shows its
	// last success, and a tenant's week of hourly aggregations of 256
	// sources of both types (86,000 tasks) is read in about 350 requests.
	DefaultLookback = 7 * 24 * time.Hour
	// MaxLookback is how far back ISC serves task status.
	MaxLookback = 90 * 24 * time.Hour
	// defaultOverlap is how far before the newest task a complete listing
	// saw the next one reads back: a task ISC indexes that late is still
	// read. At 256 sources aggregating hourly, 15 minutes is 64 tasks of a
	// type: the steady listing stays one page.
	defaultOverlap = 15 * time.Minute
)

// DefaultTypes are the task types watched by default: account and
// entitlement (group) aggregations.
var DefaultTypes = []string{"CLOUD_ACCOUNT_AGGREGATION", "CLOUD_GROUP_AGGREGATION"}

// Options configure a Refresher.
type Options struct {
	Lookback   time.Duration // default DefaultLookback
	Types      []string      // default DefaultTypes
	MaxSources int           // distinct source_id label values; default 256
	Overlap    time.Duration // default 15m
	// Interval is the period of the background reads, said in the log lines
	// of a failure.
	Interval time.Duration
	// Wiring plugs the Refresher into its tenant. The counting rule runs on
	// ISC's clock: the lister's when it is an area.ISCClock (the ISC client).
	area.Wiring
}

// Refresher reads ISC's task status for the watched aggregation types,
// applies it to the counting rule and publishes what it counted.
//
// Its Runner runs one refresh at a time, and only a refresh changes the
// tracker and the position, so the refresh reads them without a lock; it
// holds mu while it changes them, because the state file encodes them from
// whichever goroutine writes it.
type Refresher struct {
	lister Lister
	opts   Options
	core   area.Core // publisher, runner, collector, shared counters

	mu      sync.Mutex // held by the refresh while it changes what follows, and by EncodeState
	tracker *tracker
	pos     position

	status   area.Status // owned by the refresh alone
	failures outage.Streak
}

// NewRefresher returns a Refresher that reads from lister; with a state
// file it resumes from the file's aggregations section. Nothing is read
// from ISC until Refresh or Run.
func NewRefresher(lister Lister, opts Options) *Refresher {
	if opts.Lookback <= 0 {
		opts.Lookback = DefaultLookback
	}
	if len(opts.Types) == 0 {
		opts.Types = DefaultTypes
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = 256
	}
	if opts.Overlap <= 0 {
		opts.Overlap = defaultOverlap
	}
	opts.DefaultWiring(lister)
	d := newDescs(opts.State != nil, opts.ConstLabels)
	r := &Refresher{
		lister:  lister,
		tracker: newTracker(opts.Lookback, opts.Types, opts.MaxSources, opts.ISCNow, d),
		pos:     position{primed: map[string]bool{}, watermarks: map[string]time.Time{}},
	}
	r.core = area.NewCore(&opts.Wiring, d.status, d.data(), r.refresh)
	r.opts = opts
	if opts.State == nil || !r.restore(opts.State) {
		// Up 0 until the first read ends: the area is watched, not yet read.
		r.store()
	}
	return r
}

// restore attaches the Refresher to the state file and resumes from what
// the file held for it; it reports whether it did.
func (r *Refresher) restore(f *state.File) bool {
	body, ok := f.Attach(SectionName, r)
	if !ok {
		return false
	}
	t, p, err := decodeState(body, r.tracker, r.opts.Types)
	if err != nil {
		f.Reject(SectionName, err)
		return false
	}
	r.tracker, r.pos, r.status.LastSuccess = t, p, p.lastSuccess
	r.opts.Logger.Info("resuming the aggregations from the state file", "file", f.Path(), "tracked_tasks", t.tasks.Len())
	r.store()
	return true
}

// EncodeState implements state.Section.
func (r *Refresher) EncodeState(e *state.Encoder) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pos
	p.lastSuccess = r.status.LastSuccess
	encodeState(e, r.tracker, p)
	return nil
}

// Collector is what to register with Prometheus: the aggregation metrics,
// and the shared families unless Options.Shared shares them.
func (r *Refresher) Collector() prometheus.Collector { return r.core.Collector }

// Runner runs the refreshes.
func (r *Refresher) Runner() *area.Runner { return r.core.Runner }

// Refresh reads the task status, applies it and publishes; a caller arriving
// while a refresh runs shares that one. What was read before an error is
// kept: a finish read is counted, and the next refresh goes on.
func (r *Refresher) Refresh(ctx context.Context) error { return r.core.Runner.Refresh(ctx) }

// Run refreshes now and then every interval until ctx ends; a refresh may
// take up to five intervals, and at least five minutes (a first pass over a
// week of a large tenant).
func (r *Refresher) Run(ctx context.Context, interval time.Duration) {
	r.core.Runner.Run(ctx, area.Schedule{Interval: interval, Timeout: max(5*interval, 5*time.Minute)})
}

func (r *Refresher) refresh(ctx context.Context) error {
	start := r.opts.Now()
	err := r.read(ctx)
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		r.publish(false)
		return err // shutting down: nothing to say about ISC
	}
	r.status.Up = err == nil
	r.status.Refreshed, r.status.Duration = true, r.opts.Now().Sub(start)
	r.publish(err == nil)
	if err != nil {
		r.failed(err)
		return err
	}
	if failures, lasted := r.failures.Recover(r.opts.Now()); failures > 0 {
		r.opts.Logger.Info("reading ISC's task status works again", "failed_reads", failures, "failing_for", lasted.Round(time.Second))
	}
	return nil
}

// read lists what changed for each watched type, then follows up the
// running tasks that no listing showed.
//
// Why this reads every change once: ISC sorts the list by creation only and
// filters neither on creation nor on modification nor completion. So each
// type is read newest first, back to the newest creation a complete
// listing saw, less the overlap: that covers every task created since,
// running or finished. A task created while paging shifts the rest one
// place later, so a task may be read twice (de-duplicated by id), never
// skipped. A task created earlier and still running was seen running by an
// earlier listing (or the first pass, which reads every running task of any
// age): it is asked for by id, whatever its type, until ISC says it
// finished. A finish is counted when first seen, whichever read shows it.
func (r *Refresher) read(ctx context.Context) error {
	if !r.pos.started {
		if c, ok := r.lister.(area.ISCClock); ok {
			if err := c.SyncClock(ctx); err != nil {
				return err
			}
		}
		r.mu.Lock()
		r.pos.started = true
		r.tracker.startCounting(r.opts.ISCNow())
		r.mu.Unlock()
		// When counting started is written at once: a process killed
		// during its first pass resumes counting from then, rather than
		// from a later first pass that would take what finished meanwhile
		// for history.
		if r.opts.State != nil {
			_ = r.opts.State.Write()
		}
	}
	seen := map[string]bool{}
	for _, typ := range r.opts.Types {
		if err := r.readType(ctx, typ, seen); err != nil {
			return err
		}
	}
	return r.followUp(ctx, seen)
}

// readType reads one type's tasks newest first, back to where the last
// complete listing reached (the whole lookback, and every running task, at
// the type's first pass).
func (r *Refresher) readType(ctx context.Context, typ string, seen map[string]bool) error {
	primed := r.pos.primed[typ]
	windowStart := r.opts.ISCNow().Add(-r.opts.Lookback)
	stop := windowStart
	if primed {
		stop = r.pos.watermarks[typ].Add(-r.opts.Overlap)
	} else {
		// Every task still running, whatever its age: a stuck one from last
		// month is what the in-progress gauges exist to show.
		err := r.lister.ListTasks(ctx, client.TaskQuery{Type: typ, Running: true}, func(p client.TaskPage) (bool, error) {
			r.apply(p, typ, seen)
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	newest := r.pos.watermarks[typ]
	err := r.lister.ListTasks(ctx, client.TaskQuery{Type: typ}, func(p client.TaskPage) (bool, error) {
		r.apply(p, typ, seen)
		oldest := time.Time{}
		for i := range p.Tasks {
			if c := p.Tasks[i].Created; c.After(newest) {
				newest = c
			}
			if c := p.Tasks[i].Created; oldest.IsZero() || c.Before(oldest) {
				oldest = c
			}
		}
		// Read on while this page reaches no further back than where to
		// stop (a page of rejected records alone says nothing: read on).
		return oldest.IsZero() || !oldest.Before(stop), nil
	})
	if err != nil {
		return err
	}
	if newest.IsZero() {
		// Nothing of this type within ISC's 90 days: the next listing
		// reads back to here.
		newest = windowStart
	}
	r.mu.Lock()
	r.pos.watermarks[typ], r.pos.primed[typ] = newest, true
	r.mu.Unlock()
	return nil
}

// followUp asks for the running tasks that no listing of this refresh
// showed, by id: the answer says which finished. A task ISC no longer
// serves (90 days old, or deleted) is forgotten.
func (r *Refresher) followUp(ctx context.Context, seen map[string]bool) error {
	types := map[string]string{}
	r.tracker.tasks.Each(func(id string, e task) {
		if e.flags&flagFinished == 0 && !seen[id] {
			types[id] = r.tracker.types.Name(e.typ)
		}
	})
	if len(types) == 0 {
		return nil
	}
	ids := make([]string, 0, len(types))
	for id := range types {
		ids = append(ids, id)
	}
	answered := map[string]bool{}
	err := r.lister.ListTasks(ctx, client.TaskQuery{IDs: ids}, func(p client.TaskPage) (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range p.Tasks {
			tk := &p.Tasks[i]
			if typ, ok := types[tk.ID]; ok {
				answered[tk.ID] = true
				r.tracker.apply(tk, typ)
			}
		}
		r.rejectAll(p.Rejected)
		return true, nil
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range types {
		if !answered[id] {
			r.tracker.forget(id)
		}
	}
	return nil
}

// apply takes in one page of a type's listing.
func (r *Refresher) apply(p client.TaskPage, typ string, seen map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p.Tasks {
		seen[p.Tasks[i].ID] = true
		r.tracker.apply(&p.Tasks[i], typ)
	}
	r.rejectAll(p.Rejected)
}

// rejectAll counts the page's rejected elements, each once; callers hold mu.
func (r *Refresher) rejectAll(rejected []client.Rejection) {
	for i := range rejected {
		if rej := &rejected[i]; r.tracker.reject(rej) {
			r.opts.Logger.Warn("skipped a record of ISC's task status that is not a task the exporter can use; the tasks around it are counted",
				"reason", rej.Reason, "id", rej.ID, "err", rej.Detail)
		}
	}
}

// publish persists, then publishes, what the tracker counted (see
// area.Core.Publish); a read that got every answer (succeeded) moves the
// last success.
func (r *Refresher) publish(succeeded bool) {
	r.core.Publish(&r.mu, &r.status, succeeded, r.tracker)
}

// store publishes what the tracker holds, the state file untouched.
func (r *Refresher) store() { r.core.Store(r.status, r.tracker) }
