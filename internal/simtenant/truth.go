package simtenant

import "time"

// Mark is a position in the tenant's logs of activities and tasks that
// became terminal. Taking one before an action and asking TruthSince or
// TaskTruthSince afterwards isolates what that action caused.
type Mark struct{ seq, taskSeq uint64 }

// Truth is what an exporter should have counted, in its label space: a null,
// absent or empty value is the label "none". Maps hold only non-zero entries.
type Truth struct {
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

// Current is the state gauges should show right now.
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

// truthEntry is the label-space summary of one first-terminal version. It
// keeps labels only, so the log stays small on long demo runs.
type truthEntry struct {
	key      [3]string
	items    [][3]string // provisioningStatus, operation, sourceId
	errors   int
	warnings int
	duration float64
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

func (t *Tenant) logTerminal(a *Activity) {
	e := truthEntry{
		key:      [3]string{labelPtr(a.Type), labelPtr(a.CompletionStatus), label(a.ExecutionStatus)},
		errors:   len(a.Errors),
		warnings: len(a.Warnings),
		// As a client reads them: both times truncated to the wire's milliseconds.
		duration: float64(a.completionTime().UnixMilli()-a.Created.UnixMilli()) / 1000,
	}
	if len(a.Items) > 0 {
		e.items = make([][3]string, len(a.Items))
		for i, it := range a.Items {
			e.items[i] = [3]string{label(it.ProvisioningStatus), labelPtr(it.Operation), label(it.SourceID)}
		}
	}
	t.log = append(t.log, e)
	if len(t.recent) >= 256 {
		t.recent = t.recent[1:]
	}
	t.recent = append(t.recent, a.ID)
}

// Mark returns the current end of the truth log.
func (t *Tenant) Mark() Mark {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Mark{t.logBase + uint64(len(t.log)), t.taskLogBase + uint64(len(t.taskLog))}
}

// TruthSince sums the truth log from m to now. Entries trimmed by
// MaxActivities are gone; tests that need exact truth leave it at zero.
func (t *Tenant) TruthSince(m Mark) Truth {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := Truth{
		Completed:      map[[3]string]int{},
		ItemsCompleted: map[[4]string]int{},
		Errors:         map[string]int{},
		Warnings:       map[string]int{},
		Durations:      map[[2]string][]float64{},
	}
	start := 0
	if m.seq > t.logBase {
		start = int(m.seq - t.logBase)
	}
	for _, e := range t.log[min(start, len(t.log)):] {
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
func (t *Tenant) Current(since time.Time) Current {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := Current{
		Activities:              map[[3]string]int{},
		Items:                   map[[3]string]int{},
		OldestIncompleteCreated: map[string]time.Time{},
	}
	for _, rec := range t.byID {
		a := rec.a
		typ := labelPtr(a.Type)
		if !a.isTerminal() {
			if old, ok := cur.OldestIncompleteCreated[typ]; !ok || a.Created.Before(old) {
				cur.OldestIncompleteCreated[typ] = a.Created
			}
		}
		if a.Created.Before(since) {
			continue
		}
		cur.Activities[[3]string{typ, labelPtr(a.CompletionStatus), label(a.ExecutionStatus)}]++
		for _, it := range a.Items {
			cur.Items[[3]string{typ, label(it.ProvisioningStatus), labelPtr(it.Operation)}]++
		}
	}
	return cur
}

// TaskTruth is what an exporter watching aggregations should have counted,
// in its label space: source_id is the task's target.id, type the task
// definition type (CLOUD_ACCOUNT_AGGREGATION, ...: what the client filtered
// on, not the scheduler kind the JSON shows), completion_status verbatim; a
// null or empty value is "none".
type TaskTruth struct {
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

type taskTruthEntry struct {
	key      [3]string
	duration float64
}

func taskLabels(k *Task) [3]string {
	src := "none"
	if k.Target != nil {
		src = label(k.Target.ID)
	}
	return [3]string{src, label(k.DefinitionType), labelPtr(k.CompletionStatus)}
}

// taskDuration is as a client reads it: milliseconds on the wire.
func taskDuration(k *Task) float64 {
	return float64(k.completionTime().UnixMilli()-k.startTime().UnixMilli()) / 1000
}

func (t *Tenant) logTaskTerminal(k *Task) {
	t.taskLog = append(t.taskLog, taskTruthEntry{taskLabels(k), taskDuration(k)})
}

// TaskTruthSince sums the task log from m to now: each task counted once,
// when it first finished, whatever later edits do.
func (t *Tenant) TaskTruthSince(m Mark) TaskTruth {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := TaskTruth{Finished: map[[3]string]int{}, Durations: map[[3]string][]float64{}}
	start := 0
	if m.taskSeq > t.taskLogBase {
		start = int(m.taskSeq - t.taskLogBase)
	}
	for _, e := range t.taskLog[min(start, len(t.taskLog)):] {
		tr.Finished[e.key]++
		tr.Durations[e.key] = append(tr.Durations[e.key], e.duration)
	}
	return tr
}

// CurrentTasks reports the tasks the API shows (the last 90 days on the
// tenant's clock) as they are now; since is on the tenant's clock too.
func (t *Tenant) CurrentTasks(since time.Time) TaskCurrent {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := TaskCurrent{
		Running:              map[[2]string]int{},
		OldestRunningCreated: map[[2]string]time.Time{},
		LastCompleted:        map[[3]string]time.Time{},
		LastDuration:         map[[3]string]float64{},
	}
	last := map[[3]string]*Task{}
	for _, e := range t.visibleTasks() {
		k := e.rec.k
		key := taskLabels(k)
		if !k.isTerminal() {
			rk := [2]string{key[0], key[1]}
			cur.Running[rk]++
			if old, ok := cur.OldestRunningCreated[rk]; !ok || k.Created.Before(old) {
				cur.OldestRunningCreated[rk] = k.Created
			}
			continue
		}
		if k.Created.Before(since) {
			continue
		}
		if l := last[key]; l == nil || k.completionTime().After(l.completionTime()) ||
			k.completionTime().Equal(l.completionTime()) && k.ID > l.ID {
			last[key] = k
		}
	}
	for key, k := range last {
		cur.LastCompleted[key] = k.completionTime()
		cur.LastDuration[key] = taskDuration(k)
	}
	return cur
}
