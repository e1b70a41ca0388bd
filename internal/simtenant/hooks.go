package simtenant

import "time"

// The tenant knows how to misbehave and whom to tell what finished, but not
// when or why: what tests need on top of that (fault queues, hooks while a
// client pages, corrupt elements, the ground truth) lives in a test-support
// package, internal/simtenant/simtest, that attaches to a tenant through
// the small interfaces below. So --demo, which imports this package,
// compiles none of it.

// Fault kinds, also reported in Request.Fault.
const (
	FaultFail      = "fail"      // answer Status: 401 and 429 as ISC sends them, others as an ErrorResponseDto
	FaultReset     = "reset"     // drop the connection without a byte of answer
	FaultTruncate  = "truncate"  // send the full Content-Length, half the body, then close
	FaultMalform   = "malform"   // replace the body of a 200 with invalid JSON
	FaultSlow      = "slow"      // hold the request for Delay (or until the client gives up), then answer normally
	FaultRateLimit = "ratelimit" // answer 429 with Retry-After of Delay, whatever the real limiter says
)

// Fault is one misbehaviour; the zero Fault answers normally. A fault on
// the token endpoint is always an answer of Status: 401 as invalid_client,
// 400 as invalid_request, 429 as a rate limit, others as an ErrorResponseDto.
type Fault struct {
	Kind   string
	Status int
	Delay  time.Duration
}

// Fault queues: what Interceptor.Fault is asked with. The account-activity
// endpoints (list and get) share one, each other collection has its own,
// whatever the family of the path.
const (
	QueueToken      = "token"
	QueueActivities = "activities"
	QueueSources    = "sources"
	QueueClusters   = "managed-clusters"
	QueueTasks      = "task-status"
)

// Collections whose elements BeforeList and Replace concern.
const (
	CollectionActivities = "activities"
	CollectionTasks      = "tasks"
)

// Interceptor is consulted while the tenant serves requests.
type Interceptor interface {
	// Fault is asked when a request of the queue arrives at a path the
	// tenant publishes, before its credentials are looked at, so "the next
	// n requests" means the next n that arrive; what it returns happens to
	// that request.
	Fault(queue string) Fault
	// BeforeList runs before the n-th list request of the collection
	// (1-based; counting those that passed faults, auth, rate limiting and
	// validation) reads the data. It runs without the tenant's lock and may
	// call any method of the tenant.
	BeforeList(collection string, n int)
	// Replace gives the raw text to serve in place of an element of the
	// collection, in list pages and get answers, if any. Filters and sorters
	// still read the element's real fields. It runs without the tenant's
	// lock, once per element served.
	Replace(collection, id string) (raw string, ok bool)
}

// Interceptor returns the tenant's interceptor, first installing the one
// newInterceptor builds if the tenant has none (newInterceptor may be nil
// to only look). A tenant has at most one, for its whole life.
func (t *Tenant) Interceptor(newInterceptor func() Interceptor) Interceptor {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.interceptor == nil && newInterceptor != nil {
		t.interceptor = newInterceptor()
	}
	return t.interceptor
}

func (t *Tenant) currentInterceptor() Interceptor {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.interceptor
}

// popFault asks the interceptor, if any, for the fault of a request.
func (t *Tenant) popFault(queue string) Fault {
	if ic := t.currentInterceptor(); ic != nil {
		return ic.Fault(queue)
	}
	return Fault{}
}

// beforeList counts a list request of the collection and runs the hook.
func (t *Tenant) beforeList(collection string) {
	t.mu.Lock()
	t.listSeq[collection]++
	n, ic := t.listSeq[collection], t.interceptor
	t.mu.Unlock()
	if ic != nil {
		ic.BeforeList(collection, n)
	}
}

// Observer is told when an activity or a task first becomes terminal
// (IsTerminal), once each, whatever later versions do, with that version,
// at once, whether or not indexing lag hides it from the API. It is set
// with Config.Observer so that it sees everything from the first datum on.
// Its methods run with the tenant's lock held: they must not call the
// tenant. The versions are immutable snapshots: an observer may keep them
// but must not modify them.
type Observer interface {
	ActivityTerminal(a *Activity)
	TaskTerminal(k *Task)
}

// Observer returns Config.Observer.
func (t *Tenant) Observer() Observer { return t.cfg.Observer }

// EachActivity calls f with the newest version of every activity stored
// (what really happened, whether or not lag hides it), under the tenant's
// lock: f must not call the tenant, nor modify a.
func (t *Tenant) EachActivity(f func(a *Activity)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, rec := range t.byID {
		f(rec.a)
	}
}

// EachTask calls f with the newest version of every task the API shows
// now (created in the last 90 days of the tenant's clock), in the default
// order, under the tenant's lock: f must not call the tenant, nor modify k.
func (t *Tenant) EachTask(f func(k *Task)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.visibleTasks() {
		f(e.rec.k)
	}
}

// Now is the tenant's clock (the host's plus Config.ClockOffset), at the
// millisecond precision of everything it writes.
func (t *Tenant) Now() time.Time { return t.now() }
