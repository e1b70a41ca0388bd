package simtest

import (
	"slices"
	"sync"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// Recorder is the ground truth of a tenant built by New: the log of
// activities and tasks that became terminal (it is the tenant's
// simtenant.Observer; its ActivityTerminal and TaskTerminal are for the
// tenant) and the present state, in an exporter's label space. All methods
// are safe for concurrent use.
type Recorder struct {
	tenant *simtenant.Tenant
	limit  int // trim the logs beyond this many entries; 0 keeps all

	mu       sync.Mutex
	log      []entry
	base     uint64
	taskLog  []taskEntry
	taskBase uint64
}

// Mark is a position in the logs of activities and tasks that became
// terminal. Taking one before an action and asking TruthSince or
// TaskTruthSince afterwards isolates what that action caused.
type Mark struct{ seq, taskSeq uint64 }

// Counts is what an exporter should have counted, in its label space: a
// null, absent or empty value is the label "none". Maps hold only non-zero
// entries.
type Counts struct {
	// Completed counts activities that became terminal, by type,
	// completionStatus and executionStatus.
	Completed map[[3]string]int
	// ItemsCompleted counts the items of those activities by type,
	// provisioningStatus, operation and sourceId, as they were when the
	// activity first became terminal; later edits do not count again.
	ItemsCompleted map[[4]string]int
	// Errors and Warnings sum len(errors) and len(warnings) per type.
	Errors   map[string]int
	Warnings map[string]int
	// Durations lists completion time minus created, in seconds, by type and
	// completionStatus. Completion time is completed, or modified when a
	// terminal activity has no completed.
	Durations map[[2]string][]float64
}

// Current is the state activity gauges should show right now.
type Current struct {
	// Activities counts activities created at or after the cut-off, by type,
	// completionStatus and executionStatus, in their current state.
	Activities map[[3]string]int
	// Items counts those activities' items by type, provisioningStatus and
	// operation.
	Items map[[3]string]int
	// OldestIncompleteCreated is, per type, the earliest created of every
	// non-terminal activity, whatever its age: a stuck activity from last
	// month is exactly what this gauge exists to reveal.
	OldestIncompleteCreated map[string]time.Time
}

// TaskCounts is what an exporter watching aggregations should have counted,
// in its label space: source_id is the task's target.id, type the task
// definition type (CLOUD_ACCOUNT_AGGREGATION, ...: what the client filtered
// on, not the scheduler kind the JSON shows), completion_status verbatim; a
// null or empty value is "none".
type TaskCounts struct {
	// Finished counts tasks that finished, once each, by source_id, type
	// and completion_status.
	Finished map[[3]string]int
	// Durations lists completed minus launched (minus created for a task
	// never launched), in seconds, by the same labels.
	Durations map[[3]string][]float64
}

// TaskCurrent is what task gauges should show now.
type TaskCurrent struct {
	// Running counts unfinished tasks of the last 90 days by source_id and
	// type, whatever their age within those 90 days (a stuck aggregation is
	// what this exists to reveal), and OldestRunningCreated is the created
	// of the oldest of each.
	Running              map[[2]string]int
	OldestRunningCreated map[[2]string]time.Time
	// LastCompleted is, among tasks created at or after the cut-off, the
	// completion time of the latest to finish per source_id, type and
	// completion_status, and LastDuration that task's duration in seconds.
	LastCompleted map[[3]string]time.Time
	LastDuration  map[[3]string]float64
}

// entry is the label-space summary of one first-terminal activity. It
// keeps labels only, so the log stays small on long runs.
type entry struct {
	key      [3]string
	items    [][3]string // provisioningStatus, operation, sourceId
	errors   int
	warnings int
	duration float64
}

type taskEntry struct {
	key       [3]string
	duration  float64
	completed time.Time // as a client reads it: to the millisecond
}

func label(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func labelPtr(s *string) string {
	if s == nil {
		return "none"
	}
	return label(*s)
}

// ActivityTerminal logs an activity's first terminal version, for the tenant.
func (r *Recorder) ActivityTerminal(a *simtenant.Activity) {
	e := entry{
		key:      [3]string{labelPtr(a.Type), labelPtr(a.CompletionStatus), label(a.ExecutionStatus)},
		errors:   len(a.Errors),
		warnings: len(a.Warnings),
		// As a client reads them: both times truncated to the wire's milliseconds.
		duration: float64(a.CompletionTime().UnixMilli()-a.Created.UnixMilli()) / 1000,
	}
	if len(a.Items) > 0 {
		e.items = make([][3]string, len(a.Items))
		for i, it := range a.Items {
			e.items[i] = [3]string{label(it.ProvisioningStatus), labelPtr(it.Operation), label(it.SourceID)}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, e)
	if r.limit > 0 && len(r.log) > r.limit {
		cut := len(r.log) - r.limit/2
		r.log = slices.Delete(r.log, 0, cut)
		r.base += uint64(cut)
	}
}

func taskLabels(k *simtenant.Task) [3]string {
	src := "none"
	if k.Target != nil {
		src = label(k.Target.ID)
	}
	return [3]string{src, label(k.DefinitionType), labelPtr(k.CompletionStatus)}
}

// taskDuration is as a client reads it: milliseconds on the wire.
func taskDuration(k *simtenant.Task) float64 {
	return float64(k.CompletionTime().UnixMilli()-k.StartTime().UnixMilli()) / 1000
}

// TaskTerminal logs a task's first terminal version, for the tenant.
func (r *Recorder) TaskTerminal(k *simtenant.Task) {
	e := taskEntry{taskLabels(k), taskDuration(k), time.UnixMilli(k.CompletionTime().UnixMilli())}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.taskLog = append(r.taskLog, e)
	if r.limit > 0 && len(r.taskLog) > r.limit {
		cut := len(r.taskLog) - r.limit/2
		r.taskLog = slices.Delete(r.taskLog, 0, cut)
		r.taskBase += uint64(cut)
	}
}

// Mark returns the current end of the logs.
func (r *Recorder) Mark() Mark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Mark{r.base + uint64(len(r.log)), r.taskBase + uint64(len(r.taskLog))}
}

// TruthSince sums the activity log from m to now. With
// Config.MaxActivities the log keeps a few times that many entries; tests
// that need exact truth leave it at zero.
func (r *Recorder) TruthSince(m Mark) Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := Counts{
		Completed:      map[[3]string]int{},
		ItemsCompleted: map[[4]string]int{},
		Errors:         map[string]int{},
		Warnings:       map[string]int{},
		Durations:      map[[2]string][]float64{},
	}
	start := 0
	if m.seq > r.base {
		start = int(m.seq - r.base)
	}
	for _, e := range r.log[min(start, len(r.log)):] {
		typ := e.key[0]
		tr.Completed[e.key]++
		for _, it := range e.items {
			tr.ItemsCompleted[[4]string{typ, it[0], it[1], it[2]}]++
		}
		if e.errors > 0 {
			tr.Errors[typ] += e.errors
		}
		if e.warnings > 0 {
			tr.Warnings[typ] += e.warnings
		}
		dk := [2]string{typ, e.key[1]}
		tr.Durations[dk] = append(tr.Durations[dk], e.duration)
	}
	return tr
}

// Current reports activities created at or after since (a time on the
// tenant's clock, see Config.ClockOffset) in their real present state,
// whatever indexing lag still hides, plus the oldest non-terminal activity
// per type.
func (r *Recorder) Current(since time.Time) Current {
	cur := Current{
		Activities:              map[[3]string]int{},
		Items:                   map[[3]string]int{},
		OldestIncompleteCreated: map[string]time.Time{},
	}
	r.tenant.EachActivity(func(a *simtenant.Activity) {
		typ := labelPtr(a.Type)
		if !a.IsTerminal() {
			if old, ok := cur.OldestIncompleteCreated[typ]; !ok || a.Created.Before(old) {
				cur.OldestIncompleteCreated[typ] = a.Created
			}
		}
		if a.Created.Before(since) {
			return
		}
		cur.Activities[[3]string{typ, labelPtr(a.CompletionStatus), label(a.ExecutionStatus)}]++
		for _, it := range a.Items {
			cur.Items[[3]string{typ, label(it.ProvisioningStatus), labelPtr(it.Operation)}]++
		}
	})
	return cur
}

// TaskTruthSince sums the task log from m to now: each task counted once,
// when it first finished, whatever later edits do.
func (r *Recorder) TaskTruthSince(m Mark) TaskCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := TaskCounts{Finished: map[[3]string]int{}, Durations: map[[3]string][]float64{}}
	start := 0
	if m.taskSeq > r.taskBase {
		start = int(m.taskSeq - r.taskBase)
	}
	for _, e := range r.taskLog[min(start, len(r.taskLog)):] {
		tr.Finished[e.key]++
		tr.Durations[e.key] = append(tr.Durations[e.key], e.duration)
	}
	return tr
}

// TaskTruthFinishedSince is TaskTruthSince(m) less the tasks that finished
// (by their completion time) before at. The tenant finishes a task at the
// instant it was planned for, when it next steps: a task logged after m
// may have finished before m, and before an exporter that started after m
// began counting. at is when that exporter began (on the tenant's clock).
func (r *Recorder) TaskTruthFinishedSince(m Mark, at time.Time) TaskCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := TaskCounts{Finished: map[[3]string]int{}, Durations: map[[3]string][]float64{}}
	start := 0
	if m.taskSeq > r.taskBase {
		start = int(m.taskSeq - r.taskBase)
	}
	for _, e := range r.taskLog[min(start, len(r.taskLog)):] {
		if e.completed.Before(at) {
			continue
		}
		tr.Finished[e.key]++
		tr.Durations[e.key] = append(tr.Durations[e.key], e.duration)
	}
	return tr
}

// CurrentTasks reports the tasks the API shows (the last 90 days on the
// tenant's clock) as they are now; since is on the tenant's clock too.
func (r *Recorder) CurrentTasks(since time.Time) TaskCurrent {
	cur := TaskCurrent{
		Running:              map[[2]string]int{},
		OldestRunningCreated: map[[2]string]time.Time{},
		LastCompleted:        map[[3]string]time.Time{},
		LastDuration:         map[[3]string]float64{},
	}
	last := map[[3]string]*simtenant.Task{}
	r.tenant.EachTask(func(k *simtenant.Task) {
		key := taskLabels(k)
		if !k.IsTerminal() {
			rk := [2]string{key[0], key[1]}
			cur.Running[rk]++
			if old, ok := cur.OldestRunningCreated[rk]; !ok || k.Created.Before(old) {
				cur.OldestRunningCreated[rk] = k.Created
			}
			return
		}
		if k.Created.Before(since) {
			return
		}
		if l := last[key]; l == nil || k.CompletionTime().After(l.CompletionTime()) ||
			k.CompletionTime().Equal(l.CompletionTime()) && k.ID > l.ID {
			last[key] = k
		}
	})
	for key, k := range last {
		cur.LastCompleted[key] = k.CompletionTime()
		cur.LastDuration[key] = taskDuration(k)
	}
	return cur
}
