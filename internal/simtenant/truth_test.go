package simtenant

import (
	"maps"
	"strconv"
	"testing"
	"time"
)

func TestTruthScripted(t *testing.T) {
	clk := newFakeClock()
	tn := New(Config{Now: clk.Now})
	src := hexN(0x50)
	m := tn.Mark()

	a1 := scripted(hexN(1), "appRequest", at(0), ExecExecuting)
	a1.Items = []Item{{ID: hexN(0x11), ProvisioningStatus: ProvPending, Operation: Ptr("ADD"), SourceID: src}}
	tn.Upsert(a1)
	if tr := tn.TruthSince(m); len(tr.Completed) != 0 {
		t.Fatalf("running activity counted: %v", tr.Completed)
	}
	tn.Modify(a1.ID, func(a *Activity) {
		a.ExecutionStatus = ExecCompleted
		a.CompletionStatus = Ptr(CompletionSuccess)
		a.Completed = Ptr(at(42500 * time.Millisecond))
		a.Items[0].ProvisioningStatus = ProvFinished
		a.Warnings = []string{"w1"}
	})
	// Later edits, even ones that change statuses, never count again: the
	// log keeps the first terminal version.
	tn.Modify(a1.ID, func(a *Activity) { a.Items[0].ReviewerComment = &Comment{Body: "late"} })
	again := a1
	again.ExecutionStatus, again.CompletionStatus, again.Completed = ExecCompleted, Ptr(CompletionFailure), Ptr(at(time.Hour))
	tn.Upsert(again)

	// TERMINATED without completed: completion time is modified. Null and
	// empty values become "none".
	a2 := scripted(hexN(2), "", at(time.Second), ExecTerminated)
	a2.Modified = Ptr(at(91 * time.Second))
	a2.Errors = []string{"e1", "e2"}
	a2.Warnings = nil
	a2.Items = []Item{{ID: hexN(0x21), ProvisioningStatus: ProvPending, Operation: nil, SourceID: ""}}
	tn.Upsert(a2)

	// completed set is terminal whatever executionStatus says.
	a3 := scripted(hexN(3), "Certification", at(2*time.Second), ExecExecuting)
	a3.Completed = Ptr(at(3 * time.Second))
	a3.Items = []Item{}
	tn.Upsert(a3)

	tr := tn.TruthSince(m)
	wantCompleted := map[[3]string]int{
		{"appRequest", "SUCCESS", "COMPLETED"}: 1,
		{"none", "none", "TERMINATED"}:         1,
		{"Certification", "none", "EXECUTING"}: 1,
	}
	if !maps.Equal(tr.Completed, wantCompleted) {
		t.Errorf("Completed %v\nwant %v", tr.Completed, wantCompleted)
	}
	wantItems := map[[4]string]int{
		{"appRequest", "FINISHED", "ADD", src}: 1,
		{"none", "PENDING", "none", "none"}:    1,
	}
	if !maps.Equal(tr.ItemsCompleted, wantItems) {
		t.Errorf("ItemsCompleted %v\nwant %v", tr.ItemsCompleted, wantItems)
	}
	if !maps.Equal(tr.Errors, map[string]int{"none": 2}) || !maps.Equal(tr.Warnings, map[string]int{"appRequest": 1}) {
		t.Errorf("Errors %v Warnings %v", tr.Errors, tr.Warnings)
	}
	wantDur := map[[2]string][]float64{
		{"appRequest", "SUCCESS"}: {42.5},
		{"none", "none"}:          {90},
		{"Certification", "none"}: {1},
	}
	if len(tr.Durations) != len(wantDur) {
		t.Errorf("Durations %v", tr.Durations)
	}
	for k, v := range wantDur {
		if got := tr.Durations[k]; len(got) != 1 || got[0] != v[0] {
			t.Errorf("Durations[%v] = %v, want %v", k, got, v)
		}
	}

	m2 := tn.Mark()
	if tr := tn.TruthSince(m2); len(tr.Completed) != 0 {
		t.Errorf("nothing happened after the mark, got %v", tr.Completed)
	}
	a4 := scripted(hexN(4), "Identity Refresh", at(0), ExecExecuting)
	tn.Upsert(a4)
	clk.Advance(time.Minute)
	tn.Modify(a4.ID, func(a *Activity) { a.ExecutionStatus = ExecTerminated })
	tr = tn.TruthSince(m2)
	if !maps.Equal(tr.Completed, map[[3]string]int{{"Identity Refresh", "none", "TERMINATED"}: 1}) {
		t.Errorf("after m2: %v", tr.Completed)
	}
	// Modify stamped modified with the clock; with no completed that is
	// the completion time.
	want := clk.Now().Truncate(time.Millisecond).Sub(at(0)).Seconds()
	if d := tr.Durations[[2]string{"Identity Refresh", "none"}]; len(d) != 1 || d[0] != want {
		t.Errorf("duration %v, want %v", d, want)
	}
}

func TestCurrent(t *testing.T) {
	tn := New(Config{})
	old := scripted(hexN(1), "appRequest", at(-48*time.Hour), ExecExecuting)
	old.Items = []Item{{ProvisioningStatus: ProvPending, Operation: Ptr("ADD")}}
	running := scripted(hexN(2), "appRequest", at(0), ExecVerifying)
	running.Items = []Item{{ProvisioningStatus: ProvCommited, Operation: Ptr("ADD")}, {ProvisioningStatus: ProvFinished}}
	done := scripted(hexN(3), "Identity Refresh", at(time.Second), ExecCompleted)
	done.CompletionStatus = Ptr(CompletionSuccess)
	done.Completed = Ptr(at(2 * time.Second))
	nullType := scripted(hexN(4), "", at(2*time.Second), ExecExecuting)
	for _, a := range []Activity{old, running, done, nullType} {
		tn.Upsert(a)
	}
	cur := tn.Current(at(-time.Hour))
	wantAct := map[[3]string]int{
		{"appRequest", "none", "VERIFYING"}:          1,
		{"Identity Refresh", "SUCCESS", "COMPLETED"}: 1,
		{"none", "none", "EXECUTING"}:                1,
	}
	if !maps.Equal(cur.Activities, wantAct) {
		t.Errorf("Activities %v", cur.Activities)
	}
	wantItems := map[[3]string]int{
		{"appRequest", "COMMITED", "ADD"}:  1,
		{"appRequest", "FINISHED", "none"}: 1,
	}
	if !maps.Equal(cur.Items, wantItems) {
		t.Errorf("Items %v", cur.Items)
	}
	wantOldest := map[string]time.Time{"appRequest": at(-48 * time.Hour), "none": at(2 * time.Second)}
	if !maps.EqualFunc(cur.OldestIncompleteCreated, wantOldest, time.Time.Equal) {
		t.Errorf("OldestIncompleteCreated %v", cur.OldestIncompleteCreated)
	}
}

// TestTruthMatchesCorrectConsumer plays a careful exporter against the
// HTTP API (modified cursor with overlap, paging, dedupe by id) while the
// simulator runs, and checks it sees exactly what the truth log says. It
// validates the oracle's filters, sorting, paging and truth together.
func TestTruthMatchesCorrectConsumer(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 21})
	h.tenant.SeedHistory(1500, 24*time.Hour)
	counted := map[string]bool{}
	cursor := time.Time{}
	poll := func(record bool) map[[3]string]int {
		got := map[[3]string]int{}
		query := q("sorters", "modified", "limit", "250")
		if !cursor.IsZero() {
			query.Set("filters", "modified ge "+cursor.Format(msLayout))
		}
		for off := 0; ; off += 250 {
			query.Set("offset", strconv.Itoa(off))
			page, _ := h.list(query)
			for _, a := range page {
				if a.Modified != nil && a.Modified.After(cursor) {
					cursor = *a.Modified
				}
				if a.isTerminal() && !counted[a.ID] {
					counted[a.ID] = true
					if record {
						got[[3]string{labelPtr(a.Type), labelPtr(a.CompletionStatus), label(a.ExecutionStatus)}]++
					}
				}
			}
			if len(page) < 250 {
				return got
			}
		}
	}
	poll(false) // prime: history before the mark is not counted
	mark := h.tenant.Mark()
	total := map[[3]string]int{}
	for i := 0; i < 60; i++ {
		h.clock.Advance(2 * time.Second)
		h.tenant.Step()
		if i%20 == 0 {
			h.tenant.BulkRefresh(260)
		}
		for k, v := range poll(true) {
			total[k] += v
		}
	}
	truth := h.tenant.TruthSince(mark)
	if !maps.Equal(total, truth.Completed) {
		t.Errorf("consumer %v\ntruth %v", total, truth.Completed)
	}
	n := 0
	for _, v := range truth.Completed {
		n += v
	}
	if n < 780 {
		t.Errorf("only %d completions in the run", n)
	}
}

// TestTruthConsistentWithSimulation checks the simulator's promise that
// nothing counted changes after an activity is terminal: recounting the
// terminal activities as they are now must give the truth log's totals.
func TestTruthConsistentWithSimulation(t *testing.T) {
	tn, _ := runSim(33, EdgeCases{NullType: 0.05, NullCompletionStatus: 0.05, NullItems: 0.05, NullErrors: 0.05, NullOperation: 0.05, UnknownEnums: 0.05}, 400)
	tr := tn.TruthSince(Mark{})
	completed := map[[3]string]int{}
	items := map[[4]string]int{}
	errs := map[string]int{}
	durations := 0
	for _, a := range snapshot(tn) {
		if !a.isTerminal() {
			continue
		}
		typ := labelPtr(a.Type)
		completed[[3]string{typ, labelPtr(a.CompletionStatus), label(a.ExecutionStatus)}]++
		for _, it := range a.Items {
			items[[4]string{typ, label(it.ProvisioningStatus), labelPtr(it.Operation), label(it.SourceID)}]++
		}
		if len(a.Errors) > 0 {
			errs[typ] += len(a.Errors)
		}
		durations++
	}
	if !maps.Equal(completed, tr.Completed) {
		t.Errorf("Completed differs:\nnow   %v\ntruth %v", completed, tr.Completed)
	}
	if !maps.Equal(items, tr.ItemsCompleted) {
		t.Errorf("ItemsCompleted differs")
	}
	if !maps.Equal(errs, tr.Errors) {
		t.Errorf("Errors differ: %v vs %v", errs, tr.Errors)
	}
	n := 0
	for _, d := range tr.Durations {
		n += len(d)
		for _, v := range d {
			if v < 0 {
				t.Errorf("negative duration %v", v)
			}
		}
	}
	if n != durations {
		t.Errorf("%d durations, want %d", n, durations)
	}
}
