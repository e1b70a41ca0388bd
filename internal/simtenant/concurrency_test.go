package simtenant

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse drives the simulator, the scripting API, lag and HTTP
// clients at once; run with -race it checks the locking and the promise
// that stored versions are never mutated.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 8, TokenTTL: time.Hour})
	h.tenant.SeedHistory(500, 6*time.Hour)
	h.tenant.SeedTaskHistory(6 * time.Hour)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 150; i++ {
			h.clock.Advance(time.Second)
			h.tenant.Step()
			if i%10 == 0 {
				h.tenant.BulkRefresh(30)
				h.tenant.SetLag(float64(i%20)/20, 3*time.Second)
			}
			h.tenant.Upsert(scripted(hexN(i%7+1), "appRequest", at(time.Duration(i)*time.Millisecond), ExecExecuting))
			h.tenant.Modify(hexN(i%7+1), func(a *Activity) { a.ExecutionStatus = ExecCompleted })
			h.hooks.replace(CollectionActivities, hexN(i%7+1), `{"id":"corrupt"}`)
			h.tenant.UpsertTask(Task{ID: hexN(i%5 + 100), DefinitionType: TaskAccountAggregation, Created: h.clock.Now()})
			h.tenant.ModifyTask(hexN(i%5+100), func(k *Task) { k.CompletionStatus = Ptr(TaskSuccess) })
			h.hooks.replace(CollectionTasks, hexN(i%5+100), `{"id":"corrupt"}`)
			h.tenant.EachTask(func(*Task) {})
			_, _ = h.tenant.RawTaskJSON(hexN(100))
			_ = h.hooks.seen()
			h.tenant.EachActivity(func(*Activity) {})
			_ = h.tenant.Requests()
			_ = h.tenant.LagPending()
			_ = h.tenant.Sources()
			_ = h.tenant.Clusters()
			_, _ = h.tenant.RawJSON(hexN(1))
			_, _ = h.tenant.Activity(hexN(1))
		}
	})
	queries := [][]string{
		{"sorters", "-modified", "limit", "50"},
		{"filters", `type eq "Identity Refresh" or modified lt 2026-11-22T10:16:00Z`, "count", "true", "limit", "50"},
		{"offset", "100", "limit", "20", "sorters", "type,created"},
	}
	for c := 0; c < 3; c++ {
		wg.Go(func() {
			for i := 0; i < 30; i++ {
				r := h.get("/v3/account-activities", q(queries[(c+i)%len(queries)]...))
				var page []view
				if r.status != 200 || json.Unmarshal(r.body, &page) != nil {
					t.Errorf("list: %d %.100s", r.status, r.body)
					return
				}
				// Once visible, a record stays visible.
				if len(page) > 0 && page[0].ID != "corrupt" {
					if r := h.get("/beta/account-activities/"+page[0].ID, nil); r.status != 200 {
						t.Errorf("get: %d", r.status)
					}
				}
				for _, p := range []string{"/v3/sources", "/v3/managed-clusters", "/task-status/v1?sorters=-created&limit=50", "/beta/task-status"} {
					if r := h.get(p, nil); r.status != 200 {
						t.Errorf("%s: %d", p, r.status)
					}
				}
			}
		})
	}
	h.hooks.onList(func(collection string, n int) {
		if collection == CollectionActivities && n%5 == 0 || collection == CollectionTasks && n%7 == 0 {
			h.tenant.Step()
		}
	})
	wg.Wait()
}
