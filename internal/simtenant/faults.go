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

func (t *Tenant) pushFault(token bool, f fault) {
	if f.n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if token {
		t.tokFaults = append(t.tokFaults, f)
	} else {
		t.faults = append(t.faults, f)
	}
}

func (t *Tenant) popFault(token bool) fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := &t.faults
	if token {
		q = &t.tokFaults
	}
	if len(*q) == 0 {
		return fault{}
	}
	f := (*q)[0]
	(*q)[0].n--
	if (*q)[0].n == 0 {
		*q = (*q)[1:]
	}
	return f
}

// FailNext answers the next n API requests with status and the spec's
// ErrorResponseDto (500 gets detailCode "500.0 Internal Fault").
func (t *Tenant) FailNext(n int, status int) {
	t.pushFault(false, fault{kind: faultFail, n: n, status: status})
}

// ResetNext drops the connection of the next n API requests without
// answering.
func (t *Tenant) ResetNext(n int) { t.pushFault(false, fault{kind: faultReset, n: n}) }

// TruncateNext sends the next n API responses with their full
// Content-Length but only half the body, then closes the connection.
func (t *Tenant) TruncateNext(n int) { t.pushFault(false, fault{kind: faultTruncate, n: n}) }

// MalformNext replaces the body of the next n successful API responses with
// syntactically invalid JSON, keeping status 200.
func (t *Tenant) MalformNext(n int) { t.pushFault(false, fault{kind: faultMalform, n: n}) }

// SlowNext holds each of the next n API requests for d (or until the client
// gives up or the tenant closes) before answering normally, to exercise
// client timeouts.
func (t *Tenant) SlowNext(n int, d time.Duration) {
	t.pushFault(false, fault{kind: faultSlow, n: n, delay: d})
}

// RateLimitNext answers the next n API requests with 429 and Retry-After
// set to retryAfter rounded up to whole seconds, independent of the real
// limiter.
func (t *Tenant) RateLimitNext(n int, retryAfter time.Duration) {
	t.pushFault(false, fault{kind: faultRateLimit, n: n, delay: retryAfter})
}

// FailTokenNext makes the next n token requests fail with status: 401 as
// invalid_client, 400 as invalid_request, 429 as a rate limit, anything
// else as an ErrorResponseDto.
func (t *Tenant) FailTokenNext(n int, status int) {
	t.pushFault(true, fault{kind: faultFail, n: n, status: status})
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
