package simtenant

import "time"

// Mark is a position in the tenant's log of activities that became
// terminal. Taking one before an action and asking TruthSince afterwards
// isolates what that action caused.
type Mark struct{ seq uint64 }

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
	return Mark{t.logBase + uint64(len(t.log))}
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
