// Package simtenant is a simulated SailPoint Identity Security Cloud tenant
// serving the account-activities API over real HTTP.
//
// It exists for two audiences. Tests use it as an independent oracle: it
// implements the spec (auth, paging, the filter language, error shapes) on
// its own, without sharing code with the exporter, and it keeps a ground
// truth log in the exporter's label space so a test can compare what the
// exporter counted with what actually happened. The exporter's --demo mode
// runs it in-process so that people without a tenant still see live data.
//
// Nothing moves on its own: the data set only changes when a caller invokes
// Step, SeedHistory, BulkRefresh, Upsert or Modify (or RunDemo, which calls
// Step on a ticker), so a seeded test is reproducible.
package simtenant

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config tunes a Tenant. The zero value is usable: every zero field takes the
// documented default, so callers only spell out what a test depends on.
type Config struct {
	// Clients maps OAuth client id to secret. Several ids let a test check
	// that rate limits are per client. Default {"sim-client-id": "sim-client-secret"}.
	Clients map[string]string
	// TokenTTL is the access token lifetime. Default 749s, about ISC's 12.5 minutes.
	TokenTTL time.Duration
	// RateLimit is the number of API requests per RateWindow per client id.
	// Zero means the default 100, so that a zero Config behaves like ISC;
	// negative disables limiting.
	RateLimit int
	// RateWindow is the sliding window of the rate limiter. Default 10s.
	RateWindow time.Duration
	// Seed drives every random choice about the data, so equal seeds and
	// equal call sequences give equal data sets.
	Seed int64
	// Now is the host clock. Tests pass a fake clock to move time without
	// sleeping. Default time.Now.
	Now func() time.Time
	// ClockOffset skews the tenant's own clock: the tenant lives at
	// Now()+ClockOffset for everything it does, the timestamps it writes,
	// token expiry, rate limiting, the Date header, the request log and the
	// truth. It lets a test run a tenant whose clock disagrees with the
	// exporter's.
	ClockOffset time.Duration
	// EdgeCases tunes how often the simulator produces the odd-but-legal
	// values the spec allows (nulls, unknown enum values).
	EdgeCases EdgeCases
	// MaxActivities bounds memory for long --demo runs: when exceeded, the
	// oldest terminal activities are dropped, and the truth log is trimmed
	// to a few times this size. Zero keeps everything.
	MaxActivities int
	// RequestLogSize bounds the log returned by Requests. Default 10000.
	RequestLogSize int
}

// EdgeCases holds the probability of each oddity per opportunity. A zero
// field takes its small default rate, a negative one never happens, and Off
// disables them all, so a test can isolate one edge case at a time.
type EdgeCases struct {
	Off bool
	// NullType gives an activity a null type.
	NullType float64
	// NullCompletionStatus leaves a finished activity's completionStatus null.
	NullCompletionStatus float64
	// NullItems and EmptyItems give an activity items null or [].
	NullItems  float64
	EmptyItems float64
	// NullErrors gives errors or warnings null instead of a list.
	NullErrors float64
	// NullOperation gives an item a null operation.
	NullOperation float64
	// UnknownEnums uses values the spec does not list yet (item status
	// QUEUED, operation RESET, completionStatus CANCELLED) because the spec
	// says these lists may grow and clients must cope.
	UnknownEnums float64
}

func (e EdgeCases) withDefaults() EdgeCases {
	def := func(v *float64, d float64) {
		switch {
		case e.Off || *v < 0:
			*v = 0
		case *v == 0:
			*v = d
		}
	}
	def(&e.NullType, 0.01)
	def(&e.NullCompletionStatus, 0.01)
	def(&e.NullItems, 0.01)
	def(&e.EmptyItems, 0.01)
	def(&e.NullErrors, 0.03)
	def(&e.NullOperation, 0.01)
	def(&e.UnknownEnums, 0.01)
	return e
}

// Tenant is the simulated tenant. All methods are safe for concurrent use,
// including concurrently with HTTP requests being served.
type Tenant struct {
	cfg  Config
	edge EdgeCases

	mu      sync.Mutex
	rng     *rand.Rand // data only, so HTTP traffic never perturbs seeded data
	byID    map[string]*record
	ordered []entry   // by created then id: the default list order
	active  []*record // simulated activities not yet terminal, in creation order
	recent  []string  // recently terminal simulated ids, candidates for late edits
	people  []person
	vaID    string

	log     []truthEntry
	logBase uint64

	tenantID  string
	tokens    map[string]*token
	limiter   map[string][]time.Time
	faults    []fault
	tokFaults []fault
	onList    func(int)
	listSeq   int
	reqLog    []Request
	reqSeq    []uint64 // arrival number of each reqLog entry, ascending
	nextReq   uint64

	srv    *http.Server
	closed chan struct{}
}

// record pairs an immutable activity snapshot with simulator bookkeeping.
// Snapshots are never changed once stored, so a page can be marshalled
// outside the lock while the simulator keeps going.
type record struct {
	a      *Activity
	sim    *simState // nil once a test scripts the activity with Upsert
	logged bool      // whether its first terminal version is in the truth log
}

// New builds a tenant with an empty data set; call SeedHistory for history.
func New(cfg Config) *Tenant {
	if len(cfg.Clients) == 0 {
		cfg.Clients = map[string]string{"sim-client-id": "sim-client-secret"}
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 749 * time.Second
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 100
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RequestLogSize <= 0 {
		cfg.RequestLogSize = 10000
	}
	t := &Tenant{
		cfg:     cfg,
		edge:    cfg.EdgeCases.withDefaults(),
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5a11b017)),
		byID:    map[string]*record{},
		tokens:  map[string]*token{},
		limiter: map[string][]time.Time{},
		closed:  make(chan struct{}),
	}
	t.people = makePeople(t.rng, 240)
	t.vaID = uuidFrom(t.rng)
	t.tenantID = uuidFrom(t.rng)
	return t
}

// clock is the tenant's own time: the host clock plus ClockOffset.
func (t *Tenant) clock() time.Time {
	return t.cfg.Now().Add(t.cfg.ClockOffset).UTC()
}

// now truncates to milliseconds because ISC stores and renders
// milliseconds; finer clocks would make filters disagree with the JSON.
func (t *Tenant) now() time.Time {
	return t.clock().Truncate(time.Millisecond)
}

// Upsert stores a copy of a exactly as given: no timestamp is touched, so a
// test can script any history. An empty ID gets a fresh one. The simulator
// stops driving an activity once a test has upserted it.
func (t *Tenant) Upsert(a Activity) {
	c := a.Clone()
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.ID == "" {
		c.ID = hexID(t.rng)
	}
	if rec := t.byID[c.ID]; rec != nil {
		rec.sim = nil
	}
	t.put(&c)
}

// Modify applies f to a copy of the activity and stores it with modified set
// to now, like any change on a real tenant. It reports whether id exists.
func (t *Tenant) Modify(id string, f func(*Activity)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.byID[id]
	if rec == nil {
		return false
	}
	c := rec.a.Clone()
	f(&c)
	c.ID = id
	now := t.now()
	c.Modified = &now
	t.put(&c)
	return true
}

// Activity returns a copy of the stored activity.
func (t *Tenant) Activity(id string) (Activity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.byID[id]
	if rec == nil {
		return Activity{}, false
	}
	return rec.a.Clone(), true
}

// entry is the hot part of a stored activity: every key that filters and
// sorters read, kept by value in one array. Scanning 50k activities then
// walks contiguous memory instead of chasing pointers.
type entry struct {
	rec                                 *record
	id                                  string
	typ                                 string
	created, modified                   int64 // Unix milliseconds
	nullType, nullCreated, nullModified bool
}

func newEntry(rec *record, a *Activity) entry {
	e := entry{rec: rec, id: a.ID, nullType: a.Type == nil, nullCreated: a.Created.IsZero(), nullModified: a.Modified == nil}
	if !e.nullType {
		e.typ = *a.Type
	}
	e.created = a.Created.UnixMilli()
	if !e.nullModified {
		e.modified = a.Modified.UnixMilli()
	}
	return e
}

// cmpEntry is the default list order: created, then id.
func cmpEntry(x, y entry) int {
	if c := cmpInt(x.created, y.created); c != 0 {
		return c
	}
	return strings.Compare(x.id, y.id)
}

// put stores a snapshot the caller no longer touches. It keeps the created
// order and logs the first terminal version; callers hold t.mu.
func (t *Tenant) put(a *Activity) *record {
	rec := t.byID[a.ID]
	e := newEntry(rec, a)
	if rec == nil {
		rec = &record{a: a}
		t.byID[a.ID] = rec
		e.rec = rec
		i, _ := slices.BinarySearchFunc(t.ordered, e, cmpEntry)
		t.ordered = slices.Insert(t.ordered, i, e)
	} else {
		i, ok := slices.BinarySearchFunc(t.ordered, newEntry(rec, rec.a), cmpEntry)
		if !ok {
			panic("simtenant: index out of sync for " + a.ID)
		}
		if t.ordered[i].created == e.created {
			t.ordered[i] = e
		} else {
			t.ordered = slices.Delete(t.ordered, i, i+1)
			j, _ := slices.BinarySearchFunc(t.ordered, e, cmpEntry)
			t.ordered = slices.Insert(t.ordered, j, e)
		}
		rec.a = a
	}
	if !rec.logged && a.isTerminal() {
		rec.logged = true
		t.logTerminal(a)
	}
	return rec
}

// evict keeps a long demo run from growing without bound. It drops the
// oldest terminal activities once the store is 10% over the cap, so the
// O(n) compaction runs rarely.
func (t *Tenant) evict() {
	capacity := t.cfg.MaxActivities
	if capacity <= 0 || len(t.byID) <= capacity+capacity/10 {
		return
	}
	drop := len(t.byID) - capacity
	kept := t.ordered[:0]
	for _, e := range t.ordered {
		if drop > 0 && e.rec.a.isTerminal() {
			delete(t.byID, e.id)
			drop--
			continue
		}
		kept = append(kept, e)
	}
	clear(t.ordered[len(kept):])
	t.ordered = kept
	if limit := 4 * capacity; len(t.log) > limit {
		cut := len(t.log) - limit/2
		t.log = slices.Delete(t.log, 0, cut)
		t.logBase += uint64(cut)
	}
}
