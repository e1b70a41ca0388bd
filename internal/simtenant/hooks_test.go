package simtenant

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInterceptorContract checks what the tenant promises an Interceptor:
// one per tenant, asked for a fault with the queue of each endpoint, before
// lists with a count per collection, and for replacements of what it serves.
func TestInterceptorContract(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 3})
	h.client = freshClient()
	h.tenant.SeedHistory(10, time.Hour)
	h.tenant.SeedTaskHistory(time.Hour)
	if got := h.tenant.Interceptor(nil); got != Interceptor(h.hooks) {
		t.Fatalf("Interceptor(nil) = %v", got)
	}
	if got := h.tenant.Interceptor(func() Interceptor { return newStubHooks() }); got != Interceptor(h.hooks) {
		t.Errorf("a second Interceptor replaced the first")
	}
	if New(Config{}).Interceptor(nil) != nil {
		t.Errorf("a new tenant has an interceptor")
	}

	first, _ := h.list(q("limit", "1"))
	task, _ := h.tenant.Task(h.tenant.taskOrder[0].id)
	queues := map[string]string{
		"/oauth/token": QueueToken,
		"/beta/account-activities/" + first[0].ID: QueueActivities,
		"/account-activities/v1":                  QueueActivities,
		"/v2024/sources":                          QueueSources,
		"/managed-clusters/v1":                    QueueClusters,
		"/v2025/task-status/" + task.ID:           QueueTasks,
	}
	for path, queue := range queues {
		for _, f := range []Fault{failure(502), {Kind: FaultRateLimit, Delay: 2 * time.Second}, {Kind: FaultReset}} {
			if queue == QueueToken && f.Kind != FaultFail {
				continue
			}
			h.hooks.inject(queue, f)
			var r response
			if queue == QueueToken {
				r = h.doToken()
			} else {
				r = h.get(path, nil)
			}
			switch f.Kind {
			case FaultFail:
				decodeError(t, r, 502, "502 Bad Gateway")
			case FaultRateLimit:
				if r.status != 429 || r.header.Get("Retry-After") != "2" {
					t.Errorf("%s: %d Retry-After %q", path, r.status, r.header.Get("Retry-After"))
				}
			case FaultReset:
				if r.err == nil {
					t.Errorf("%s: reset answered %d", path, r.status)
				}
			}
			// A reset reaches the client before the server logs it.
			e := lastRequest(h)
			for deadline := time.Now().Add(5 * time.Second); e.Fault == "" && time.Now().Before(deadline); e = lastRequest(h) {
				time.Sleep(time.Millisecond)
			}
			if e.Fault != f.Kind || e.Path != path {
				t.Errorf("%s logged %+v", path, e)
			}
		}
	}
	// Slow, truncated and malformed answers of the other collections.
	h.hooks.inject(QueueTasks, Fault{Kind: FaultMalform})
	if r := h.get("/task-status/v1", nil); r.status != 200 || json.Valid(r.body) {
		t.Errorf("malformed: %d %.40s", r.status, r.body)
	}
	h.hooks.inject(QueueSources, Fault{Kind: FaultTruncate})
	if r := h.get("/sources/v1", nil); r.err == nil {
		t.Errorf("truncated body read whole")
	}
	h.hooks.inject(QueueClusters, Fault{Kind: FaultSlow, Delay: 20 * time.Millisecond})
	if r := h.get("/v3/managed-clusters", nil); r.status != 200 {
		t.Errorf("slow: %d", r.status)
	}

	// BeforeList: a count per collection, of the lists that passed.
	var calls []string
	h.hooks.onList(func(c string, n int) { calls = append(calls, c+"#"+itoa(n)) })
	h.get("/v3/account-activities", q("limit", "x"))
	h.get("/v3/account-activities/"+first[0].ID, nil)
	h.get("/task-status/v1", q("sorters", "id"))
	h.get("/v2025/task-status", nil)
	h.get("/v3/sources", nil)
	h.get("/beta/account-activities", nil)
	h.get("/task-status/v1", nil)
	h.hooks.onList(nil)
	// activities#1 was h.list above and tasks#1 the malformed answer, which
	// read the data; faults that do not are not lists.
	if want := []string{"tasks#2", "activities#2", "tasks#3"}; !slices.Equal(calls, want) {
		t.Errorf("BeforeList calls %v, want %v", calls, want)
	}

	// Replace: in pages and get answers, per collection.
	h.hooks.replace(CollectionActivities, first[0].ID, `{"replaced":1}`)
	h.hooks.replace(CollectionTasks, task.ID, `{"replaced":2}`)
	for path, want := range map[string]string{
		"/v3/account-activities?limit=1":          `[{"replaced":1}]`,
		"/beta/account-activities/" + first[0].ID: `{"replaced":1}`,
		"/task-status/v1?limit=1":                 `[{"replaced":2}]`,
		"/v2025/task-status/" + task.ID:           `{"replaced":2}`,
	} {
		if r := h.get(path, nil); string(r.body) != want {
			t.Errorf("%s: %.60s", path, r.body)
		}
	}
	if raw, _ := h.tenant.RawJSON(first[0].ID); strings.Contains(raw, "replaced") {
		t.Errorf("RawJSON serves the replacement")
	}
}

// TestObserverContract: the observer hears of every activity and task that
// becomes terminal, once, at once (whatever lag hides), including what
// SeedHistory and SeedTaskHistory write.
func TestObserverContract(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 4, TaskSources: 2, TokenTTL: 24 * time.Hour})
	h.tenant.SeedHistory(200, 6*time.Hour)
	h.tenant.SeedTaskHistory(6 * time.Hour)
	for range 30 {
		h.clock.Advance(time.Minute)
		h.tenant.Step()
	}
	h.tenant.SetLag(1, time.Hour)
	done := scripted(hexN(1), "Certification", h.clock.Now(), ExecCompleted)
	h.tenant.Upsert(done)
	h.tenant.Modify(hexN(1), func(a *Activity) { a.ExecutionStatus = ExecTerminated })
	h.tenant.UpsertTask(Task{ID: hexN(2), Created: h.clock.Now(), CompletionStatus: Ptr(TaskError)})
	h.tenant.ModifyTask(hexN(2), func(k *Task) { k.CompletionStatus = Ptr(TaskSuccess) })

	want := map[string]int{}
	h.tenant.EachActivity(func(a *Activity) {
		if a.IsTerminal() {
			want[CollectionActivities+"/"+a.ID]++
		}
	})
	h.tenant.EachTask(func(k *Task) {
		if k.IsTerminal() {
			want[CollectionTasks+"/"+k.ID]++
		}
	})
	got := map[string]int{}
	for _, s := range h.hooks.seen() {
		got[s]++
	}
	if len(got) != len(want) || len(got) < 200 {
		t.Errorf("observed %d, %d terminal", len(got), len(want))
	}
	for k, n := range got {
		if n != 1 || want[k] != 1 {
			t.Errorf("%s observed %d times, terminal %d", k, n, want[k])
		}
	}
	if h.tenant.LagPending() == 0 || got[CollectionActivities+"/"+hexN(1)] != 1 {
		t.Errorf("the lagged activity was not observed at once")
	}
	if h.tenant.Observer() != Observer(h.hooks) {
		t.Errorf("Observer() is not Config.Observer")
	}
	if now := h.tenant.Now(); !now.Equal(h.clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("Now %v", now)
	}
	// EachTask is what the API shows: the last 90 days.
	h.tenant.UpsertTask(Task{ID: hexN(3), Created: h.clock.Now().Add(-91 * 24 * time.Hour)})
	h.tenant.EachTask(func(k *Task) {
		if k.ID == hexN(3) {
			t.Errorf("EachTask visits a task older than 90 days")
		}
	})
	if r := h.get("/task-status/v1/"+hexN(3), nil); r.status != http.StatusNotFound {
		t.Errorf("old task: %d", r.status)
	}
}
