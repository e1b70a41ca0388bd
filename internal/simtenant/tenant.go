// Package simtenant is a simulated SailPoint Identity Security Cloud tenant
// serving the account-activities, sources, managed-clusters and task-status
// APIs over real HTTP.
//
// A real tenant publishes each collection under several API families: the
// per-service paths SailPoint is moving to and the yearly collections. The
// simulated one serves each under every path of this table (list, and get
// by id), with the same data, fault queues and Deny families whatever the
// path; Request.Family says which one a call used:
//
//	family  account activities      sources      managed clusters      task status
//	v1      /account-activities/v1  /sources/v1  /managed-clusters/v1  /task-status/v1
//	v3      /v3/account-activities  /v3/sources  /v3/managed-clusters  -
//	v2024   /v2024/...              /v2024/...   /v2024/...            -
//	v2025   /v2025/...              /v2025/...   /v2025/...            /v2025/task-status
//	v2026   /v2026/...              /v2026/...   /v2026/...            /v2026/task-status (experimental)
//	beta    /beta/...               /beta/...    /beta/...             /beta/task-status
//
// Config.PerServiceOff and DisablePath take paths away (404) as on a tenant
// where they are not enabled yet, Deprecate adds ISC's deprecation headers,
// and an experimental path answers 400 without X-SailPoint-Experimental:
// true, as ISC does.
//
// It exists for two audiences. Tests use it as an independent oracle: it
// implements the spec (auth, paging, the filter language, error shapes) on
// its own, without sharing code with the exporter. The exporter's --demo
// mode runs it in-process so that people without a tenant still see live
// data. What only tests need lives in the package simtest beside it, so that
// the exporter does not compile it: fault injection and the ground truth
// (what an exporter should have counted, in its label space). They attach
// through two small hooks of this package, an Interceptor the server
// consults for faults and an Observer told of everything that becomes
// terminal (hooks.go).
//
// Nothing moves on its own: the data set only changes when a caller invokes
// Step, SeedHistory, SeedTaskHistory, BulkRefresh, Upsert, Modify,
// UpsertTask or ModifyTask (or RunDemo, which calls Step on a ticker), so a
// seeded test is reproducible. Only two things follow the clock by
// themselves: indexing lag (SetLag), as a lagged version becomes visible
// when the tenant's clock passes its visibility time, and the task list's
// 90 days, as a task older than that is no longer shown.
package simtenant

import (
	"encoding/json"
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
	// oldest terminal activities are dropped, and so are the oldest
	// finished tasks. Zero keeps everything.
	MaxActivities int
	// RequestLogSize bounds the log returned by Requests. Default 10000.
	RequestLogSize int
	// Observer is told of every activity and task that becomes terminal,
	// from the first one on (see Observer). simtest.New sets it to the
	// ground truth's recorder.
	Observer Observer
	// TaskSources is how many sources aggregate (see SeedTaskHistory and
	// Step): zero means every source of the catalog, negative none, and more
	// than the catalog adds synthetic sources (ids, names, health, listed
	// like the others) so a test can run hundreds.
	TaskSources int
	// TaskEvery is the aggregation schedule's period: every aggregating
	// source runs an account and an entitlement aggregation once per
	// period, each at its own offset. Default 1h. RunDemo speeds it up.
	TaskEvery time.Duration
	// PerServiceOff makes the tenant one where SailPoint has not enabled
	// the per-service paths yet: every /<service>/v1 path (such as
	// /account-activities/v1 or /sources/v1) answers 404, as an unknown path
	// does. DisablePath overrides it per prefix.
	PerServiceOff bool
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

	mu        sync.Mutex
	rng       *rand.Rand // data only, so HTTP traffic and lag never perturb seeded data
	byID      map[string]*record
	ordered   []entry   // the visible versions, by created then id: the default list order
	active    []*record // simulated activities not yet terminal, in creation order
	recent    []string  // recently terminal simulated ids, candidates for late edits
	people    []person
	sources   []source // the catalog, then synthetic sources (see Config.TaskSources)
	vaID      string
	replaying bool // SeedHistory writes history that is already indexed

	lagRng      *rand.Rand
	lagShare    float64
	lagMax      time.Duration
	lagging     map[*record]struct{} // records with versions not visible yet
	nextVisible time.Time            // earliest visibility time among them

	health healthState

	tenantID    string
	tokens      map[string]*token
	limiter     map[string][]time.Time
	denied      map[string]int // by endpoint family, see Deny
	interceptor Interceptor    // see Interceptor
	listSeq     map[string]int // list requests by collection, for Interceptor.BeforeList

	taskRng      *rand.Rand // tasks only, so they never perturb the activities of a seed
	tasks        map[string]*taskRec
	taskOrder    []taskEntry // by created then id: the default list order
	taskActive   []*taskRec  // simulated tasks not yet finished
	taskScheds   []*taskSchedule
	taskEvery    time.Duration
	taskDemo     bool // the demo pace
	tasksStarted bool

	deprecated   map[string]Deprecation // by path prefix, see Deprecate
	disabled     map[string]bool        // by path prefix, see DisablePath
	experimental map[string]bool        // collection paths that want X-SailPoint-Experimental
	reqLog       []Request
	reqSeq       []uint64 // arrival number of each reqLog entry, ascending
	nextReq      uint64

	srv    *http.Server
	closed chan struct{}
}

// record is one activity: its newest version and what the API shows of it.
// Versions are immutable snapshots, so a page can be marshalled outside the
// lock while the simulator keeps going.
type record struct {
	a      *Activity // the newest version: what really happened
	shown  *Activity // the version list and get show; nil until one is visible
	lagged []version // versions newer than shown, in order, not visible yet
	sim    *simState // nil once a test scripts the activity with Upsert
	logged bool      // whether its first terminal version was observed

	rendered rendered[Activity] // shown's JSON, once listed
}

type version struct {
	a       *Activity
	visible time.Time
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
	if cfg.TaskEvery <= 0 {
		cfg.TaskEvery = time.Hour
	}
	t := &Tenant{
		cfg:     cfg,
		edge:    cfg.EdgeCases.withDefaults(),
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5a11b017)),
		lagRng:  rand.New(rand.NewPCG(uint64(cfg.Seed), 0x1a6)),
		byID:    map[string]*record{},
		lagging: map[*record]struct{}{},
		tokens:  map[string]*token{},
		limiter: map[string][]time.Time{},
		listSeq: map[string]int{},
		denied:  map[string]int{},

		taskRng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7a5c)),
		tasks:     map[string]*taskRec{},
		taskEvery: cfg.TaskEvery,

		deprecated:   map[string]Deprecation{},
		disabled:     map[string]bool{},
		experimental: map[string]bool{},

		closed: make(chan struct{}),
	}
	for _, p := range experimentalPaths {
		t.experimental[p] = true
	}
	t.people = makePeople(t.rng, 240)
	t.vaID = uuidFrom(t.rng)
	t.tenantID = uuidFrom(t.rng)
	t.sources = makeSources(cfg.TaskSources)
	t.health = newHealth(cfg.Seed, t.clock(), t.sources)
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
// stops driving an activity once a test has upserted it. Like every new
// version, it is subject to indexing lag (SetLag).
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

// Modify applies f to a copy of the activity's newest version and stores it
// with modified set to now, like any change on a real tenant. It reports
// whether id exists.
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

// Activity returns a copy of the activity's newest version: what really
// happened, whether or not indexing lag still hides it from the API. An
// activity failed when its CompletionStatus is FAILURE.
func (t *Tenant) Activity(id string) (Activity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.byID[id]
	if rec == nil {
		return Activity{}, false
	}
	return rec.a.Clone(), true
}

// entry is the hot part of a visible activity: every key that filters and
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

// put stores a new version the caller no longer touches and logs the first
// terminal one. The version shows at once unless indexing lag holds it
// back; callers hold t.mu.
func (t *Tenant) put(a *Activity) *record {
	rec := t.byID[a.ID]
	if rec == nil {
		rec = &record{}
		t.byID[a.ID] = rec
	}
	rec.a = a
	if !rec.logged && a.IsTerminal() {
		rec.logged = true
		t.terminal(a)
	}
	if delay := t.lagDelay(); delay > 0 {
		v := version{a, t.now().Add(delay)}
		rec.lagged = append(rec.lagged, v)
		if len(t.lagging) == 0 || v.visible.Before(t.nextVisible) {
			t.nextVisible = v.visible
		}
		t.lagging[rec] = struct{}{}
		return rec
	}
	// The newest version is visible: the older lagged ones never will be.
	rec.lagged = nil
	delete(t.lagging, rec)
	t.show(rec, a)
	return rec
}

// show makes a the visible version of rec, keeping the index in order.
func (t *Tenant) show(rec *record, a *Activity) {
	e := newEntry(rec, a)
	if rec.shown != nil {
		i, ok := slices.BinarySearchFunc(t.ordered, newEntry(rec, rec.shown), cmpEntry)
		if !ok {
			panic("simtenant: index out of sync for " + a.ID)
		}
		if t.ordered[i].created == e.created {
			t.ordered[i] = e
			rec.shown = a
			return
		}
		t.ordered = slices.Delete(t.ordered, i, i+1)
	}
	i, _ := slices.BinarySearchFunc(t.ordered, e, cmpEntry)
	t.ordered = slices.Insert(t.ordered, i, e)
	rec.shown = a
}

// SetLag makes the search index behind list and get lag, as ISC's does:
// from now on each new version of an activity (created, advanced,
// completed, edited by Step, BulkRefresh, Modify or Upsert; not the history
// SeedHistory writes) is, with probability share, visible only after a
// delay uniform in (0, maxDelay] on the tenant's clock. Until then the API
// shows the previous visible version, or nothing for a new activity. The
// visible version is always the newest whose visibility time has passed,
// and its modified is its real modification time, so it appears in the
// past. Filters and sorters see the visible version; the Observer and
// Activity see what really happened. share <= 0 or maxDelay <= 0 turns lag
// off for new versions; versions already held back still show at their
// time. The lag decisions use their own random source, so they never change
// the data a seed produces.
func (t *Tenant) SetLag(share float64, maxDelay time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lagShare, t.lagMax = share, maxDelay
}

func (t *Tenant) lagDelay() time.Duration {
	if t.replaying || t.lagShare <= 0 || t.lagMax <= 0 || t.lagRng.Float64() >= t.lagShare {
		return 0
	}
	return max(1, time.Duration((1-t.lagRng.Float64())*float64(t.lagMax)))
}

// LagPending is the number of activities whose visible version is not yet
// their newest; a test waits for zero (advancing a fake clock, or polling
// with a deadline) to know that the API has caught up.
func (t *Tenant) LagPending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reveal()
	return len(t.lagging)
}

// reveal shows every lagged version whose time has come. It runs before
// anything reads the index; callers hold t.mu.
func (t *Tenant) reveal() {
	if len(t.lagging) == 0 {
		return
	}
	now := t.now()
	if now.Before(t.nextVisible) {
		return
	}
	var next time.Time
	for rec := range t.lagging {
		newest := -1
		for i, v := range rec.lagged {
			if !v.visible.After(now) {
				newest = i
			}
		}
		if newest >= 0 {
			t.show(rec, rec.lagged[newest].a)
			rec.lagged = rec.lagged[newest+1:]
		}
		if len(rec.lagged) == 0 {
			delete(t.lagging, rec)
			continue
		}
		for _, v := range rec.lagged {
			if next.IsZero() || v.visible.Before(next) {
				next = v.visible
			}
		}
	}
	t.nextVisible = next
}

// terminal keeps a newly finished activity as a candidate for late edits
// and tells the observer; callers hold t.mu.
func (t *Tenant) terminal(a *Activity) {
	if len(t.recent) >= 256 {
		t.recent = t.recent[1:]
	}
	t.recent = append(t.recent, a.ID)
	if t.cfg.Observer != nil {
		t.cfg.Observer.ActivityTerminal(a)
	}
}

// RawJSON renders the activity as /v3 shows it now, ignoring any
// Interceptor.Replace, so a test can derive a corrupted variant (replace
// one field, say). It reports false for an unknown id or one that indexing
// lag still hides.
func (t *Tenant) RawJSON(id string) (string, bool) {
	t.mu.Lock()
	t.reveal()
	rec := t.byID[id]
	var a *Activity
	if rec != nil {
		a = rec.shown
	}
	t.mu.Unlock()
	if a == nil {
		return "", false
	}
	b, err := json.Marshal(toWire(a))
	if err != nil {
		panic("simtenant: marshal activity: " + err.Error())
	}
	return string(b), true
}

// evict keeps a long demo run from growing without bound. It drops the
// oldest terminal activities once the store is 10% over the cap, so the
// O(n) compaction runs rarely. Activities with lagged versions stay.
func (t *Tenant) evict() {
	capacity := t.cfg.MaxActivities
	if capacity <= 0 || len(t.byID) <= capacity+capacity/10 {
		return
	}
	drop := len(t.byID) - capacity
	kept := t.ordered[:0]
	for _, e := range t.ordered {
		if drop > 0 && e.rec.a.IsTerminal() && len(e.rec.lagged) == 0 {
			delete(t.byID, e.id)
			drop--
			continue
		}
		kept = append(kept, e)
	}
	clear(t.ordered[len(kept):])
	t.ordered = kept
}
