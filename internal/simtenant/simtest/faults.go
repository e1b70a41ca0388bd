package simtest

import (
	"sync"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// Injector queues faults for the requests a tenant serves, runs hooks while
// a client pages and serves corrupt elements. All methods are safe for
// concurrent use. Its Fault, BeforeList and Replace are for the tenant (it
// is the tenant's simtenant.Interceptor).
type Injector struct {
	tenant *simtenant.Tenant

	mu           sync.Mutex
	queues       map[string][]queued // by simtenant.Queue*
	onList       func(int)
	onTaskList   func(int)
	corrupt      map[string]string // activity id: raw text
	corruptTasks map[string]string // task id: raw text
}

// queued is one entry of a fault queue: n requests in a row get f. Queues
// are FIFO: FailNext(2, 500) followed by ResetNext(1) fails two requests
// and then resets the third, which lets a test script an exact sequence of
// upstream trouble.
type queued struct {
	f simtenant.Fault
	n int
}

func newInjector(t *simtenant.Tenant) *Injector {
	return &Injector{tenant: t, queues: map[string][]queued{}, corrupt: map[string]string{}, corruptTasks: map[string]string{}}
}

func (j *Injector) push(queue string, n int, f simtenant.Fault) {
	if n <= 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.queues[queue] = append(j.queues[queue], queued{f, n})
}

// Fault pops the next fault of the queue, for the tenant.
func (j *Injector) Fault(queue string) simtenant.Fault {
	j.mu.Lock()
	defer j.mu.Unlock()
	q := j.queues[queue]
	if len(q) == 0 {
		return simtenant.Fault{}
	}
	f := q[0].f
	q[0].n--
	if q[0].n == 0 {
		q = q[1:]
	}
	j.queues[queue] = q
	return f
}

// BeforeList runs OnList's or OnTaskList's function, for the tenant.
func (j *Injector) BeforeList(collection string, n int) {
	j.mu.Lock()
	f := j.onList
	if collection == simtenant.CollectionTasks {
		f = j.onTaskList
	}
	j.mu.Unlock()
	if f != nil {
		f(n)
	}
}

// Replace serves Corrupt's and CorruptTask's raw text, for the tenant.
func (j *Injector) Replace(collection, id string) (string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	m := j.corrupt
	if collection == simtenant.CollectionTasks {
		m = j.corruptTasks
	}
	raw, ok := m[id]
	return raw, ok
}

// The methods below queue faults for the account-activity endpoints (list
// and get by id, under every family's path) only; FailSourcesNext,
// FailClustersNext, FailTasksNext and FailTokenNext reach the others.

// FailNext answers the next n API requests with status and the spec's
// ErrorResponseDto (500 gets detailCode "500.0 Internal Fault").
func (j *Injector) FailNext(n int, status int) {
	j.push(simtenant.QueueActivities, n, simtenant.Fault{Kind: simtenant.FaultFail, Status: status})
}

// ResetNext drops the connection of the next n API requests without
// answering.
func (j *Injector) ResetNext(n int) {
	j.push(simtenant.QueueActivities, n, simtenant.Fault{Kind: simtenant.FaultReset})
}

// TruncateNext sends the next n API responses with their full
// Content-Length but only half the body, then closes the connection.
func (j *Injector) TruncateNext(n int) {
	j.push(simtenant.QueueActivities, n, simtenant.Fault{Kind: simtenant.FaultTruncate})
}

// MalformNext replaces the body of the next n successful API responses with
// syntactically invalid JSON, keeping status 200.
func (j *Injector) MalformNext(n int) {
	j.push(simtenant.QueueActivities, n, simtenant.Fault{Kind: simtenant.FaultMalform})
}

// SlowNext holds each of the next n API requests for d (or until the client
// gives up or the tenant closes) before answering normally, to exercise
// client timeouts.
func (j *Injector) SlowNext(n int, d time.Duration) {
	j.push(simtenant.QueueActivities, n, simtenant.Fault{Kind: simtenant.FaultSlow, Delay: d})
}

// RateLimitNext answers the next n API requests with 429 and Retry-After
// set to retryAfter rounded up to whole seconds, independent of the real
// limiter.
func (j *Injector) RateLimitNext(n int, retryAfter time.Duration) {
	j.push(simtenant.QueueActivities, n, simtenant.Fault{Kind: simtenant.FaultRateLimit, Delay: retryAfter})
}

// FailTokenNext makes the next n token requests fail with status: 401 as
// invalid_client, 400 as invalid_request, 429 as a rate limit, anything
// else as an ErrorResponseDto.
func (j *Injector) FailTokenNext(n int, status int) {
	j.push(simtenant.QueueToken, n, simtenant.Fault{Kind: simtenant.FaultFail, Status: status})
}

// FailSourcesNext answers the next n requests to list sources or get one
// (under any family's path) with status, like FailNext.
func (j *Injector) FailSourcesNext(n int, status int) {
	j.push(simtenant.QueueSources, n, simtenant.Fault{Kind: simtenant.FaultFail, Status: status})
}

// FailClustersNext answers the next n requests to list managed clusters or
// get one (under any family's path) with status, like FailNext.
func (j *Injector) FailClustersNext(n int, status int) {
	j.push(simtenant.QueueClusters, n, simtenant.Fault{Kind: simtenant.FaultFail, Status: status})
}

// FailTasksNext answers the next n requests to list task statuses or get
// one (under any family's path) with status, like FailNext.
func (j *Injector) FailTasksNext(n int, status int) {
	j.push(simtenant.QueueTasks, n, simtenant.Fault{Kind: simtenant.FaultFail, Status: status})
}

// OnList registers f to run before the n-th account-activity list request
// (1-based, counted from the tenant's start) reads the data set, so a test
// can change records while a client is paging. Only requests that passed
// faults, auth, rate limiting and validation count. f runs without the
// tenant's lock held and may call any method; nil clears.
func (j *Injector) OnList(f func(n int)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.onList = f
}

// OnTaskList is OnList for task status lists, with their own count: f runs
// before the n-th task list request reads the data, so a test can create or
// finish tasks while a client pages. nil clears.
func (j *Injector) OnTaskList(f func(n int)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.onTaskList = f
}

// Corrupt makes list pages and get answers render the activity as raw, which
// may be anything: invalid JSON or UTF-8, deep nesting, megabytes, or valid
// JSON that breaks the schema (Tenant.RawJSON gives the text to derive it
// from). The rest of the page is produced normally, and the activity keeps
// its place in the order, since filters and sorters still read its real
// fields; it stays corrupt across new versions. Corrupt(id, "") restores
// it; an unknown id is ignored.
func (j *Injector) Corrupt(id string, raw string) {
	_, known := j.tenant.Activity(id)
	j.setRaw(j.corrupt, id, raw, known)
}

// CorruptTask is Corrupt for a task (a task without target, a bad
// timestamp, a field of the wrong type, invalid JSON; Tenant.RawTaskJSON
// gives the text to derive it from).
func (j *Injector) CorruptTask(id, raw string) {
	_, known := j.tenant.Task(id)
	j.setRaw(j.corruptTasks, id, raw, known)
}

func (j *Injector) setRaw(m map[string]string, id, raw string, known bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case raw == "":
		delete(m, id)
	case known:
		m[id] = raw
	}
}
