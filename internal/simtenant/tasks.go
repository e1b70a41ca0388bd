package simtenant

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Task status, as the task-management API serves it (GET /task-status/v1,
// /v2025/task-status, /v2026/task-status, /beta/task-status and the same
// with /{id}). The tenant's sources aggregate on a schedule (tasklife.go);
// this file is the data model, what the API shows of it and the HTTP side.

// Task completion statuses as the spec spells them; a running task has none.
const (
	TaskSuccess    = "SUCCESS"
	TaskWarning    = "WARNING"
	TaskError      = "ERROR"
	TaskTerminated = "TERMINATED"
	TaskTempError  = "TEMPERROR"
)

// Task definition types the simulated sources run: what the list's `type`
// filter matches. The API never shows them: a task's own type is its
// scheduler kind.
const (
	TaskAccountAggregation = "CLOUD_ACCOUNT_AGGREGATION"
	TaskGroupAggregation   = "CLOUD_GROUP_AGGREGATION"
)

// Scheduler kinds, the values of a task's type.
const (
	TaskQuartz = "QUARTZ"
	TaskQPOC   = "QPOC"
	TaskQueued = "QUEUED_TASK"
)

// taskRetention is how far back the API shows tasks: "Data for tasks older
// than 90 days will not be returned."
const taskRetention = 90 * 24 * time.Hour

// Task is one TaskStatus. Nullable fields are pointers. Messages, Returns
// and Attributes render as [] and {} when nil: the spec requires them.
type Task struct {
	ID string
	// Type is the scheduler kind: QUARTZ, QPOC or QUEUED_TASK.
	Type string
	// DefinitionType is the task definition's type, such as
	// CLOUD_ACCOUNT_AGGREGATION: what the `type` filter matches. It is not
	// part of the JSON; a client knows it only from the filter it asked with.
	DefinitionType string
	UniqueName     string
	Description    string
	ParentName     *string
	Launcher       string // "sweep" for the scheduler, or an identity id
	Target         *TaskTarget
	Created        time.Time
	Modified       *time.Time
	Launched       *time.Time
	Completed      *time.Time
	// CompletionStatus is nil while the task runs.
	CompletionStatus *string
	Messages         []TaskMessage
	Returns          []TaskReturn
	// Attributes hold scalars (strings, numbers, booleans). The `sourceId`
	// filter matches Attributes["sourceId"], which aggregations carry equal
	// to Target.ID.
	Attributes      map[string]any
	Progress        *string
	PercentComplete int
	Definition      *TaskDefinition // taskDefinitionSummary; nil leaves it out
}

// TaskTarget is the spec's Target; an empty Type renders null.
type TaskTarget struct {
	ID, Type, Name string
}

// TaskMessage is a TaskStatusMessage: Type is INFO, WARN or ERROR; Locale
// and Text are its localizedText. Parameters (strings or objects) may be nil,
// which renders null.
type TaskMessage struct {
	Type, Key    string
	Locale, Text string
	Parameters   []any
}

// TaskReturn is a TaskReturnDetails.
type TaskReturn struct {
	Name          string `json:"name"`
	AttributeName string `json:"attributeName"`
}

// TaskDefinition is a TaskDefinitionSummary.
type TaskDefinition struct {
	ID          string         `json:"id"`
	UniqueName  string         `json:"uniqueName"`
	Description string         `json:"description"`
	ParentName  string         `json:"parentName"`
	Executor    string         `json:"executor"`
	Arguments   map[string]any `json:"arguments"`
}

// Clone returns a deep copy (attribute and argument values are scalars).
func (k Task) Clone() Task {
	c := k
	c.ParentName = clonePtr(k.ParentName)
	c.Target = clonePtr(k.Target)
	c.Modified = clonePtr(k.Modified)
	c.Launched = clonePtr(k.Launched)
	c.Completed = clonePtr(k.Completed)
	c.CompletionStatus = clonePtr(k.CompletionStatus)
	c.Progress = clonePtr(k.Progress)
	if k.Messages != nil {
		c.Messages = make([]TaskMessage, len(k.Messages))
		for i, m := range k.Messages {
			m.Parameters = cloneSlice(m.Parameters)
			c.Messages[i] = m
		}
	}
	c.Returns = cloneSlice(k.Returns)
	if k.Attributes != nil {
		c.Attributes = maps.Clone(k.Attributes)
	}
	if k.Definition != nil {
		d := *k.Definition
		if d.Arguments != nil {
			d.Arguments = maps.Clone(d.Arguments)
		}
		c.Definition = &d
	}
	return c
}

// IsTerminal is the one definition of a finished task, shared by the
// simulator, the Observer and so the ground truth: a completion time or a
// completion status.
func (k *Task) IsTerminal() bool { return k.Completed != nil || k.CompletionStatus != nil }

// CompletionTime is when a terminal task finished: completed, falling back
// to modified, then created, for a scripted task finished without one.
func (k *Task) CompletionTime() time.Time {
	switch {
	case k.Completed != nil:
		return *k.Completed
	case k.Modified != nil:
		return *k.Modified
	}
	return k.Created
}

// StartTime is when the task's work began: launched, or created when it
// was never launched.
func (k *Task) StartTime() time.Time {
	if k.Launched != nil {
		return *k.Launched
	}
	return k.Created
}

// sourceID is what the sourceId filter reads.
func (k *Task) sourceID() (string, bool) {
	s, ok := k.Attributes["sourceId"].(string)
	return s, ok
}

type wireTarget struct {
	ID   string  `json:"id"`
	Type *string `json:"type"`
	Name string  `json:"name"`
}

type wireLocalized struct {
	Locale  string `json:"locale"`
	Message string `json:"message"`
}

type wireTaskMessage struct {
	Type          string        `json:"type"`
	LocalizedText wireLocalized `json:"localizedText"`
	Key           string        `json:"key"`
	Parameters    []any         `json:"parameters"`
}

// wireTask carries every property of the spec's TaskStatus, in its order.
type wireTask struct {
	ID                    string            `json:"id"`
	Type                  string            `json:"type"`
	UniqueName            string            `json:"uniqueName"`
	Description           string            `json:"description"`
	ParentName            *string           `json:"parentName"`
	Launcher              string            `json:"launcher"`
	Target                *wireTarget       `json:"target"`
	Created               msTime            `json:"created"`
	Modified              *msTime           `json:"modified"`
	Launched              *msTime           `json:"launched"`
	Completed             *msTime           `json:"completed"`
	CompletionStatus      *string           `json:"completionStatus"`
	Messages              []wireTaskMessage `json:"messages"`
	Returns               []TaskReturn      `json:"returns"`
	Attributes            map[string]any    `json:"attributes"`
	Progress              *string           `json:"progress"`
	PercentComplete       int               `json:"percentComplete"`
	TaskDefinitionSummary *TaskDefinition   `json:"taskDefinitionSummary,omitempty"`
}

func toWireTask(k *Task) wireTask {
	w := wireTask{
		ID: k.ID, Type: k.Type, UniqueName: k.UniqueName, Description: k.Description, ParentName: k.ParentName,
		Launcher: k.Launcher, Created: msTime(k.Created), Modified: msPtr(k.Modified), Launched: msPtr(k.Launched),
		Completed: msPtr(k.Completed), CompletionStatus: k.CompletionStatus,
		Messages: make([]wireTaskMessage, len(k.Messages)), Returns: k.Returns, Attributes: k.Attributes,
		Progress: k.Progress, PercentComplete: k.PercentComplete, TaskDefinitionSummary: k.Definition,
	}
	if k.Target != nil {
		w.Target = &wireTarget{ID: k.Target.ID, Name: k.Target.Name}
		if k.Target.Type != "" {
			w.Target.Type = Ptr(k.Target.Type)
		}
	}
	for i, m := range k.Messages {
		w.Messages[i] = wireTaskMessage{m.Type, wireLocalized{m.Locale, m.Text}, m.Key, m.Parameters}
	}
	if w.Returns == nil {
		w.Returns = []TaskReturn{}
	}
	if w.Attributes == nil {
		w.Attributes = map[string]any{}
	}
	return w
}

// MarshalJSON renders the spec's TaskStatus.
func (k Task) MarshalJSON() ([]byte, error) { return json.Marshal(toWireTask(&k)) }

// taskRec is one task: its newest version (an immutable snapshot, so pages
// marshal outside the lock) and how it is served.
type taskRec struct {
	k        *Task
	rendered rendered[Task] // k's JSON, once listed
	plan     *taskPlan      // the simulator's plan; nil once finished or scripted
	logged   bool           // whether its first terminal version was observed
}

// taskEntry is what filters and sorters read of one task, by value.
type taskEntry struct {
	rec                               *taskRec
	id, def, source, status, launcher string
	nullDef, nullSource, nullStatus   bool
	created                           int64 // Unix milliseconds
}

func newTaskEntry(rec *taskRec) taskEntry {
	k := rec.k
	e := taskEntry{rec: rec, id: k.ID, def: k.DefinitionType, nullDef: k.DefinitionType == "", launcher: k.Launcher,
		created: k.Created.UnixMilli()}
	e.source, e.nullSource = k.sourceID()
	e.nullSource = !e.nullSource
	if k.CompletionStatus == nil {
		e.nullStatus = true
	} else {
		e.status = *k.CompletionStatus
	}
	return e
}

func cmpTaskEntry(x, y taskEntry) int {
	if c := cmpInt(x.created, y.created); c != 0 {
		return c
	}
	return strings.Compare(x.id, y.id)
}

// taskFields are what the spec documents for listing task statuses: filters
// id and sourceId (eq, in), completionStatus (eq, in, isnull) and type
// (eq, in; the definition type), joined with and; the sorter created.
func taskFields(launcher bool) map[string]field[taskEntry] {
	f := map[string]field[taskEntry]{
		"id":       {kind: kString, ops: ops("eq in"), get: func(e *taskEntry) value { return str(e.id) }},
		"sourceId": {kind: kString, ops: ops("eq in"), get: func(e *taskEntry) value { return value{null: e.nullSource, s: e.source} }},
		"completionStatus": {kind: kString, ops: ops("eq in isnull"),
			get: func(e *taskEntry) value { return value{null: e.nullStatus, s: e.status} }},
		"type":    {kind: kString, ops: ops("eq in"), get: func(e *taskEntry) value { return value{null: e.nullDef, s: e.def} }},
		"created": {kind: kTime, sort: true, get: func(e *taskEntry) value { return value{n: e.created} }},
	}
	if launcher {
		f["launcher"] = field[taskEntry]{kind: kString, ops: ops("eq in"), get: func(e *taskEntry) value { return str(e.launcher) }}
	}
	return f
}

// The per-service document adds the launcher filter; the v2025 document
// (and so the yearly families) lacks it.
var (
	tasksV1 = collection[taskEntry]{fields: taskFields(true), id: func(e *taskEntry) string { return e.id }, andOnly: true}
	tasks   = collection[taskEntry]{fields: taskFields(false), id: func(e *taskEntry) string { return e.id }, andOnly: true}
)

// renderTask is k's JSON, or what the interceptor serves instead.
func renderTask(ic Interceptor, k *Task) ([]byte, error) {
	if ic != nil {
		if raw, ok := ic.Replace(CollectionTasks, k.ID); ok {
			return []byte(raw), nil
		}
	}
	return json.Marshal(toWireTask(k))
}

// visibleTasks is the part of the index the API shows: tasks created in the
// last 90 days on the tenant's clock. Callers hold t.mu.
func (t *Tenant) visibleTasks() []taskEntry {
	cut := t.now().Add(-taskRetention).UnixMilli()
	i, _ := slices.BinarySearchFunc(t.taskOrder, cut, func(e taskEntry, c int64) int { return cmpInt(e.created, c) })
	return t.taskOrder[i:]
}

func (t *Tenant) listTasks(r *http.Request, family string) reply {
	c := &tasks
	if family == FamilyV1 {
		c = &tasksV1
	}
	lq, bad := parseQuery(r.URL.Query(), c)
	if bad != nil {
		return *bad
	}

	t.beforeList(CollectionTasks)

	t.mu.Lock()
	entries, total := selectPage(t.visibleTasks(), &lq)
	page := make([]pageRecord[Task], len(entries))
	for i, e := range entries {
		k := e.rec.k
		page[i] = pageRecord[Task]{v: k, id: k.ID, cache: &e.rec.rendered, json: e.rec.rendered.cached(k, formV3)}
	}
	ic := t.interceptor
	t.mu.Unlock()

	return pageOf(t, ic, CollectionTasks, page, func(k *Task) any { return toWireTask(k) }, formV3, total, lq.count)
}

func (t *Tenant) getTask(id string) reply {
	var k *Task
	t.mu.Lock()
	if rec := t.tasks[id]; rec != nil && !rec.k.Created.Before(t.now().Add(-taskRetention)) {
		k = rec.k
	}
	ic := t.interceptor
	t.mu.Unlock()
	if k == nil {
		return errorDTO(http.StatusNotFound, "")
	}
	b, err := renderTask(ic, k)
	if err != nil {
		return errorDTO(http.StatusInternalServerError, "")
	}
	return reply{status: http.StatusOK, body: b}
}

// putTask stores a new version the caller no longer touches and logs the
// first terminal one; callers hold t.mu.
func (t *Tenant) putTask(k *Task) *taskRec {
	rec := t.tasks[k.ID]
	if rec == nil {
		rec = &taskRec{}
		t.tasks[k.ID] = rec
	} else {
		i, ok := slices.BinarySearchFunc(t.taskOrder, newTaskEntry(rec), cmpTaskEntry)
		if !ok {
			panic("simtenant: task index out of sync for " + k.ID)
		}
		if rec.k.Created.UnixMilli() == k.Created.UnixMilli() {
			rec.k = k
			t.taskOrder[i] = newTaskEntry(rec)
			t.logTaskIfTerminal(rec)
			return rec
		}
		t.taskOrder = slices.Delete(t.taskOrder, i, i+1)
	}
	rec.k = k
	e := newTaskEntry(rec)
	i, _ := slices.BinarySearchFunc(t.taskOrder, e, cmpTaskEntry)
	t.taskOrder = slices.Insert(t.taskOrder, i, e)
	t.logTaskIfTerminal(rec)
	return rec
}

func (t *Tenant) logTaskIfTerminal(rec *taskRec) {
	if !rec.logged && rec.k.IsTerminal() {
		rec.logged = true
		if t.cfg.Observer != nil {
			t.cfg.Observer.TaskTerminal(rec.k)
		}
	}
}

// UpsertTask stores a copy of k exactly as given, like Upsert for
// activities: no timestamp is touched, an empty ID gets a fresh one, and
// the simulator stops driving a task once a test has upserted it.
func (t *Tenant) UpsertTask(k Task) string {
	c := k.Clone()
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.ID == "" {
		c.ID = hexID(t.taskRng)
	}
	if rec := t.tasks[c.ID]; rec != nil {
		rec.plan = nil
	}
	t.putTask(&c)
	return c.ID
}

// ModifyTask applies f to a copy of the task's newest version and stores it
// with modified set to now. The simulator keeps driving a task it planned
// (launch, completion) unless f finished it. It reports whether id exists.
func (t *Tenant) ModifyTask(id string, f func(*Task)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.tasks[id]
	if rec == nil {
		return false
	}
	c := rec.k.Clone()
	f(&c)
	c.ID = id
	c.Modified = Ptr(t.now())
	t.putTask(&c)
	if c.IsTerminal() {
		rec.plan = nil
	}
	return true
}

// Task returns a copy of the task's newest version, whatever its age.
func (t *Tenant) Task(id string) (Task, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.tasks[id]
	if rec == nil {
		return Task{}, false
	}
	return rec.k.Clone(), true
}

// RawTaskJSON renders the task as the API shows it, ignoring any
// Interceptor.Replace, so a test can derive a corrupted variant.
func (t *Tenant) RawTaskJSON(id string) (string, bool) {
	t.mu.Lock()
	rec := t.tasks[id]
	var k *Task
	if rec != nil {
		k = rec.k
	}
	t.mu.Unlock()
	if k == nil {
		return "", false
	}
	b, err := json.Marshal(toWireTask(k))
	if err != nil {
		panic("simtenant: marshal task: " + err.Error())
	}
	return string(b), true
}
