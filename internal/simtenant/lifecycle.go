package simtenant

import (
	"context"
	"slices"
	"time"
)

// simState is the plan the simulator follows for one activity. Deciding the
// outcome at creation keeps the story coherent (a FAILURE really has a
// failed item) and makes the final state depend only on the seed.
type simState struct {
	paths       [][]string // per item, the provisioning states it passes through
	pos         []int
	reject      []bool // appRequest items whose approval is refused
	approval    bool   // the next advance decides approvals
	verify      bool   // pass through VERIFYING before COMPLETED
	terminateAt int    // advance count at which it is TERMINATED; 0 never
	advances    int
	outcome     outcome
}

// create builds an activity at the given instant and stores it.
func (t *Tenant) create(at time.Time) *record {
	a, sim := t.build(at, "", true)
	rec := t.put(a)
	rec.sim = sim
	return rec
}

// advance moves an activity one step along its plan, stamping modified
// with at. It returns false when there is nothing left to do.
func (t *Tenant) advance(rec *record, at time.Time) bool {
	sim := rec.sim
	if sim == nil || rec.a.IsTerminal() {
		return false
	}
	a := rec.a.Clone()
	if len(a.Items) != len(sim.paths) {
		// A test rewrote the items; the plan no longer applies.
		rec.sim = nil
		return false
	}
	sim.advances++
	switch {
	case sim.terminateAt > 0 && sim.advances >= sim.terminateAt:
		t.terminate(&a, at)
	case sim.approval:
		sim.approval = false
		t.decideApprovals(&a, sim, at)
	default:
		moved := false
		for i := range a.Items {
			if sim.pos[i] < len(sim.paths[i])-1 {
				sim.pos[i]++
				a.Items[i].ProvisioningStatus = sim.paths[i][sim.pos[i]]
				moved = true
			}
		}
		if !moved {
			if sim.verify && a.ExecutionStatus != ExecVerifying {
				a.ExecutionStatus = ExecVerifying
			} else {
				t.complete(&a, at)
			}
		}
	}
	a.Modified = Ptr(at)
	t.put(&a)
	return true
}

func (t *Tenant) decideApprovals(a *Activity, sim *simState, at time.Time) {
	for i := range a.Items {
		it := &a.Items[i]
		reviewer := pick(t.rng, t.people)
		it.ReviewerIdentitySummary = t.summary(reviewer)
		it.ReviewerIdentitySummary.Completed = true
		status, body := "FINISHED", commentBodies[5]
		if sim.reject[i] {
			status, body = "REJECTED", commentBodies[6+t.rng.IntN(2)]
			if t.chance(0.2) {
				status = "EXPIRED"
			}
		}
		it.ApprovalStatus = Ptr(status)
		if status != "EXPIRED" && t.chance(0.7) {
			it.ReviewerComment = &Comment{CommenterID: reviewer.id, CommenterName: reviewer.name(), Body: body, Date: at}
		}
	}
}

// complete finishes an activity, deriving completionStatus from the items
// rather than from the plan, so the status always matches what the items say.
func (t *Tenant) complete(a *Activity, at time.Time) {
	status := CompletionSuccess
	var errs []string
	for i := range a.Items {
		it := &a.Items[i]
		switch it.ProvisioningStatus {
		case ProvFinished, ProvUnverifiable:
		case ProvFailed:
			status = CompletionFailure
			errs = append(errs, t.connectorError(it))
		default:
			if status != CompletionFailure {
				status = CompletionIncomplete
			}
		}
	}
	a.ExecutionStatus = ExecCompleted
	a.CompletionStatus = Ptr(status)
	if t.chance(t.edge.NullCompletionStatus) {
		a.CompletionStatus = nil
	}
	a.Completed = Ptr(at)
	a.Cancelable = false
	if len(errs) > 0 {
		a.Errors = append(a.Errors, errs...)
	}
	if t.chance(0.06) {
		a.Warnings = append(a.Warnings, pick(t.rng, warningTexts))
	}
	if a.TargetIdentitySummary != nil {
		a.TargetIdentitySummary.Completed = true
	}
}

// terminate ends an activity abruptly. Half of them get no completed
// timestamp, which is what forces consumers to fall back to modified.
func (t *Tenant) terminate(a *Activity, at time.Time) {
	a.ExecutionStatus = ExecTerminated
	a.Cancelable = false
	switch r := t.rng.IntN(100); {
	case t.chance(t.edge.UnknownEnums):
		a.CompletionStatus = Ptr("CANCELLED") // not in the spec's enum yet
	case r < 45:
		a.CompletionStatus = Ptr(CompletionFailure)
	case r < 70:
		a.CompletionStatus = Ptr(CompletionIncomplete)
	}
	if t.chance(0.5) {
		a.Completed = Ptr(at)
	}
	if t.chance(0.4) {
		a.Warnings = append(a.Warnings, "Activity terminated after exceeding the maximum execution time; pending items were not provisioned.")
	}
	if t.chance(0.5) {
		a.Errors = append(a.Errors, "sailpoint.tools.GeneralException: Provisioning was terminated before all account requests completed.")
	}
}

// lateEdit changes a terminal activity the way reviewers do after the fact:
// a comment, nothing an exporter counts. It tests that consumers do not
// count an activity twice just because modified moved.
func (t *Tenant) lateEdit(rec *record, at time.Time) {
	a := rec.a.Clone()
	who := pick(t.rng, t.people)
	if len(a.Items) > 0 {
		it := &a.Items[t.rng.IntN(len(a.Items))]
		it.ReviewerComment = &Comment{CommenterID: who.id, CommenterName: who.name(), Body: "Post-completion review: " + pick(t.rng, commentBodies), Date: at}
	} else {
		a.ClientMetadata = cloneMap(a.ClientMetadata)
		if a.ClientMetadata == nil {
			a.ClientMetadata = map[string]string{}
		}
		a.ClientMetadata["reviewedBy"] = who.name()
	}
	a.Modified = Ptr(at)
	t.put(&a)
}

// stepInterval is how long the next advance of an activity takes when
// SeedHistory replays a life in fast-forward. Approvals wait on people and
// retries on back-off, so they are much slower than plain provisioning.
func (t *Tenant) stepInterval(rec *record) time.Duration {
	mean := 8 * time.Second
	switch {
	case rec.sim.approval:
		mean = 40 * time.Minute
	case rec.a.ExecutionStatus == ExecVerifying:
		mean = 45 * time.Second
	default:
		for i, p := range rec.sim.paths {
			if rec.sim.pos[i] < len(p)-1 && p[rec.sim.pos[i]+1] == ProvRetry {
				mean = 5 * time.Minute
			}
		}
	}
	return max(time.Millisecond, time.Duration(t.rng.ExpFloat64()*float64(mean)).Truncate(time.Millisecond))
}

// SeedHistory creates n activities spread over the span before now and
// replays each life in fast-forward, so most are terminal and the recent
// ones are still running, the way an exporter's first poll finds a tenant.
func (t *Tenant) SeedHistory(n int, span time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.replaying = true
	defer func() { t.replaying = false }()
	now := t.now()
	starts := make([]time.Time, n)
	for i := range starts {
		off := time.Duration(t.rng.Int64N(int64(max(span, time.Millisecond))))
		starts[i] = now.Add(-off).Truncate(time.Millisecond)
	}
	slices.SortFunc(starts, func(x, y time.Time) int { return x.Compare(y) })
	for _, at := range starts {
		rec := t.create(at)
		for !rec.a.IsTerminal() {
			at = at.Add(t.stepInterval(rec))
			if at.After(now) || !t.advance(rec, at) {
				break
			}
		}
		if !rec.a.IsTerminal() {
			t.active = append(t.active, rec)
			continue
		}
		if t.chance(0.03) {
			late := rec.a.CompletionTime().Add(time.Duration(t.rng.Int64N(int64(time.Hour)))).Truncate(time.Millisecond)
			if !late.After(now) {
				t.lateEdit(rec, late)
			}
		}
	}
	t.evict()
}

// Step is one tick of the tenant: sources and clusters follow the health
// schedule (see healthState; a source in an outage fails more of the items
// that start on it, and more of its aggregations), aggregations due by now
// start, launch and finish (tasklife.go), running activities advance, a few
// new ones start, and now and then a finished one gets a late edit.
func (t *Tenant) Step() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.health.step(now)
	t.initTasks(now, now)
	t.runTasks(now)
	running := t.active[:0]
	for _, rec := range t.active {
		if rec.sim == nil || rec.a.IsTerminal() || t.byID[rec.a.ID] != rec {
			continue
		}
		if t.chance(0.6) {
			t.advance(rec, now)
		}
		if rec.sim != nil && !rec.a.IsTerminal() {
			running = append(running, rec)
		}
	}
	clear(t.active[len(running):])
	t.active = running
	for range t.rng.IntN(5) {
		t.active = append(t.active, t.create(now))
	}
	if len(t.recent) > 0 && t.chance(0.25) {
		rec := t.byID[pick(t.rng, t.recent)]
		// An activity without completed ends, for any client, at its
		// modified: editing it would move its completion, so the truth log
		// could not be matched by anyone. Those are left alone.
		if rec != nil && rec.sim != nil && rec.a.IsTerminal() && rec.a.Completed != nil {
			t.lateEdit(rec, now)
		}
	}
	t.evict()
}

// BulkRefresh mimics ISC's bulk identity refresh: n finished "Identity
// Refresh" activities sharing one created and one modified instant. Such
// ties (often more than a page) are what break naive modified-cursor paging.
func (t *Tenant) BulkRefresh(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	created := now.Add(-time.Duration(1000+t.rng.IntN(4000)) * time.Millisecond)
	ids := make([]string, 0, n)
	for range n {
		a, sim := t.build(created, "Identity Refresh", false)
		fail := t.chance(0.03)
		for i := range a.Items {
			p := sim.paths[i]
			if fail && i == 0 {
				p = []string{ProvPending, ProvFailed}
			}
			a.Items[i].ProvisioningStatus = p[len(p)-1]
			if a.Items[i].ProvisioningStatus == ProvPending {
				a.Items[i].ProvisioningStatus = ProvFinished
			}
		}
		t.complete(a, now)
		a.Modified = Ptr(now)
		t.put(a)
		ids = append(ids, a.ID)
	}
	t.evict()
	return ids
}

// RunDemo calls Step every interval until ctx is done. It blocks; --demo
// runs it in a goroutine next to the HTTP server. With a one-second
// interval a source goes unhealthy 20-40 s into the run for 90-240 s, and a
// cluster passes through WARNING a few minutes in (see the health schedule
// in health.go). First it puts aggregations on the demo pace: every source
// aggregates about every minute and a run takes seconds, the first ones
// starting a few seconds in, with a past hour of them written at once if
// the tenant had none.
func (t *Tenant) RunDemo(ctx context.Context, every time.Duration) {
	t.mu.Lock()
	t.demoTasks()
	t.mu.Unlock()
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			t.Step()
		}
	}
}
