package simtest

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// TestTasksLast90Days: the API shows what was created in the last 90 days
// on the tenant's clock, and the cut moves with the clock alone.
func TestTasksLast90Days(t *testing.T) {
	for _, offset := range []time.Duration{0, -3 * time.Hour} {
		h := newHarness(t, simtenant.Config{RateLimit: -1, TaskSources: -1, ClockOffset: offset})
		now := h.clock.Now().Add(offset).Truncate(time.Millisecond)
		mk := func(n int, age time.Duration, running bool) {
			k := simtenant.Task{ID: hexN(n), Type: simtenant.TaskQuartz, DefinitionType: simtenant.TaskAccountAggregation, Launcher: "sweep", Created: now.Add(-age),
				Target: &simtenant.TaskTarget{ID: h.tenant.Sources()[0].ID, Type: "APPLICATION"}}
			if !running {
				k.CompletionStatus, k.Completed = simtenant.Ptr(simtenant.TaskSuccess), simtenant.Ptr(now.Add(-age+time.Minute))
			}
			h.tenant.UpsertTask(k)
		}
		mk(1, taskRetention+time.Second, false)
		mk(2, taskRetention-time.Second, false)
		mk(3, taskRetention-time.Minute, true)
		mk(4, time.Hour, false)
		if got, _ := h.taskPage("/task-status/v1"); !slices.Equal(taskIDs(got), hexes(2, 3, 4)) {
			t.Errorf("offset %v: %v", offset, taskIDs(got))
		}
		decodeError(t, h.get("/task-status/v1/"+hexN(1), nil), 404, "404 Not found")
		if r := h.get("/task-status/v1/"+hexN(2), nil); r.status != 200 {
			t.Errorf("90 days minus a second: %d", r.status)
		}
		key := [2]string{h.tenant.Sources()[0].ID, simtenant.TaskAccountAggregation}
		if cur := h.truth.CurrentTasks(now.Add(-24 * time.Hour)); cur.Running[key] != 1 || !cur.OldestRunningCreated[key].Equal(now.Add(-taskRetention+time.Minute)) {
			t.Errorf("running %v oldest %v", cur.Running, cur.OldestRunningCreated)
		}
		h.clock.Advance(time.Second + time.Millisecond) // no Step: the cut follows the clock
		if got, _ := h.taskPage("/task-status/v1", "sorters", "-created"); !slices.Equal(taskIDs(got), hexes(4, 3)) {
			t.Errorf("a second later: %v", taskIDs(got))
		}
		decodeError(t, h.get("/task-status/v1/"+hexN(2), nil), 404, "404 Not found")
		h.clock.Advance(time.Minute)
		if cur := h.truth.CurrentTasks(time.Time{}); len(cur.Running) != 0 {
			t.Errorf("a task older than 90 days still counts as running: %v", cur.Running)
		}
	}
}

// TestTaskPagingWhileTasksArrive pages newest first with offsets while new
// tasks arrive, which is what a client of this API must cope with: the
// arrivals shift the offsets, so the next page repeats the end of the last
// one and the arrivals are not on it.
func TestTaskPagingWhileTasksArrive(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, TaskSources: -1})
	base := h.clock.Now().Add(-time.Hour).Truncate(time.Millisecond)
	mk := func(n int) {
		h.tenant.UpsertTask(simtenant.Task{ID: hexN(n), Type: simtenant.TaskQuartz, DefinitionType: simtenant.TaskAccountAggregation, Launcher: "sweep",
			Created: base.Add(time.Duration(n) * time.Second)})
	}
	for n := 1; n <= 10; n++ {
		mk(n)
	}
	var calls []int
	h.faults.OnTaskList(func(n int) {
		calls = append(calls, n)
		if n == 2 {
			mk(11)
			mk(12)
			h.tenant.ModifyTask(hexN(3), func(k *simtenant.Task) {
				k.CompletionStatus, k.Completed = simtenant.Ptr(simtenant.TaskSuccess), simtenant.Ptr(base.Add(time.Hour))
			})
		}
	})
	var got []string
	counts := []string{}
	for off := 0; ; off += 4 {
		page, r := h.taskPage("/task-status/v1", "sorters", "-created", "limit", "4", "offset", strconv.Itoa(off), "count", "true")
		got = append(got, taskIDs(page)...)
		counts = append(counts, r.header.Get("X-Total-Count"))
		if len(page) < 4 {
			break
		}
	}
	if want := hexes(10, 9, 8, 7, 8, 7, 6, 5, 4, 3, 2, 1); !slices.Equal(got, want) {
		t.Errorf("paged %v\nwant %v", got, want)
	}
	if !slices.Equal(counts, []string{"10", "12", "12", "12"}) || !slices.Equal(calls, []int{1, 2, 3, 4}) {
		t.Errorf("counts %v, calls %v", counts, calls)
	}
	// Ascending, arrivals land after the end: nothing shifts.
	h.faults.OnTaskList(func(n int) {
		if n == 6 { // before the second ascending page
			mk(13)
		}
	})
	var asc []string
	for off := 0; off < 16; off += 4 {
		page, _ := h.taskPage("/task-status/v1", "limit", "4", "offset", strconv.Itoa(off))
		asc = append(asc, taskIDs(page)...)
	}
	if want := hexes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13); !slices.Equal(asc, want) {
		t.Errorf("ascending %v", asc)
	}
	h.faults.OnTaskList(nil)
	h.get("/task-status/v1", q("limit", "x")) // a 400 does not count
	h.get("/task-status/v1/"+hexN(1), nil)    // nor does a get
	if h.taskPage("/task-status/v1"); len(calls) != 4 {
		t.Errorf("cleared hook still called")
	}
}

func TestTaskFaultsAndScripting(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 6})
	h.client = freshClient()
	h.tenant.SeedTaskHistory(3 * time.Hour)
	first, _ := h.taskPage("/task-status/v1", "limit", "5")
	id := first[2].ID

	h.faults.FailTasksNext(2, 503)
	decodeError(t, h.get("/v2025/task-status", nil), 503, "503 Service Unavailable")
	if r := h.get("/v3/sources", nil); r.status != 200 {
		t.Errorf("another queue took the fault: %d", r.status)
	}
	decodeError(t, h.get("/beta/task-status/"+id, nil), 503, "503 Service Unavailable")
	if r := h.get("/task-status/v1", nil); r.status != 200 {
		t.Errorf("after the faults: %d", r.status)
	}
	h.faults.FailNext(1, 500)
	if r := h.get("/task-status/v1", nil); r.status != 200 {
		t.Errorf("the activities' queue reached tasks: %d", r.status)
	}
	h.faults.FailNext(-1, 0) // nothing queued
	if r := h.get("/v3/account-activities", nil); r.status != 500 {
		t.Errorf("the activities' fault: %d", r.status)
	}

	for _, status := range []int{403, 404} {
		h.tenant.Deny("task-status", status)
		for _, p := range []string{"/task-status/v1", "/v2025/task-status", "/beta/task-status/" + id} {
			if r := h.get(p, nil); r.status != status {
				t.Errorf("Deny %d: %s answered %d", status, p, r.status)
			}
		}
		if r := h.get("/sources/v1", nil); r.status != 200 {
			t.Errorf("Deny(task-status) reached sources: %d", r.status)
		}
	}
	h.tenant.Deny("task-status", 0)

	// Corrupt elements take the task's place, filters read the real task.
	clean := h.get("/task-status/v1", q("limit", "5"))
	good := elements(t, clean.body)
	normal, ok := h.tenant.RawTaskJSON(id)
	if !ok || normal != good[2] {
		t.Fatalf("RawTaskJSON differs from the page")
	}
	var v taskView
	_ = json.Unmarshal([]byte(normal), &v)
	noTarget := strings.Replace(normal, `"target":{"id":"`+v.Target.ID+`","type":"APPLICATION","name":"`+v.Target.Name+`"},`, "", 1)
	badTime := strings.Replace(normal, `"created":"`+v.Created.Format(msLayout)+`"`, `"created":"yesterday"`, 1)
	wrongType := strings.Replace(normal, `"percentComplete":`+strconv.Itoa(v.PercentComplete), `"percentComplete":"most"`, 1)
	for name, raw := range map[string]string{"no target": noTarget, "bad time": badTime, "wrong type": wrongType, "invalid": `{"id":`} {
		if raw == normal {
			t.Fatalf("%s: could not derive the variant", name)
		}
		h.faults.CorruptTask(id, raw)
		want := "[" + strings.Join(good[:2], ",") + "," + raw + "," + strings.Join(good[3:], ",") + "]"
		if r := h.get("/task-status/v1", q("limit", "5")); string(r.body) != want {
			t.Errorf("%s: page differs", name)
		}
		if r := h.get("/v2025/task-status/"+id, nil); string(r.body) != raw {
			t.Errorf("%s: get differs", name)
		}
		if r := h.get("/task-status/v1", q("filters", `id eq "`+id+`"`)); string(r.body) != "["+raw+"]" {
			t.Errorf("%s: filter on the real id: %s", name, r.body)
		}
	}
	h.faults.CorruptTask(id, "")
	if r := h.get("/task-status/v1/"+id, nil); string(r.body) != normal {
		t.Errorf("restore: %.80s", r.body)
	}
	h.faults.CorruptTask(hexN(0xbad), "ignored")

	// Scripted changes: ModifyTask stamps modified, UpsertTask takes ids.
	h.clock.Advance(time.Minute)
	if !h.tenant.ModifyTask(id, func(k *simtenant.Task) {
		k.Messages = append(k.Messages, simtenant.TaskMessage{Type: "INFO", Key: "k", Locale: "en-US", Text: "note"})
	}) {
		t.Fatal("ModifyTask of a known id")
	}
	got, _ := h.tenant.Task(id)
	if !got.Modified.Equal(h.clock.Now().Truncate(time.Millisecond)) || got.Messages[len(got.Messages)-1].Text != "note" {
		t.Errorf("modified %v messages %+v", got.Modified, got.Messages)
	}
	if h.tenant.ModifyTask(hexN(0xbad), func(*simtenant.Task) {}) {
		t.Errorf("ModifyTask of an unknown id")
	}
	fresh := h.tenant.UpsertTask(simtenant.Task{Type: simtenant.TaskQPOC, DefinitionType: "CLOUD_REFRESH_ROLE", Launcher: "sweep", Created: h.clock.Now()})
	if !hex32.MatchString(fresh) {
		t.Errorf("fresh id %q", fresh)
	}
	page, _ := h.taskPage("/task-status/v1", "filters", `type eq "CLOUD_REFRESH_ROLE"`)
	if len(page) != 1 || page[0].ID != fresh || page[0].Target != nil || page[0].Messages == nil || page[0].Attributes == nil {
		t.Errorf("scripted task: %+v", page)
	}
}

// TestDemoTaskPace is the demo's promise on a fake clock: aggregations
// finish within 20 s of the start, with an hour of them already there.
// RunDemo's own ticker is set too slow to tick: the test steps the clock.
func TestDemoTaskPace(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 8, TokenTTL: time.Hour})
	start := h.clock.Now()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.tenant.RunDemo(ctx, 24*time.Hour); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		n := 0
		h.tenant.EachTask(func(*simtenant.Task) { n++ })
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunDemo wrote no aggregations in 5 s")
		}
	}
	past := len(h.allTasks("/task-status/v1"))
	if past < 14*55 {
		t.Errorf("only %d tasks in the past hour at the demo pace", past)
	}
	m := h.truth.Mark()
	for range 20 {
		h.clock.Advance(time.Second)
		h.tenant.Step()
	}
	tr := h.truth.TaskTruthSince(m)
	n := 0
	for key, c := range tr.Finished {
		n += c
		for _, d := range tr.Durations[key] {
			if d > 45 {
				t.Errorf("a demo aggregation took %vs", d)
			}
		}
	}
	created := 0
	for _, v := range h.allTasks("/task-status/v1") {
		if v.Created.After(start) {
			created++
		}
	}
	if n < 3 || created < 4 {
		t.Errorf("20 s into the demo: %d finished, %d created", n, created)
	}
}

// TestTaskTruthMatchesConsumer plays an exporter against the HTTP API while
// the schedule runs: it lists each definition type it watches, newest
// first with offsets, and counts each finished task once, in the label
// space of the truth. What it counts, the durations it computes and the
// gauges it would show must equal TaskTruthSince and CurrentTasks.
func TestTaskTruthMatchesConsumer(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 31, TaskSources: 12, TaskEvery: 10 * time.Minute, TokenTTL: 24 * time.Hour})
	h.tenant.SeedTaskHistory(time.Hour)
	counted := map[string]bool{}
	finished := map[[3]string]int{}
	durations := map[[3]string][]float64{}
	var latest []taskView
	poll := func(record bool) {
		latest = latest[:0]
		for _, def := range []string{simtenant.TaskAccountAggregation, simtenant.TaskGroupAggregation} {
			for _, v := range h.allTasks("/task-status/v1", "filters", `type eq "`+def+`"`) {
				v.UniqueName = def // the client knows the type from its filter
				latest = append(latest, v)
				if v.CompletionStatus == nil || counted[v.ID] {
					continue
				}
				counted[v.ID] = true
				if record {
					key := [3]string{v.source(), def, *v.CompletionStatus}
					finished[key]++
					durations[key] = append(durations[key], v.duration())
				}
			}
		}
	}
	poll(false)
	mark := h.truth.Mark()
	for range 60 {
		h.clock.Advance(30 * time.Second)
		h.tenant.Step()
		poll(true)
	}
	tr := h.truth.TaskTruthSince(mark)
	if !maps.Equal(finished, tr.Finished) {
		t.Errorf("consumer %v\ntruth %v", finished, tr.Finished)
	}
	n := 0
	for key, ds := range tr.Durations {
		n += len(ds)
		if !slices.Equal(slices.Sorted(slices.Values(ds)), slices.Sorted(slices.Values(durations[key]))) {
			t.Errorf("%v: durations %v, consumer %v", key, ds, durations[key])
		}
	}
	if n < 60 {
		t.Errorf("only %d finished in half an hour", n)
	}

	since := h.clock.Now().Add(-40 * time.Minute)
	running := map[[2]string]int{}
	oldest := map[[2]string]time.Time{}
	last := map[[3]string]taskView{}
	for _, v := range latest {
		if v.CompletionStatus == nil {
			key := [2]string{v.source(), v.UniqueName}
			running[key]++
			if o, ok := oldest[key]; !ok || v.Created.Before(o) {
				oldest[key] = v.Created
			}
			continue
		}
		key := [3]string{v.source(), v.UniqueName, *v.CompletionStatus}
		if l, ok := last[key]; !v.Created.Before(since) && (!ok || v.Completed.After(*l.Completed) || v.Completed.Equal(*l.Completed) && v.ID > l.ID) {
			last[key] = v
		}
	}
	cur := h.truth.CurrentTasks(since)
	if !maps.Equal(running, cur.Running) || !maps.EqualFunc(oldest, cur.OldestRunningCreated, time.Time.Equal) || len(running) == 0 {
		t.Errorf("running %v oldest %v\ntruth %v %v", running, oldest, cur.Running, cur.OldestRunningCreated)
	}
	if len(last) != len(cur.LastCompleted) || len(last) == 0 {
		t.Errorf("%d latest, truth %d", len(last), len(cur.LastCompleted))
	}
	for key, v := range last {
		if !cur.LastCompleted[key].Equal(*v.Completed) || cur.LastDuration[key] != v.duration() {
			t.Errorf("%v: latest %v (%vs), truth %v (%vs)", key, v.Completed, v.duration(), cur.LastCompleted[key], cur.LastDuration[key])
		}
	}
}

// TestTaskTruthScripted checks the label space and the counting rules on
// scripted tasks: once per task, null labels "none", durations from
// launched or created.
func TestTaskTruthScripted(t *testing.T) {
	clk := newFakeClock()
	tn := New(simtenant.Config{Now: clk.Now, TaskSources: -1})
	now := clk.Now().Truncate(time.Millisecond)
	src := tn.Sources()[2].ID
	m := Truth(tn).Mark()
	tn.UpsertTask(simtenant.Task{ID: hexN(1), DefinitionType: simtenant.TaskAccountAggregation, Target: &simtenant.TaskTarget{ID: src}, Created: now.Add(-time.Hour),
		Launched: simtenant.Ptr(now.Add(-time.Hour + 2*time.Second))})
	if tr := Truth(tn).TaskTruthSince(m); len(tr.Finished) != 0 {
		t.Fatalf("a running task counted: %v", tr.Finished)
	}
	tn.ModifyTask(hexN(1), func(k *simtenant.Task) {
		k.CompletionStatus, k.Completed = simtenant.Ptr(simtenant.TaskWarning), simtenant.Ptr(now.Add(-time.Hour+92500*time.Millisecond))
	})
	tn.ModifyTask(hexN(1), func(k *simtenant.Task) { k.CompletionStatus = simtenant.Ptr(simtenant.TaskError) }) // counted once, as first finished
	tn.UpsertTask(simtenant.Task{ID: hexN(2), Created: now.Add(-time.Minute), Completed: simtenant.Ptr(now)})
	tr := Truth(tn).TaskTruthSince(m)
	want := map[[3]string]int{{src, simtenant.TaskAccountAggregation, simtenant.TaskWarning}: 1, {"none", "none", "none"}: 1}
	if !maps.Equal(tr.Finished, want) {
		t.Errorf("Finished %v", tr.Finished)
	}
	if d := tr.Durations[[3]string{src, simtenant.TaskAccountAggregation, simtenant.TaskWarning}]; !slices.Equal(d, []float64{90.5}) {
		t.Errorf("durations from launched: %v", d)
	}
	if d := tr.Durations[[3]string{"none", "none", "none"}]; !slices.Equal(d, []float64{60}) {
		t.Errorf("durations from created: %v", d)
	}
	if tr := Truth(tn).TaskTruthSince(Truth(tn).Mark()); len(tr.Finished) != 0 {
		t.Errorf("after a new mark: %v", tr.Finished)
	}
	cur := Truth(tn).CurrentTasks(now.Add(-2 * time.Hour))
	if len(cur.Running) != 0 || cur.LastCompleted[[3]string{src, simtenant.TaskAccountAggregation, simtenant.TaskError}].IsZero() {
		t.Errorf("current %+v", cur)
	}
}
