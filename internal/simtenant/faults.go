package simtenant

import "time"

// Fault kinds, also reported in Request.Fault.
const (
	faultFail      = "fail"
	faultReset     = "reset"
	faultTruncate  = "truncate"
	faultMalform   = "malform"
	faultSlow      = "slow"
	faultRateLimit = "ratelimit"
)

// fault is one queued misbehaviour. Faults form a FIFO: FailNext(2, 500)
// followed by ResetNext(1) fails two requests and then resets the third,
// which lets a test script an exact sequence of upstream trouble.
type fault struct {
	kind   string
	n      int
	status int
	delay  time.Duration
}

// Fault queues: the activity endpoints (list and get) share one, each new
// endpoint family has its own, and the token endpoint has its own, so a
// test can fail one call without disturbing the others.
const (
	queueToken      = "token"
	queueActivities = "activities"
	queueSources    = "sources"
	queueClusters   = "managed-clusters"
	queueTasks      = "task-status"
)

func (t *Tenant) pushFault(queue string, f fault) {
	if f.n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults[queue] = append(t.faults[queue], f)
}

func (t *Tenant) popFault(queue string) fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.faults[queue]
	if len(q) == 0 {
		return fault{}
	}
	f := q[0]
	q[0].n--
	if q[0].n == 0 {
		q = q[1:]
	}
	t.faults[queue] = q
	return f
}

// The methods below queue faults for the account-activity endpoints (list
// and get by id, under every family's path) only; FailSourcesNext and
// FailClustersNext reach the other collections.

// FailNext answers the next n API requests with status and the spec's
// ErrorResponseDto (500 gets detailCode "500.0 Internal Fault").
func (t *Tenant) FailNext(n int, status int) {
	t.pushFault(queueActivities, fault{kind: faultFail, n: n, status: status})
}

// ResetNext drops the connection of the next n API requests without
// answering.
func (t *Tenant) ResetNext(n int) { t.pushFault(queueActivities, fault{kind: faultReset, n: n}) }

// TruncateNext sends the next n API responses with their full
// Content-Length but only half the body, then closes the connection.
func (t *Tenant) TruncateNext(n int) { t.pushFault(queueActivities, fault{kind: faultTruncate, n: n}) }

// MalformNext replaces the body of the next n successful API responses with
// syntactically invalid JSON, keeping status 200.
func (t *Tenant) MalformNext(n int) { t.pushFault(queueActivities, fault{kind: faultMalform, n: n}) }

// SlowNext holds each of the next n API requests for d (or until the client
// gives up or the tenant closes) before answering normally, to exercise
// client timeouts.
func (t *Tenant) SlowNext(n int, d time.Duration) {
	t.pushFault(queueActivities, fault{kind: faultSlow, n: n, delay: d})
}

// RateLimitNext answers the next n API requests with 429 and Retry-After
// set to retryAfter rounded up to whole seconds, independent of the real
// limiter.
func (t *Tenant) RateLimitNext(n int, retryAfter time.Duration) {
	t.pushFault(queueActivities, fault{kind: faultRateLimit, n: n, delay: retryAfter})
}

// FailTokenNext makes the next n token requests fail with status: 401 as
// invalid_client, 400 as invalid_request, 429 as a rate limit, anything
// else as an ErrorResponseDto.
func (t *Tenant) FailTokenNext(n int, status int) {
	t.pushFault(queueToken, fault{kind: faultFail, n: n, status: status})
}

// FailSourcesNext answers the next n requests to list sources or get one
// (under any family's path) with status, like FailNext.
func (t *Tenant) FailSourcesNext(n int, status int) {
	t.pushFault(queueSources, fault{kind: faultFail, n: n, status: status})
}

// FailClustersNext answers the next n requests to list managed clusters or
// get one (under any family's path) with status, like FailNext.
func (t *Tenant) FailClustersNext(n int, status int) {
	t.pushFault(queueClusters, fault{kind: faultFail, n: n, status: status})
}

// OnList registers f to run before the n-th list request (1-based) reads the
// data set, so a test can change records while a client is paging. Only
// requests that passed faults, auth, rate limiting and validation count.
// f runs without the tenant's lock held and may call any method; nil clears.
func (t *Tenant) OnList(f func(n int)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onList = f
}

// FailTasksNext answers the next n requests to list task statuses or get
// one (under any family's path) with status, like FailNext.
func (t *Tenant) FailTasksNext(n int, status int) {
	t.pushFault(queueTasks, fault{kind: faultFail, n: n, status: status})
}

// OnTaskList is OnList for task status lists: f runs before the n-th task
// list request (1-based, counting those that passed faults, auth, rate
// limiting and validation) reads the data, so a test can create or finish
// tasks while a client pages. nil clears.
func (t *Tenant) OnTaskList(f func(n int)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onTaskList = f
}
