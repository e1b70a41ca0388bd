package simtenant

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The aggregation schedule. Every aggregating source runs an account
// aggregation and an entitlement aggregation every Config.TaskEvery, each
// at its own offset in the period (its own minute of the hour by default).
// A run is created (running, launched null), launched some seconds later
// and completes after a duration from seconds to tens of minutes with a
// long tail, so tasks finish out of order. Everything follows the tenant's
// clock through Step and SeedTaskHistory; the timestamps are the planned
// instants, so a coarse Step still gives realistic durations.

// taskDef is a task definition the sources run.
type taskDef struct {
	typ, uniqueName, description string
	mantis, method               string
	noun                         string  // what it aggregates: accounts or entitlements
	scale                        float64 // its duration relative to the source's account aggregation
	summary                      *TaskDefinition
}

var taskDefs = func() []*taskDef {
	defs := []*taskDef{
		{typ: TaskAccountAggregation, uniqueName: "Cloud Account Aggregation", description: "Aggregates from the specified application.",
			mantis: "com.sailpoint.mantis.sources.task.AccountAggregationTask", method: "accountAggregationTask", noun: "accounts", scale: 1},
		{typ: TaskGroupAggregation, uniqueName: "Cloud Group Aggregation", description: "Aggregates entitlements from the specified application.",
			mantis: "com.sailpoint.mantis.sources.task.GroupAggregationTask", method: "groupAggregationTask", noun: "entitlements", scale: 0.35},
	}
	for _, d := range defs {
		d.summary = &TaskDefinition{
			ID: hexOf("task-definition/" + d.typ), UniqueName: d.uniqueName, Description: d.description, ParentName: d.uniqueName,
			Executor: "sailpoint.task.ServiceTaskExecutor",
			Arguments: map[string]any{"mantisExecutor": d.mantis, "eventClassesCsv": "sailpoint.thunderbolt.events.AggregationEvents",
				"serviceClass": "sailpoint.thunderbolt.service.AggregationService", "serviceMethod": d.method},
		}
	}
	return defs
}()

// aggProfile is how a connector aggregates: the median account aggregation
// (at the normal pace) and how many accounts it holds.
type aggProfile struct {
	median   time.Duration
	accounts int
}

var aggProfiles = map[string]aggProfile{
	"active-directory": {150 * time.Second, 12400},
	"workday":          {240 * time.Second, 9800},
	"servicenow":       {90 * time.Second, 3100},
	"okta":             {60 * time.Second, 11200},
	"sap":              {180 * time.Second, 2700},
	"salesforce":       {45 * time.Second, 1900},
	"google-apps":      {75 * time.Second, 10900},
	"delimited-file":   {20 * time.Second, 800},
}

// taskSchedule is one recurring aggregation of one source.
type taskSchedule struct {
	src    int // index in t.sources
	def    *taskDef
	offset time.Duration // within the period
	next   time.Time     // the next run not created yet
}

// taskPlan is what the simulator decided for a task when it created it.
type taskPlan struct {
	launch, complete time.Time // complete zero: never (the stuck task)
	status           string
	percent          int // where an unsuccessful run stopped
}

// Demo pace: aggregations every minute that take seconds, so that an
// exporter's aggregation metrics move within 20 s of the demo starting.
const demoTaskEvery = time.Minute

func (t *Tenant) taskSourceCount() int {
	switch n := t.cfg.TaskSources; {
	case n < 0:
		return 0
	case n == 0:
		return len(sourcesCatalog)
	default:
		return n
	}
}

// firstRun is the first instant at or after from that is offset into a
// period (periods are aligned on the zero time, so hours on the hour).
func firstRun(from time.Time, every, offset time.Duration) time.Time {
	r := from.Truncate(every).Add(offset)
	for r.Before(from) {
		r = r.Add(every)
	}
	return r
}

// initTasks builds the schedules the first time tasks are needed, with
// runs from from on, and the tenant's one stuck task; callers hold t.mu.
func (t *Tenant) initTasks(from, now time.Time) {
	if t.tasksStarted {
		return
	}
	t.tasksStarted = true
	n := t.taskSourceCount()
	for i := range n {
		for _, d := range taskDefs {
			off := time.Duration(t.taskRng.Int64N(int64(t.taskEvery))).Truncate(time.Millisecond)
			t.taskScheds = append(t.taskScheds, &taskSchedule{src: i, def: d, offset: off, next: firstRun(from, t.taskEvery, off)})
		}
	}
	if n > 0 {
		t.stuckTask(now)
	}
}

// stuckTask is the task every tenant has: an account aggregation created a
// few hours before now that was launched and never completes.
func (t *Tenant) stuckTask(now time.Time) {
	s := &taskSchedule{src: t.taskRng.IntN(t.taskSourceCount()), def: taskDefs[0]}
	created := now.Add(-2*time.Hour - time.Duration(t.taskRng.Int64N(int64(4*time.Hour)))).Truncate(time.Millisecond)
	rec := t.newTask(s, created)
	rec.plan = &taskPlan{launch: created.Add(time.Duration(3+t.taskRng.IntN(20)) * time.Second)}
	rec.plan.percent = 20 + t.taskRng.IntN(50)
}

// runTasks creates the runs due by now and moves running tasks along their
// plans; callers hold t.mu.
func (t *Tenant) runTasks(now time.Time) {
	// Runs are created in time order, so the index only ever appends.
	type due struct {
		s  *taskSchedule
		at time.Time
	}
	var runs []due
	for _, s := range t.taskScheds {
		for ; !s.next.After(now); s.next = s.next.Add(t.taskEvery) {
			runs = append(runs, due{s, s.next})
		}
	}
	slices.SortStableFunc(runs, func(x, y due) int { return x.at.Compare(y.at) })
	for _, r := range runs {
		t.createTask(r.s, r.at)
	}
	running := t.taskActive[:0]
	for _, rec := range t.taskActive {
		if rec.plan == nil || t.tasks[rec.k.ID] != rec {
			continue
		}
		t.advanceTask(rec, now)
		if rec.plan != nil {
			running = append(running, rec)
		}
	}
	clear(t.taskActive[len(running):])
	t.taskActive = running
	t.evictTasks(now)
}

// newTask stores a fresh running task of schedule s created at at.
func (t *Tenant) newTask(s *taskSchedule, at time.Time) *taskRec {
	src := &t.sources[s.src]
	kind, launcher := TaskQuartz, "sweep"
	switch r := t.taskRng.Float64(); {
	case r < 0.06: // an admin ran it by hand
		kind, launcher = TaskQueued, pick(t.taskRng, t.people).id
	case r < 0.08:
		kind = TaskQPOC
	}
	k := &Task{
		ID: hexID(t.taskRng), Type: kind, DefinitionType: s.def.typ,
		UniqueName: s.def.uniqueName, Description: s.def.description, Launcher: launcher,
		Target:   &TaskTarget{ID: src.id, Type: "APPLICATION", Name: src.name + " [source]"},
		Created:  at,
		Messages: []TaskMessage{},
		Returns: []TaskReturn{{"Applications", "applications"}, {"Total " + s.def.noun + " scanned", "total"},
			{"Created", "created"}, {"Updated", "updated"}, {"Deleted", "deleted"}},
		Attributes: map[string]any{"appId": hexOf(src.id + "/app"), "sourceId": src.id,
			"optimizedAggregation": map[bool]string{true: "enabled", false: "disabled"}[src.connector != "workday"]},
		Definition: s.def.summary,
	}
	rec := t.putTask(k)
	t.taskActive = append(t.taskActive, rec)
	return rec
}

// createTask plans a scheduled run: when it launches, how long it takes and
// how it ends.
func (t *Tenant) createTask(s *taskSchedule, at time.Time) {
	rec := t.newTask(s, at)
	src := &t.sources[s.src]
	p := &taskPlan{launch: at.Add(t.launchDelay()), status: TaskSuccess}
	dur := t.runDuration(src, s.def)
	r := t.taskRng.Float64()
	switch {
	case t.health.inOutage(src.id, at) && r < 0.65:
		p.status = TaskError
	case t.health.inOutage(src.id, at) && r < 0.75:
		p.status = TaskTempError
	case r < 0.80:
	case r < 0.90:
		p.status = TaskWarning
	case r < 0.97:
		p.status = TaskError
	case r < 0.985:
		p.status = TaskTerminated
	default:
		p.status = TaskTempError
	}
	if p.status != TaskSuccess && p.status != TaskWarning {
		// Failures stop part of the way through.
		p.percent = t.taskRng.IntN(96)
		dur = max(time.Second, time.Duration(float64(dur)*(0.05+0.95*float64(p.percent)/100)))
	}
	p.complete = p.launch.Add(dur).Truncate(time.Millisecond)
	rec.plan = p
}

func (t *Tenant) launchDelay() time.Duration {
	var d time.Duration
	switch {
	case t.taskDemo:
		d = 300*time.Millisecond + time.Duration(t.taskRng.Int64N(int64(1700*time.Millisecond)))
	case t.taskRng.Float64() < 0.03: // queued behind other work
		d = time.Minute + time.Duration(t.taskRng.Int64N(int64(7*time.Minute)))
	default:
		d = time.Second + time.Duration(t.taskRng.ExpFloat64()*float64(5*time.Second))
	}
	return min(d, 10*time.Minute).Truncate(time.Millisecond)
}

// runDuration is log-normal around the source's median with a long tail:
// seconds to tens of minutes at the normal pace, seconds in the demo.
func (t *Tenant) runDuration(src *source, d *taskDef) time.Duration {
	median, sigma, lo, hi := aggProfiles[src.connector].median, 0.7, 2*time.Second, 50*time.Minute
	if median == 0 {
		median = time.Minute
	}
	tail := 3 + 9*t.taskRng.Float64()
	if t.taskDemo {
		median, sigma, lo, hi, tail = 4*time.Second, 0.5, time.Second, 45*time.Second, 5+5*t.taskRng.Float64()
	}
	f := float64(median) * d.scale * math.Exp(sigma*t.taskRng.NormFloat64())
	if t.taskRng.Float64() < 0.06 {
		f *= tail
	}
	return time.Duration(min(max(f, float64(lo)), float64(hi))).Truncate(time.Millisecond)
}

// advanceTask applies the plan's events due by now, at their planned
// instants.
func (t *Tenant) advanceTask(rec *taskRec, now time.Time) {
	p := rec.plan
	if rec.k.Launched == nil && !p.launch.After(now) {
		c := rec.k.Clone()
		c.Launched, c.Modified = Ptr(p.launch), Ptr(p.launch)
		c.Progress = Ptr("Started")
		if p.complete.IsZero() {
			c.PercentComplete = p.percent
		}
		t.putTask(&c)
	}
	if !p.complete.IsZero() && !p.complete.After(now) {
		t.completeTask(rec, p)
		rec.plan = nil
	}
}

// completeTask writes the final version: status, messages, counts.
func (t *Tenant) completeTask(rec *taskRec, p *taskPlan) {
	c := rec.k.Clone()
	src := t.sourceByID(c.Target)
	at := p.complete
	c.Completed, c.Modified = Ptr(at), Ptr(at)
	c.CompletionStatus = Ptr(p.status)
	if c.Launched == nil {
		c.Launched = Ptr(p.launch)
		if at.Before(p.launch) {
			c.Launched = Ptr(at)
		}
	}
	def := taskDefs[0]
	if c.DefinitionType == TaskGroupAggregation {
		def = taskDefs[1]
	}
	name := "the source"
	total := 500
	if src != nil {
		name = src.name
		total = aggProfiles[src.connector].accounts
		if def == taskDefs[1] {
			total = max(12, total/25)
		}
		total += t.taskRng.IntN(total/50 + 1)
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	info := func() TaskMessage {
		created, updated, deleted := t.taskRng.IntN(total/200+3), t.taskRng.IntN(total/40+5), t.taskRng.IntN(total/400+2)
		c.Attributes["applications"] = name
		c.Attributes["total"], c.Attributes["created"], c.Attributes["updated"], c.Attributes["deleted"] = total, created, updated, deleted
		return TaskMessage{Type: "INFO", Key: "task_out_aggregation_summary", Locale: "en-US",
			Text: fmt.Sprintf("Aggregation of %s completed: %d %s scanned, %d created, %d updated, %d deleted.", name, total, def.noun, created, updated, deleted)}
	}
	switch p.status {
	case TaskSuccess:
		c.Progress, c.PercentComplete = Ptr("Completed"), 100
		c.Messages = append(c.Messages, info())
	case TaskWarning:
		c.Progress, c.PercentComplete = Ptr("Completed"), 100
		c.Messages = append(c.Messages, info(), TaskMessage{Type: "WARN", Key: "task_out_aggregation_warning", Locale: "en-US",
			Text: fmt.Sprintf(pick(t.taskRng, taskWarnings), 1+t.taskRng.IntN(40)), Parameters: []any{name}})
	case TaskError:
		c.Progress, c.PercentComplete = Ptr("Failed"), p.percent
		text := "sailpoint.connector.ConnectorException: Unable to reach " + name
		if src != nil {
			text = strings.NewReplacer("{account}", src.native(pick(t.taskRng, t.people)), "{client}", t.vaID,
				"{line}", strconv.Itoa(2+t.taskRng.IntN(total))).Replace(pick(t.taskRng, src.errors))
		}
		exception, _, _ := strings.Cut(text, ":")
		c.Messages = append(c.Messages, TaskMessage{Type: "ERROR", Key: "task_out_aggregation_error", Locale: "en-US", Text: text,
			Parameters: []any{map[string]any{"exception": exception}, name}})
	case TaskTempError:
		c.Progress, c.PercentComplete = Ptr("Failed"), p.percent
		c.Messages = append(c.Messages, TaskMessage{Type: "ERROR", Key: "task_out_temporary_error", Locale: "en-US",
			Text: "The virtual appliance did not answer in time (client " + t.vaID + "); the aggregation of " + name + " will be retried."})
	case TaskTerminated:
		c.Progress, c.PercentComplete = Ptr("Terminated"), p.percent
		text := "The task was terminated: it exceeded the maximum run time."
		if c.Type == TaskQueued {
			text = "The task was terminated by the identity that launched it."
		}
		c.Messages = append(c.Messages, TaskMessage{Type: "ERROR", Key: "task_out_terminated", Locale: "en-US", Text: text})
	}
	t.putTask(&c)
}

var taskWarnings = []string{
	"%d accounts were skipped: their native identity attribute is empty.",
	"%d accounts reference a manager that is not on the source; the manager was left unchanged.",
	"%d attribute values were longer than 450 characters and were truncated.",
}

func (t *Tenant) sourceByID(target *TaskTarget) *source {
	if target == nil {
		return nil
	}
	for i := range t.sources {
		if t.sources[i].id == target.ID {
			return &t.sources[i]
		}
	}
	return nil
}

// evictTasks drops what the API can no longer show (older than 90 days) and,
// with Config.MaxActivities, the oldest finished tasks over that cap.
func (t *Tenant) evictTasks(now time.Time) {
	cut := now.Add(-taskRetention).UnixMilli()
	capacity := t.cfg.MaxActivities
	old := len(t.taskOrder) > 0 && t.taskOrder[0].created < cut
	over := capacity > 0 && len(t.taskOrder) > capacity+capacity/10
	if !old && !over {
		return
	}
	drop := 0
	if over {
		drop = len(t.taskOrder) - capacity
	}
	kept := t.taskOrder[:0]
	for _, e := range t.taskOrder {
		switch {
		case e.created < cut:
		case drop > 0 && e.rec.k.IsTerminal():
			drop--
		default:
			kept = append(kept, e)
			continue
		}
		delete(t.tasks, e.id)
	}
	clear(t.taskOrder[len(kept):])
	t.taskOrder = kept
}

// SeedTaskHistory writes the aggregations of the span before now, each
// replayed to its state now: finished ones with their outcome, the latest
// still running, and the tenant's stuck task, all visible at once (tasks
// have no indexing lag). Call it before the first Step: once the schedule
// runs, it only catches up to now.
func (t *Tenant) SeedTaskHistory(span time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.initTasks(now.Add(-span), now)
	t.runTasks(now)
}

// demoTasks switches aggregations to the demo pace (every source
// aggregating every minute, in seconds), writes a past hour of them if there
// are none yet, and times the next runs to start one every few seconds from
// now; callers hold t.mu.
func (t *Tenant) demoTasks() {
	now := t.now()
	t.taskDemo, t.taskEvery = true, demoTaskEvery
	if !t.tasksStarted {
		t.initTasks(now.Add(-time.Hour), now)
		t.runTasks(now)
	}
	for i, s := range t.taskScheds {
		first := now.Add(time.Second + time.Duration(i)*t.taskEvery/time.Duration(len(t.taskScheds)))
		s.offset = first.Sub(first.Truncate(t.taskEvery)).Truncate(time.Millisecond)
		s.next = firstRun(now.Add(time.Millisecond), t.taskEvery, s.offset)
	}
}
