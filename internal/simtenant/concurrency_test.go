package simtenant

import (
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse drives the simulator, the scripting API and HTTP
// clients at once; run with -race it checks the locking and the promise
// that stored snapshots are never mutated.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 8})
	h.tenant.SeedHistory(500, 6*time.Hour)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 150; i++ {
			h.clock.Advance(time.Second)
			h.tenant.Step()
			if i%10 == 0 {
				h.tenant.BulkRefresh(30)
			}
			h.tenant.Upsert(scripted(hexN(i%7+1), "appRequest", at(time.Duration(i)*time.Millisecond), ExecExecuting))
			h.tenant.Modify(hexN(i%7+1), func(a *Activity) { a.ExecutionStatus = ExecCompleted })
			_ = h.tenant.TruthSince(Mark{})
			_ = h.tenant.Current(at(0))
			_ = h.tenant.Requests()
			_, _ = h.tenant.Activity(hexN(1))
		}
	}()
	queries := [][]string{
		{"sorters", "-modified", "limit", "50"},
		{"filters", `type eq "Identity Refresh" or modified lt 2026-11-22T10:16:00Z`, "count", "true", "limit", "50"},
		{"offset", "100", "limit", "20", "sorters", "type,created"},
	}
	for c := 0; c < 3; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				page, _ := h.list(q(queries[(c+i)%len(queries)]...))
				if len(page) > 0 {
					if r := h.get("/beta/account-activities/"+page[0].ID, nil); r.status != 200 {
						t.Errorf("get: %d", r.status)
					}
				}
			}
		}()
	}
	h.tenant.OnList(func(n int) {
		if n%5 == 0 {
			h.tenant.Step()
		}
	})
	wg.Wait()
}
