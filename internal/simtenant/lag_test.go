package simtenant

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
)

// TestLagNewestVisibleWins gives ten activities two lagged versions each and
// walks the clock through their visibility times: get and filtered lists
// must always show the newest version whose time has passed, whatever the
// order in which the versions come due.
func TestLagNewestVisibleWins(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 5})
	const n = 10
	v1 := at(0)
	for i := 1; i <= n; i++ {
		a := scripted(hexN(i), "appRequest", at(time.Duration(i)*time.Second), ExecExecuting)
		a.Modified = Ptr(v1)
		h.tenant.Upsert(a) // lag is off: visible at once
	}
	h.tenant.SetLag(1, 10*time.Second)
	// Ground truth for the expectation: when each version comes due, read
	// as the version is stored.
	due := map[string][2]time.Time{}
	lastDue := func(id string) time.Time {
		h.tenant.mu.Lock()
		defer h.tenant.mu.Unlock()
		l := h.tenant.byID[id].lagged
		return l[len(l)-1].visible
	}
	v2 := h.clock.Now().Truncate(time.Millisecond)
	for i := 1; i <= n; i++ {
		h.tenant.Modify(hexN(i), func(a *Activity) { a.ExecutionStatus = ExecVerifying })
		due[hexN(i)] = [2]time.Time{lastDue(hexN(i))}
	}
	h.clock.Advance(time.Second)
	v3 := v2.Add(time.Second)
	for i := 1; i <= n; i++ {
		h.tenant.Modify(hexN(i), func(a *Activity) { a.ExecutionStatus = ExecCompleted })
		d := due[hexN(i)]
		d[1] = lastDue(hexN(i))
		due[hexN(i)] = d
	}
	if got := h.tenant.LagPending(); got != n {
		t.Fatalf("LagPending %d, want %d: every third version is still due", got, n)
	}
	overtaken := 0 // activities whose third version came due before the second
	for _, d := range due {
		if d[1].Before(d[0]) {
			overtaken++
		}
	}
	if overtaken == 0 {
		t.Fatalf("no version overtook an older one; pick another seed")
	}
	if a, _ := h.tenant.Activity(hexN(1)); a.ExecutionStatus != ExecCompleted {
		t.Errorf("Activity shows %s, want the real newest version", a.ExecutionStatus)
	}

	for step := 0; step < 120; step++ {
		now := h.clock.Now()
		want := map[string]time.Time{}
		for id, d := range due {
			switch {
			case !now.Before(d[1]):
				want[id] = v3
			case !now.Before(d[0]):
				want[id] = v2
			default:
				want[id] = v1
			}
		}
		id := hexN(1 + step%n)
		var got view
		if r := h.get("/v3/account-activities/"+id, nil); r.status != 200 || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		if !got.Modified.Equal(want[id]) {
			t.Fatalf("at %v get %s shows modified %v, want %v", now, id, got.Modified, want[id])
		}
		// Filters see the visible version.
		page, _ := h.list(q("filters", "modified ge "+v2.Format(msLayout), "sorters", "modified"))
		var wantIDs []string
		for id, m := range want {
			if !m.Before(v2) {
				wantIDs = append(wantIDs, id)
			}
		}
		slices.SortFunc(wantIDs, func(a, b string) int { return want[a].Compare(want[b])*2 + cmpStr(a, b) })
		if g := ids(page); !slices.Equal(g, wantIDs) {
			t.Fatalf("at %v modified ge v2 lists %v, want %v", now, g, wantIDs)
		}
		h.clock.Advance(100 * time.Millisecond)
	}
	if got := h.tenant.LagPending(); got != 0 {
		t.Errorf("LagPending %d after every version came due", got)
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestLagWithSimulation runs the simulator with half of all versions
// lagged: while it runs the API trails reality, and once the clock passes
// the last delay the API shows exactly the real newest versions. The data
// itself must be what the seed gives without lag.
func TestLagWithSimulation(t *testing.T) {
	race.SkipVolume(t)
	h := newHarness(t, Config{RateLimit: -1, Seed: 12})
	plain, _ := runSim(12, EdgeCases{}, 0) // the same seed, never lagged
	h.tenant.SeedHistory(2000, 72*time.Hour)
	h.tenant.SetLag(0.5, 30*time.Second)
	plainClock := newFakeClock()
	plain.cfg.Now = plainClock.Now
	trailed := false
	for i := 0; i < 100; i++ {
		h.clock.Advance(3 * time.Second)
		plainClock.Advance(3 * time.Second)
		h.tenant.Step()
		plain.Step()
		if i%10 == 0 {
			h.tenant.BulkRefresh(20)
			plain.BulkRefresh(20)
		}
		if h.tenant.LagPending() > 0 {
			trailed = true
		}
	}
	if !trailed {
		t.Fatal("nothing lagged")
	}
	real, _ := json.Marshal(snapshot(h.tenant))
	unlagged, _ := json.Marshal(snapshot(plain))
	if !bytes.Equal(real, unlagged) {
		t.Error("lag changed the data the seed produces")
	}

	h.clock.Advance(30 * time.Second)
	if n := h.tenant.LagPending(); n != 0 {
		t.Fatalf("%d still pending after the maximum delay", n)
	}
	want := map[string]time.Time{}
	for _, a := range snapshot(h.tenant) {
		want[a.ID] = *a.Modified
	}
	got := map[string]time.Time{}
	for off := 0; ; off += 250 {
		page, _ := h.list(q("offset", itoa(off)))
		for _, a := range page {
			got[a.ID] = *a.Modified
		}
		if len(page) < 250 {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("API shows %d activities, %d exist", len(got), len(want))
	}
	for id, m := range want {
		if !got[id].Equal(m) {
			t.Fatalf("%s: API shows modified %v, newest is %v", id, got[id], m)
		}
	}
}
