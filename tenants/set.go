package tenants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// Set is the running tenants. Apply changes it to a new list: tenants added
// start, removed ones stop and their series go, changed ones restart,
// a rotated secret is taken without a restart, and unchanged tenants are
// not touched (their loops, counters and state go on as they were).
type Set struct {
	registry prometheus.Registerer
	logger   *slog.Logger
	// newTenant builds a tenant: tenant.New, or a test's.
	newTenant func(tenant.Settings, *slog.Logger) (*tenant.Tenant, error)
	check     bool

	apply sync.Mutex // one Apply at a time; guards ctx
	// ctx is Start's: the tenants' loops run until it ends, or their own
	// stop; nil before Start.
	ctx     context.Context
	mu      sync.RWMutex
	running []*running // in the configuration's order
	loops   sync.WaitGroup
}

// running is one tenant and how to stop it.
type running struct {
	t    *tenant.Tenant
	stop context.CancelFunc
	done chan struct{}
}

// SetOptions are how a Set runs its tenants.
type SetOptions struct {
	// Check runs each tenant's check at start before its loops: one line
	// per problem, without retries.
	Check bool
	// New builds a tenant; default tenant.New.
	New func(tenant.Settings, *slog.Logger) (*tenant.Tenant, error)
}

// NewSet returns an empty set whose tenants register with registry; they
// run from Start on.
func NewSet(registry prometheus.Registerer, logger *slog.Logger, opts SetOptions) *Set {
	if opts.New == nil {
		opts.New = tenant.New
	}
	return &Set{registry: registry, logger: logger, newTenant: opts.New, check: opts.Check}
}

// Start runs the loops of every tenant, and from then on of every tenant
// an Apply adds, until ctx ends or Stop; each is checked first when the
// set's options say so.
func (s *Set) Start(ctx context.Context) {
	s.apply.Lock()
	defer s.apply.Unlock()
	s.ctx = ctx
	s.start(s.snapshot())
}

// Changes says what an Apply did, by tenant name.
type Changes struct {
	Added, Removed, Restarted, Rotated, Unchanged []string
}

func (c Changes) String() string {
	return fmt.Sprintf("added %v, removed %v, restarted %v, secret rotated %v, unchanged %v", c.Added, c.Removed, c.Restarted, c.Rotated, c.Unchanged)
}

// Apply makes the set run exactly the tenants of list, in its order. Every
// new tenant is built before anything changes: when one cannot be (its
// state file is locked or cannot be written), Apply changes nothing and
// says why. A changed tenant stops before its replacement opens the same
// state file; if the replacement cannot be built, the tenant goes on with
// its old settings and Apply says why. After Start, new tenants are
// checked (at most tenant.CheckTimeout, all at once) and their loops start.
func (s *Set) Apply(list []tenant.Settings) (Changes, error) {
	s.apply.Lock()
	defer s.apply.Unlock()
	var ch Changes
	current := s.snapshot()
	byName := map[string]*running{}
	for _, r := range current {
		byName[r.t.Name()] = r
	}

	// Build the new tenants first: a failure leaves everything as it was.
	var added []*running
	fail := func(err error) (Changes, error) {
		for _, r := range added {
			s.release(r)
		}
		return Changes{}, err
	}
	var restart []tenant.Settings
	next := make([]*running, 0, len(list))
	for _, settings := range list {
		old, ok := byName[settings.Name]
		switch {
		case !ok:
			r, err := s.build(settings)
			if err != nil {
				return fail(err)
			}
			added = append(added, r)
			next = append(next, r)
			ch.Added = append(ch.Added, settings.Name)
		case old.t.Settings().Equal(settings):
			next = append(next, old)
			ch.Unchanged = append(ch.Unchanged, settings.Name)
		case old.t.Settings().EqualButSecret(settings):
			next = append(next, old)
			ch.Rotated = append(ch.Rotated, settings.Name)
		default:
			next = append(next, nil) // filled below, once the old one has stopped
			restart = append(restart, settings)
		}
	}
	for _, r := range added {
		if err := s.registry.Register(r.t.Collector()); err != nil {
			for _, done := range added {
				if done == r {
					break
				}
				s.registry.Unregister(done.t.Collector())
			}
			return fail(fmt.Errorf("registering the metrics of tenant %q: %w", r.t.Name(), err))
		}
	}

	// From here on the set changes.
	for _, settings := range list {
		if slices.Contains(ch.Rotated, settings.Name) {
			byName[settings.Name].t.UpdateSecret(settings)
			s.logger.Info("the client secret was read again: the next token uses it", tenant.Label, settings.Name, "from", settings.SecretFrom)
		}
	}
	for name, old := range byName {
		if !slices.ContainsFunc(list, func(x tenant.Settings) bool { return x.Name == name }) {
			s.halt(old)
			ch.Removed = append(ch.Removed, name)
		}
	}
	slices.Sort(ch.Removed)
	var errs []error
	for _, settings := range restart {
		old := byName[settings.Name]
		s.halt(old)
		r, err := s.build(settings)
		if err == nil {
			if err = s.registry.Register(r.t.Collector()); err != nil {
				s.release(r)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %q keeps its previous settings: %w", settings.Name, err))
			// Its previous settings worked a moment ago and its state was
			// written at its last refresh: it resumes from there.
			if r, err = s.build(old.t.Settings()); err == nil {
				err = s.registry.Register(r.t.Collector())
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %q could not be restarted: %w", settings.Name, err))
				r = nil
			}
		}
		if r != nil {
			added = append(added, r)
			next[slices.IndexFunc(list, func(x tenant.Settings) bool { return x.Name == settings.Name })] = r
			ch.Restarted = append(ch.Restarted, settings.Name)
		}
	}
	next = slices.DeleteFunc(next, func(r *running) bool { return r == nil })
	if s.ctx != nil {
		s.start(added)
	}
	s.mu.Lock()
	s.running = next
	s.mu.Unlock()
	return ch, errors.Join(errs...)
}

func (s *Set) build(settings tenant.Settings) (*running, error) {
	t, err := s.newTenant(settings, s.logger)
	if err != nil {
		if settings.Name != "" {
			return nil, fmt.Errorf("tenant %q: %w", settings.Name, err)
		}
		return nil, err
	}
	return &running{t: t, done: make(chan struct{})}, nil
}

// start checks the tenants, all at once, then runs their loops.
func (s *Set) start(list []*running) {
	if s.check {
		var wg sync.WaitGroup
		for _, r := range list {
			wg.Go(func() { r.t.Check(s.ctx) })
		}
		wg.Wait()
	}
	for _, r := range list {
		ctx, stop := context.WithCancel(s.ctx)
		r.stop = stop
		s.loops.Go(func() {
			defer close(r.done)
			r.t.Run(ctx)
		})
	}
}

// halt stops a running tenant, waits for its loops, drops its series and
// releases its state file.
func (s *Set) halt(r *running) {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	s.registry.Unregister(r.t.Collector())
	s.release(r)
}

func (s *Set) release(r *running) {
	if err := r.t.Close(); err != nil {
		s.logger.Warn("releasing the tenant's state file", tenant.Label, r.t.Name(), "err", err)
	}
}

// Stop stops every tenant and waits for their loops.
func (s *Set) Stop() {
	s.apply.Lock()
	defer s.apply.Unlock()
	for _, r := range s.snapshot() {
		s.halt(r)
	}
	s.mu.Lock()
	s.running = nil
	s.mu.Unlock()
	s.loops.Wait()
}

func (s *Set) snapshot() []*running {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.running)
}

// Tenants are the running tenants, in the configuration's order.
func (s *Set) Tenants() []*tenant.Tenant {
	out := []*tenant.Tenant{}
	for _, r := range s.snapshot() {
		out = append(out, r.t)
	}
	return out
}

// Ready reports whether every tenant's first refresh has ended.
func (s *Set) Ready() bool {
	for _, r := range s.snapshot() {
		if !r.t.Ready() {
			return false
		}
	}
	return true
}

// NotReady names the tenants whose first refresh has not ended.
func (s *Set) NotReady() []string {
	var out []string
	for _, r := range s.snapshot() {
		if !r.t.Ready() {
			out = append(out, r.t.Name())
		}
	}
	return out
}

// RefreshOnScrape refreshes the activities of every tenant that refreshes
// on scrape, all at once, within ctx: a slow tenant never holds another
// beyond the scrape's own timeout.
func (s *Set) RefreshOnScrape(ctx context.Context) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, r := range s.snapshot() {
		if !r.t.OnScrape() {
			continue
		}
		wg.Go(func() {
			if err := r.t.Activities().Refresh(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
