package simtenant

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The properties of the spec's TaskStatus, in its order, and the values of
// its enums.
var (
	taskKeys = []string{"id", "type", "uniqueName", "description", "parentName", "launcher", "target", "created", "modified",
		"launched", "completed", "completionStatus", "messages", "returns", "attributes", "progress", "percentComplete",
		"taskDefinitionSummary"}
	taskRequired = []string{"id", "type", "uniqueName", "description", "parentName", "attributes", "created", "modified",
		"launched", "launcher", "completed", "completionStatus", "messages", "progress", "percentComplete", "returns"}
	schedulerKinds     = []string{"QUARTZ", "QPOC", "QUEUED_TASK"}
	taskStatuses       = []string{"SUCCESS", "WARNING", "ERROR", "TERMINATED", "TEMPERROR"}
	taskMessageTypes   = []string{"INFO", "WARN", "ERROR"}
	taskDefinitionKeys = []string{"arguments", "description", "executor", "id", "uniqueName", "parentName"}
)

// taskView is what tests read back of a task from the wire.
type taskView struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	UniqueName string `json:"uniqueName"`
	Launcher   string `json:"launcher"`
	Target     *struct {
		ID   string  `json:"id"`
		Type *string `json:"type"`
		Name string  `json:"name"`
	} `json:"target"`
	Created          time.Time  `json:"created"`
	Modified         *time.Time `json:"modified"`
	Launched         *time.Time `json:"launched"`
	Completed        *time.Time `json:"completed"`
	CompletionStatus *string    `json:"completionStatus"`
	Messages         []struct {
		Type          string `json:"type"`
		LocalizedText struct {
			Locale  string `json:"locale"`
			Message string `json:"message"`
		} `json:"localizedText"`
		Key        string `json:"key"`
		Parameters []any  `json:"parameters"`
	} `json:"messages"`
	Attributes      map[string]any `json:"attributes"`
	Progress        *string        `json:"progress"`
	PercentComplete int            `json:"percentComplete"`
}

func (v *taskView) source() string {
	if v.Target == nil {
		return "none"
	}
	return v.Target.ID
}

func (h *harness) taskPage(path string, query ...string) ([]taskView, response) {
	h.t.Helper()
	r := h.get(path, q(query...))
	var out []taskView
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		h.t.Fatalf("%s %v: %d %.300s", path, query, r.status, r.body)
	}
	return out, r
}

func taskIDs(ts []taskView) []string {
	return names(ts, func(v taskView) string { return v.ID })
}

// templateRegexp matches a catalog error with its placeholders filled in.
func templateRegexp(tmpl string) *regexp.Regexp {
	re := regexp.QuoteMeta(tmpl)
	for _, p := range []string{"{account}", "{client}", "{line}"} {
		re = strings.ReplaceAll(re, regexp.QuoteMeta(p), ".+")
	}
	return regexp.MustCompile("^" + re + "$")
}

func TestTaskStatusFollowsSpec(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 5, TokenTTL: time.Hour})
	h.tenant.SeedTaskHistory(72 * time.Hour)
	now := h.clock.Now()
	r := h.get("/task-status/v1", q("limit", "250", "count", "true"))
	total, _ := strconv.Atoi(r.header.Get("X-Total-Count"))
	if r.status != 200 || total < 7*2*72 {
		t.Fatalf("%d, X-Total-Count %q", r.status, r.header.Get("X-Total-Count"))
	}
	sources := map[string]source{}
	for _, s := range h.tenant.sources {
		sources[s.id] = s
	}
	var raw []json.RawMessage
	for off := 0; off < total; off += 250 {
		var page []json.RawMessage
		r := h.get("/task-status/v1", q("limit", "250", "offset", strconv.Itoa(off)))
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		raw = append(raw, page...)
	}
	if len(raw) != total {
		t.Fatalf("paged %d of %d", len(raw), total)
	}
	statuses := map[string]int{}
	seen := map[string]bool{}
	var views []taskView
	var stuck int
	for _, b := range raw {
		if keys := keysInOrder(t, b); !slices.Equal(keys, taskKeys) {
			t.Fatalf("keys %v\nwant %v", keys, taskKeys)
		}
		var m map[string]json.RawMessage
		var v taskView
		if json.Unmarshal(b, &m) != nil || json.Unmarshal(b, &v) != nil {
			t.Fatalf("%s", b)
		}
		for _, k := range taskRequired {
			if _, ok := m[k]; !ok {
				t.Fatalf("required %s missing: %s", k, b)
			}
		}
		if !hex32.MatchString(v.ID) || seen[v.ID] || !slices.Contains(schedulerKinds, v.Type) {
			t.Errorf("id %q type %q", v.ID, v.Type)
		}
		seen[v.ID] = true
		if v.Launcher != "sweep" && !hex32.MatchString(v.Launcher) {
			t.Errorf("launcher %q", v.Launcher)
		}
		for _, k := range []string{"created", "modified", "launched", "completed"} {
			var s *string
			if json.Unmarshal(m[k], &s) != nil || (k == "created" && s == nil) || (s != nil && !msStamp.MatchString(*s)) {
				t.Errorf("%s %s", k, m[k])
			}
		}
		src, ok := sources[v.source()]
		if !ok || v.Target.Type == nil || *v.Target.Type != "APPLICATION" || v.Target.Name != src.name+" [source]" ||
			v.Attributes["sourceId"] != v.Target.ID || v.Attributes["appId"] == nil {
			t.Errorf("target %+v attributes %v", v.Target, v.Attributes)
		}
		if string(m["parentName"]) != "null" || (v.UniqueName != "Cloud Account Aggregation" && v.UniqueName != "Cloud Group Aggregation") {
			t.Errorf("parentName %s uniqueName %q", m["parentName"], v.UniqueName)
		}
		var def map[string]json.RawMessage
		_ = json.Unmarshal(m["taskDefinitionSummary"], &def)
		for _, k := range taskDefinitionKeys {
			if _, ok := def[k]; !ok {
				t.Errorf("taskDefinitionSummary lacks %s", k)
			}
		}
		for _, msg := range v.Messages {
			if !slices.Contains(taskMessageTypes, msg.Type) || msg.LocalizedText.Locale != "en-US" || msg.LocalizedText.Message == "" || msg.Key == "" {
				t.Errorf("message %+v", msg)
			}
		}
		switch {
		case v.Launched == nil:
			if v.Modified != nil || v.Completed != nil || v.CompletionStatus != nil || v.Progress != nil {
				t.Errorf("not launched yet: %s", b)
			}
		case v.CompletionStatus == nil:
			if v.Completed != nil || !v.Modified.Equal(*v.Launched) || *v.Progress != "Started" || !v.Launched.After(v.Created) {
				t.Errorf("running: %s", b)
			}
			if now.Sub(v.Created) > 2*time.Hour {
				stuck++
			}
		default:
			if v.Completed == nil || !v.Modified.Equal(*v.Completed) || v.Completed.Before(*v.Launched) || !v.Launched.After(v.Created) {
				t.Errorf("finished: %s", b)
			}
			if !slices.Contains(taskStatuses, *v.CompletionStatus) {
				t.Errorf("completionStatus %q", *v.CompletionStatus)
			}
			statuses[*v.CompletionStatus]++
			checkMessages(t, &v, src)
		}
		views = append(views, v)
	}
	t.Logf("%d tasks, %v, %d stuck", len(views), statuses, stuck)
	if stuck != 1 {
		t.Errorf("%d tasks running for more than two hours, want the one stuck task", stuck)
	}
	if n := len(views); statuses[TaskSuccess] < n*7/10 || statuses[TaskWarning] == 0 || statuses[TaskError] == 0 ||
		statuses[TaskError]+statuses[TaskWarning] > n/3 {
		t.Errorf("outcomes %v of %d", statuses, n)
	}
	// Ascending created, then id, by default; tasks finish out of order.
	outOfOrder := 0
	for i := 1; i < len(views); i++ {
		a, b := views[i-1], views[i]
		if a.Created.After(b.Created) || a.Created.Equal(b.Created) && a.ID > b.ID {
			t.Fatalf("default order broken at %d", i)
		}
		if a.Completed != nil && b.Completed != nil && a.Completed.After(*b.Completed) {
			outOfOrder++
		}
	}
	if outOfOrder == 0 {
		t.Errorf("tasks finish in creation order")
	}
	// By id, and under every family's path, the same objects.
	for i := 0; i < len(raw); i += 97 {
		var v taskView
		_ = json.Unmarshal(raw[i], &v)
		for _, p := range []string{"/task-status/v1/", "/v2025/task-status/", "/beta/task-status/"} {
			if r := h.get(p+v.ID, nil); r.status != 200 || string(r.body) != string(raw[i]) {
				t.Errorf("get %s%s: %d", p, v.ID, r.status)
			}
		}
	}
	decodeError(t, h.get("/task-status/v1/"+hexN(7), nil), 404, "404 Not found")
	for _, p := range []string{"/v2025/task-status", "/beta/task-status"} {
		if r := h.get(p, q("limit", "250")); r.status != 200 || !strings.HasPrefix(string(r.body), "["+string(raw[0])+",") {
			t.Errorf("%s: %d, not the same first element", p, r.status)
		}
	}
}

// checkMessages checks a finished task's messages against its outcome.
func checkMessages(t *testing.T, v *taskView, src source) {
	t.Helper()
	types := map[string]int{}
	for _, m := range v.Messages {
		types[m.Type]++
	}
	switch *v.CompletionStatus {
	case TaskSuccess:
		if types["INFO"] != 1 || len(v.Messages) != 1 || v.PercentComplete != 100 {
			t.Errorf("SUCCESS with %v, %d%%", types, v.PercentComplete)
		}
	case TaskWarning:
		if types["WARN"] != 1 || types["ERROR"] != 0 || v.PercentComplete != 100 {
			t.Errorf("WARNING with %v", types)
		}
	case TaskError:
		if types["ERROR"] != 1 {
			t.Fatalf("ERROR with %v", types)
		}
		msg := v.Messages[0].LocalizedText.Message
		if !slices.ContainsFunc(src.errors, func(e string) bool { return templateRegexp(e).MatchString(msg) }) {
			t.Errorf("ERROR message %q is none of %s's connector errors", msg, src.name)
		}
	default:
		if types["ERROR"] != 1 {
			t.Errorf("%s with %v", *v.CompletionStatus, types)
		}
	}
}

// taskFixture is five scripted tasks, on a tenant without simulated ones,
// chosen so every documented filter has matches and non-matches.
func taskFixture(h *harness) (ids []string, person string) {
	h.t.Helper()
	base := h.clock.Now().Add(-time.Hour).Truncate(time.Millisecond)
	person = hexN(0x9e)
	mk := func(n int, src, def, status, launcher string, created time.Duration) Task {
		k := Task{ID: hexN(n), Type: TaskQuartz, DefinitionType: def, UniqueName: "Cloud Account Aggregation", Description: "d",
			Launcher: launcher, Created: base.Add(created), Attributes: map[string]any{}}
		if src != "" {
			k.Target = &TaskTarget{ID: src, Type: "APPLICATION", Name: src + " [source]"}
			k.Attributes["sourceId"] = src
		}
		if status != "" {
			k.CompletionStatus = Ptr(status)
			k.Completed = Ptr(base.Add(created + time.Minute))
		}
		return k
	}
	a, b := sourcesCatalog[0].id, sourcesCatalog[1].id
	for _, k := range []Task{
		mk(5, "", "", TaskTerminated, "sweep", 3*time.Second),
		mk(1, a, TaskAccountAggregation, TaskSuccess, "sweep", 0),
		mk(3, b, TaskAccountAggregation, "", "sweep", 2*time.Second),
		mk(2, a, TaskGroupAggregation, TaskError, person, time.Second),
		mk(4, b, TaskGroupAggregation, TaskWarning, "sweep", 3*time.Second),
	} {
		h.tenant.UpsertTask(k)
	}
	return hexes(1, 2, 3, 4, 5), person
}

func TestTaskFiltersAndSorters(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, TaskSources: -1})
	ids, person := taskFixture(h)
	id := func(ns ...int) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, ids[n-1])
		}
		return out
	}
	a, b := sourcesCatalog[0].id, sourcesCatalog[1].id
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{``, id(1, 2, 3, 4, 5)},
		{`id eq "` + ids[2] + `"`, id(3)},
		{`id in ("` + ids[0] + `", "` + ids[4] + `", "nope")`, id(1, 5)},
		{`sourceId eq "` + a + `"`, id(1, 2)},
		{`sourceId in ("` + a + `","` + b + `")`, id(1, 2, 3, 4)},
		{`completionStatus eq "ERROR"`, id(2)},
		{`completionStatus eq "error"`, nil}, // verbatim
		{`completionStatus in ("SUCCESS", "WARNING")`, id(1, 4)},
		{`completionStatus isnull`, id(3)},
		{`type eq "CLOUD_ACCOUNT_AGGREGATION"`, id(1, 3)},
		{`type in ("CLOUD_GROUP_AGGREGATION","CLOUD_REFRESH_ROLE")`, id(2, 4)},
		{`type eq "QUARTZ"`, nil}, // the filter's type is the definition's, not the JSON's
		{`launcher eq "sweep"`, id(1, 3, 4, 5)},
		{`launcher in ("` + person + `")`, id(2)},
		{`sourceId eq "` + b + `" and completionStatus isnull`, id(3)},
		{`(type eq "CLOUD_GROUP_AGGREGATION") and completionStatus isnull`, nil},
		{`type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "` + a + `" and launcher eq "sweep"`, id(1)},
	} {
		t.Run(c.filter, func(t *testing.T) {
			got, _ := h.taskPage("/task-status/v1", "filters", c.filter)
			if g := taskIDs(got); !slices.Equal(g, append([]string{}, c.want...)) {
				t.Errorf("got %v, want %v", g, c.want)
			}
			if strings.Contains(c.filter, "launcher") {
				return
			}
			for _, p := range []string{"/v2025/task-status", "/beta/task-status"} {
				if got, _ := h.taskPage(p, "filters", c.filter); !slices.Equal(taskIDs(got), append([]string{}, c.want...)) {
					t.Errorf("%s: %v", p, taskIDs(got))
				}
			}
		})
	}
	for _, c := range []struct {
		sorters string
		want    []string
	}{
		{"created", id(1, 2, 3, 4, 5)},
		{"-created", id(4, 5, 3, 2, 1)}, // 4 and 5 share created: id ascending
	} {
		got, _ := h.taskPage("/task-status/v1", "sorters", c.sorters)
		if !slices.Equal(taskIDs(got), c.want) {
			t.Errorf("sorters %s: %v, want %v", c.sorters, taskIDs(got), c.want)
		}
		page, r := h.taskPage("/task-status/v1", "sorters", c.sorters, "offset", "1", "limit", "2", "count", "true")
		if !slices.Equal(taskIDs(page), c.want[1:3]) || r.header.Get("X-Total-Count") != "5" {
			t.Errorf("sorters %s page: %v, count %q", c.sorters, taskIDs(page), r.header.Get("X-Total-Count"))
		}
	}
	if _, r := h.taskPage("/task-status/v1", "filters", "completionStatus isnull", "count", "true", "limit", "0"); r.header.Get("X-Total-Count") != "1" || string(r.body) != "[]" {
		t.Errorf("count with a filter: %q %s", r.header.Get("X-Total-Count"), r.body)
	}

	for _, c := range []struct {
		path    string
		query   []string
		mention string
	}{
		{"/v2025/task-status", []string{"filters", `launcher eq "sweep"`}, "launcher"},
		{"/beta/task-status", []string{"filters", `launcher in ("sweep")`}, "launcher"},
		{"/task-status/v1", []string{"filters", `id ne "x"`}, "supported operators are eq, in"},
		{"/task-status/v1", []string{"filters", `sourceId sw "2c9"`}, "sw"},
		{"/task-status/v1", []string{"filters", `completionStatus ne "SUCCESS"`}, "isnull"},
		{"/task-status/v1", []string{"filters", `type isnull`}, "type"},
		{"/task-status/v1", []string{"filters", `launcher isnull`}, "launcher"},
		{"/task-status/v1", []string{"filters", `created gt 2026-01-01T00:00:00Z`}, "created"},
		{"/task-status/v1", []string{"filters", `target.id eq "x"`}, "supported fields are completionStatus, id, launcher, sourceId, type"},
		{"/task-status/v1", []string{"filters", `uniqueName eq "x"`}, "uniqueName"},
		{"/task-status/v1", []string{"filters", `id eq "a" or id eq "b"`}, "'or'"},
		{"/task-status/v1", []string{"filters", `not completionStatus isnull`}, "'not'"},
		{"/task-status/v1", []string{"filters", `type eq CLOUD_ACCOUNT_AGGREGATION`}, "double-quoted"},
		{"/task-status/v1", []string{"filters", `type EQ "x"`}, "lowercase"},
		{"/task-status/v1", []string{"sorters", "id"}, "created"},
		{"/task-status/v1", []string{"sorters", "-completed"}, "created"},
		{"/task-status/v1", []string{"sorters", "created,id"}, "id"},
		{"/task-status/v1", []string{"sorters", "launched"}, "launched"},
		{"/task-status/v1", []string{"limit", "251"}, "limit"},
		{"/task-status/v1", []string{"offset", "-1"}, "offset"},
		{"/v2025/task-status", []string{"count", "maybe"}, "count"},
	} {
		t.Run(c.path+"?"+strings.Join(c.query, "="), func(t *testing.T) {
			msg := decodeError(t, h.get(c.path, q(c.query...)), 400, "400.1 Bad Request Content")
			if !strings.Contains(msg, c.mention) {
				t.Errorf("message %q does not mention %q", msg, c.mention)
			}
		})
	}
}

func TestTaskStatusExperimentalOnV2026(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 1})
	h.tenant.SeedTaskHistory(2 * time.Hour)
	first, _ := h.taskPage("/task-status/v1", "limit", "1")
	send := func(p string, header bool) response {
		req := newRequest(t, http.MethodGet, h.base+p, h.token)
		if header {
			req.Header.Set("X-SailPoint-Experimental", "true")
		}
		return h.send(req)
	}
	for _, p := range []string{"/v2026/task-status", "/v2026/task-status/" + first[0].ID} {
		msg := decodeError(t, send(p, false), 400, "400.1 Bad Request Content")
		if !strings.Contains(msg, "X-SailPoint-Experimental") {
			t.Errorf("message %q", msg)
		}
		if r := send(p, true); r.status != 200 {
			t.Errorf("%s with the header: %d", p, r.status)
		}
		if e := lastRequest(h); !e.Experimental || e.Family != FamilyV2026 || !strings.HasPrefix(e.Endpoint, "task-status") {
			t.Errorf("logged %+v", e)
		}
	}
	for _, p := range []string{"/task-status/v1", "/v2025/task-status", "/beta/task-status"} {
		for _, header := range []bool{false, true} {
			if r := send(p, header); r.status != 200 {
				t.Errorf("%s (header %v): %d", p, header, r.status)
			}
		}
		if e := lastRequest(h); e.Endpoint != "task-status" {
			t.Errorf("logged %+v", e)
		}
	}
	if r := send("/task-status/v1/"+first[0].ID, false); r.status != 200 {
		t.Errorf("get: %d", r.status)
	}
	if e := lastRequest(h); e.Endpoint != "task-status-one" || e.Family != FamilyV1 {
		t.Errorf("logged %+v", e)
	}
	// A tenant without per-service paths still serves the yearly ones.
	off := newHarness(t, Config{RateLimit: -1, PerServiceOff: true})
	decodeError(t, off.get("/task-status/v1", nil), 404, "404 Not found")
	if r := off.get("/v2025/task-status", nil); r.status != 200 {
		t.Errorf("/v2025/task-status: %d", r.status)
	}
	on := newHarness(t, Config{RateLimit: -1})
	on.tenant.DisablePath("/task-status/v1", true)
	decodeError(t, on.get("/task-status/v1", nil), 404, "404 Not found")
	if r := on.get("/sources/v1", nil); r.status != 200 {
		t.Errorf("/sources/v1: %d", r.status)
	}
}

// TestTaskSchedule checks the schedule: each source's aggregations at their
// own offset in every period, launched seconds after they are created, a
// long tail of durations, the stuck task, synthetic sources, determinism.
func TestTaskSchedule(t *testing.T) {
	clk := newFakeClock()
	tn := New(Config{Seed: 12, Now: clk.Now, TaskEvery: 20 * time.Minute})
	tn.SeedTaskHistory(24 * time.Hour)
	byRun := map[[2]string][]Task{}
	var durations []float64
	var stuck []Task
	for _, e := range tn.taskOrder {
		k := *e.rec.k
		if !k.IsTerminal() && clk.Now().Sub(k.Created) > time.Hour {
			stuck = append(stuck, k)
			continue
		}
		key := [2]string{k.Target.ID, k.DefinitionType}
		byRun[key] = append(byRun[key], k)
		if k.Launched != nil {
			if d := k.Launched.Sub(k.Created); d < 300*time.Millisecond || d > 10*time.Minute {
				t.Errorf("launched %v after created", d)
			}
		}
		if k.IsTerminal() {
			durations = append(durations, k.CompletionTime().Sub(k.StartTime()).Seconds())
		}
	}
	if len(byRun) != 14 || len(stuck) != 1 {
		t.Fatalf("%d schedules, %d stuck", len(byRun), len(stuck))
	}
	offsets := map[time.Duration]bool{}
	for key, runs := range byRun {
		if len(runs) != 24*3 {
			t.Errorf("%v: %d runs in a day every 20 minutes", key, len(runs))
		}
		off := runs[0].Created.Sub(runs[0].Created.Truncate(20 * time.Minute))
		offsets[off] = true
		for _, k := range runs {
			if k.Created.Sub(k.Created.Truncate(20*time.Minute)) != off {
				t.Errorf("%v: created %v off its offset %v", key, k.Created, off)
			}
		}
	}
	if len(offsets) < 12 {
		t.Errorf("only %d distinct offsets for 14 schedules", len(offsets))
	}
	slices.Sort(durations)
	median, longest := durations[len(durations)/2], durations[len(durations)-1]
	t.Logf("%d finished, median %.0fs, p90 %.0fs, max %.0fs", len(durations), median, durations[len(durations)*9/10], longest)
	if durations[0] < 1 || median > 300 || longest < 600 || longest > 3600 {
		t.Errorf("durations: min %v median %v max %v", durations[0], median, longest)
	}
	// The stuck task stays stuck.
	for range 12 {
		clk.Advance(15 * time.Minute)
		tn.Step()
	}
	if k, _ := tn.Task(stuck[0].ID); k.IsTerminal() || k.Launched == nil || k.Progress == nil {
		t.Errorf("the stuck task moved: %+v", k)
	}

	// Equal seeds, equal tasks; activities are unchanged by them.
	run := func(seed int64, sources int) *Tenant {
		clk := newFakeClock()
		tn := New(Config{Seed: seed, Now: clk.Now, TaskSources: sources})
		tn.SeedHistory(50, time.Hour)
		tn.SeedTaskHistory(3 * time.Hour)
		for range 30 {
			clk.Advance(time.Minute)
			tn.Step()
		}
		return tn
	}
	dump := func(tn *Tenant) string {
		b, _ := json.Marshal(tn.taskOrder[len(tn.taskOrder)-1].rec.k)
		acts, _ := json.Marshal(snapshot(tn))
		return strconv.Itoa(len(tn.taskOrder)) + string(b) + string(acts)
	}
	if first, second := dump(run(3, 0)), dump(run(3, 0)); first != second {
		t.Errorf("equal seeds gave different tasks")
	}
	noTasks, _ := json.Marshal(snapshot(run(3, -1)))
	if withTasks, _ := json.Marshal(snapshot(run(3, 0))); string(noTasks) != string(withTasks) {
		t.Errorf("tasks changed the activities of a seed")
	}

	// 256 sources: listed, healthy, each aggregating.
	big := run(4, 256)
	targets := map[string]bool{}
	for _, e := range big.taskOrder {
		targets[e.source] = true
	}
	srcs := big.Sources()
	names := map[string]bool{}
	for _, s := range srcs {
		names[s.Name] = true
		if !targets[s.ID] {
			t.Errorf("%s never aggregated", s.Name)
		}
	}
	if len(srcs) != 256 || len(targets) != 256 || len(names) != 256 {
		t.Errorf("%d sources, %d aggregating, %d names", len(srcs), len(targets), len(names))
	}
	few := run(5, 3)
	targets = map[string]bool{}
	for _, e := range few.taskOrder {
		targets[e.source] = true
	}
	if len(targets) != 3 || len(few.Sources()) != len(sourcesCatalog) {
		t.Errorf("TaskSources 3: %d aggregating of %d", len(targets), len(few.Sources()))
	}
}
