package simtest

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

func TestTruthScripted(t *testing.T) {
	clk := newFakeClock()
	tn := New(simtenant.Config{Now: clk.Now})
	src := hexN(0x50)
	m := Truth(tn).Mark()

	a1 := scripted(hexN(1), "appRequest", at(0), simtenant.ExecExecuting)
	a1.Items = []simtenant.Item{{ID: hexN(0x11), ProvisioningStatus: simtenant.ProvPending, Operation: simtenant.Ptr("ADD"), SourceID: src}}
	tn.Upsert(a1)
	if tr := Truth(tn).TruthSince(m); len(tr.Completed) != 0 {
		t.Fatalf("running activity counted: %v", tr.Completed)
	}
	tn.Modify(a1.ID, func(a *simtenant.Activity) {
		a.ExecutionStatus = simtenant.ExecCompleted
		a.CompletionStatus = simtenant.Ptr(simtenant.CompletionSuccess)
		a.Completed = simtenant.Ptr(at(42500 * time.Millisecond))
		a.Items[0].ProvisioningStatus = simtenant.ProvFinished
		a.Warnings = []string{"w1"}
	})
	// Later edits, even ones that change statuses, never count again: the
	// log keeps the first terminal version.
	tn.Modify(a1.ID, func(a *simtenant.Activity) { a.Items[0].ReviewerComment = &simtenant.Comment{Body: "late"} })
	again := a1
	again.ExecutionStatus, again.CompletionStatus, again.Completed = simtenant.ExecCompleted, simtenant.Ptr(simtenant.CompletionFailure), simtenant.Ptr(at(time.Hour))
	tn.Upsert(again)

	// TERMINATED without completed: completion time is modified. Null and
	// empty values become "none".
	a2 := scripted(hexN(2), "", at(time.Second), simtenant.ExecTerminated)
	a2.Modified = simtenant.Ptr(at(91 * time.Second))
	a2.Errors = []string{"e1", "e2"}
	a2.Warnings = nil
	a2.Items = []simtenant.Item{{ID: hexN(0x21), ProvisioningStatus: simtenant.ProvPending, Operation: nil, SourceID: ""}}
	tn.Upsert(a2)

	// completed set is terminal whatever executionStatus says.
	a3 := scripted(hexN(3), "Certification", at(2*time.Second), simtenant.ExecExecuting)
	a3.Completed = simtenant.Ptr(at(3 * time.Second))
	a3.Items = []simtenant.Item{}
	tn.Upsert(a3)

	tr := Truth(tn).TruthSince(m)
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

	m2 := Truth(tn).Mark()
	if tr := Truth(tn).TruthSince(m2); len(tr.Completed) != 0 {
		t.Errorf("nothing happened after the mark, got %v", tr.Completed)
	}
	a4 := scripted(hexN(4), "Identity Refresh", at(0), simtenant.ExecExecuting)
	tn.Upsert(a4)
	clk.Advance(time.Minute)
	tn.Modify(a4.ID, func(a *simtenant.Activity) { a.ExecutionStatus = simtenant.ExecTerminated })
	tr = Truth(tn).TruthSince(m2)
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
	tn := New(simtenant.Config{})
	old := scripted(hexN(1), "appRequest", at(-48*time.Hour), simtenant.ExecExecuting)
	old.Items = []simtenant.Item{{ProvisioningStatus: simtenant.ProvPending, Operation: simtenant.Ptr("ADD")}}
	running := scripted(hexN(2), "appRequest", at(0), simtenant.ExecVerifying)
	running.Items = []simtenant.Item{{ProvisioningStatus: simtenant.ProvCommited, Operation: simtenant.Ptr("ADD")}, {ProvisioningStatus: simtenant.ProvFinished}}
	done := scripted(hexN(3), "Identity Refresh", at(time.Second), simtenant.ExecCompleted)
	done.CompletionStatus = simtenant.Ptr(simtenant.CompletionSuccess)
	done.Completed = simtenant.Ptr(at(2 * time.Second))
	nullType := scripted(hexN(4), "", at(2*time.Second), simtenant.ExecExecuting)
	for _, a := range []simtenant.Activity{old, running, done, nullType} {
		tn.Upsert(a)
	}
	cur := Truth(tn).Current(at(-time.Hour))
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
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 21})
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
	mark := h.truth.Mark()
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
	truth := h.truth.TruthSince(mark)
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
	tn, _ := runSim(33, simtenant.EdgeCases{NullType: 0.05, NullCompletionStatus: 0.05, NullItems: 0.05, NullErrors: 0.05, NullOperation: 0.05, UnknownEnums: 0.05}, 400)
	tr := Truth(tn).TruthSince(Mark{})
	completed := map[[3]string]int{}
	items := map[[4]string]int{}
	errs := map[string]int{}
	durations := 0
	for _, a := range snapshot(tn) {
		if !a.IsTerminal() {
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

// TestLagHidesNewRecords checks the rest of the contract: a new record is
// invisible to list and get until its time, the truth log does not wait for
// the index, history from SeedHistory is never lagged, and SetLag(0, 0)
// stops lagging new versions.
func TestLagHidesNewRecords(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 6})
	h.tenant.SetLag(1, time.Hour)
	h.tenant.SeedHistory(40, time.Hour)
	if page, _ := h.list(nil); len(page) != 40 || h.tenant.LagPending() != 0 {
		t.Fatalf("SeedHistory lagged: %d visible, %d pending", len(page), h.tenant.LagPending())
	}

	h.tenant.SetLag(1, 5*time.Second)
	mark := h.truth.Mark()
	done := scripted(hexN(7), "Certification", h.clock.Now(), simtenant.ExecCompleted)
	done.CompletionStatus = simtenant.Ptr(simtenant.CompletionFailure)
	h.tenant.Upsert(done)
	if r := h.get("/v3/account-activities/"+hexN(7), nil); r.status != 404 {
		t.Errorf("lagged new record: get %d, want 404", r.status)
	}
	if page, _ := h.list(nil); len(page) != 40 {
		t.Errorf("lagged new record listed: %d items", len(page))
	}
	if _, ok := h.tenant.RawJSON(hexN(7)); ok {
		t.Errorf("RawJSON renders a record the API does not show yet")
	}
	if tr := h.truth.TruthSince(mark); tr.Completed[[3]string{"Certification", "FAILURE", "COMPLETED"}] != 1 {
		t.Errorf("truth waits for the index: %v", tr.Completed)
	}
	if a, ok := h.tenant.Activity(hexN(7)); !ok || a.CompletionStatus == nil || *a.CompletionStatus != simtenant.CompletionFailure {
		t.Errorf("Activity does not show what happened: %+v", a)
	}
	h.clock.Advance(5 * time.Second)
	if r := h.get("/v3/account-activities/"+hexN(7), nil); r.status != 200 {
		t.Errorf("after the maximum delay: get %d", r.status)
	}
	if page, _ := h.list(nil); len(page) != 41 || h.tenant.LagPending() != 0 {
		t.Errorf("after the maximum delay: %d listed, %d pending", len(page), h.tenant.LagPending())
	}

	h.tenant.SetLag(0, 0)
	h.tenant.Upsert(scripted(hexN(8), "Certification", h.clock.Now(), simtenant.ExecExecuting))
	if r := h.get("/v3/account-activities/"+hexN(8), nil); r.status != 200 || h.tenant.LagPending() != 0 {
		t.Errorf("with lag off: get %d, %d pending", r.status, h.tenant.LagPending())
	}
}

func TestBulkRefresh(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 2})
	h.tenant.SeedHistory(100, time.Hour)
	mark := h.truth.Mark()
	got := h.tenant.BulkRefresh(400)
	if len(got) != 400 || stored(h.tenant) != 500 {
		t.Fatalf("%d ids, %d stored", len(got), stored(h.tenant))
	}
	first, _ := h.tenant.Activity(got[0])
	distinct := map[string]bool{}
	for _, id := range got {
		a, ok := h.tenant.Activity(id)
		if !ok || distinct[id] {
			t.Fatalf("id %s missing or repeated", id)
		}
		distinct[id] = true
		if !a.Created.Equal(first.Created) || !a.Modified.Equal(*first.Modified) {
			t.Fatalf("instants differ: %v/%v vs %v/%v", a.Created, a.Modified, first.Created, first.Modified)
		}
		if a.Type == nil || *a.Type != "Identity Refresh" || !a.IsTerminal() {
			t.Fatalf("bulk activity %+v", a)
		}
	}
	if !first.Created.Before(*first.Modified) {
		t.Errorf("created %v not before modified %v", first.Created, first.Modified)
	}
	stamp := first.Modified.Format(msLayout)
	page, r := h.list(q("filters", "modified ge "+stamp+" and modified le "+stamp, "count", "true", "limit", "250"))
	if len(page) != 250 || r.header.Get("X-Total-Count") != "400" {
		t.Errorf("modified at %s: %d items, total %q", stamp, len(page), r.header.Get("X-Total-Count"))
	}
	tr := h.truth.TruthSince(mark)
	n := 0
	for k, v := range tr.Completed {
		if k[0] != "Identity Refresh" {
			t.Errorf("truth has %v", k)
		}
		n += v
	}
	if n != 400 {
		t.Errorf("truth counted %d bulk completions", n)
	}
}
