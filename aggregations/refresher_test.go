package aggregations

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// taskRequests counts the task status requests the tenant answered.
func (s *stack) taskRequests() int {
	n := 0
	for _, r := range s.tenant.Requests() {
		if strings.HasPrefix(r.Endpoint, "task-status") {
			n++
		}
	}
	return n
}

// At steady state, 256 sources aggregating hourly (both types) read every
// 5 minutes cost one list request per watched type, and one more for the
// tasks still running that the listings did not show: at most 3.
func TestSteadyStateRequests(t *testing.T) {
	t.Parallel()
	// Tokens that outlive the run: the client renews its token on the
	// host's clock, the tenant here expires it on its fake one.
	// -short, the loop after each edit: 64 sources, whose tasks of 5
	// minutes fit one page as well.
	sources := 256
	if testing.Short() {
		sources = 64
	}
	s := newStack(t, simtenant.Config{Seed: 73, TaskSources: sources, TokenTTL: 48 * time.Hour}, client.Config{}, Options{Lookback: 24 * time.Hour})
	s.tenant.SeedTaskHistory(26 * time.Hour)
	before := s.taskRequests()
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	priming := s.taskRequests() - before
	var perRefresh []int
	for range 24 { // two hours
		s.clock.Advance(5 * time.Minute)
		s.tenant.Step()
		before := s.taskRequests()
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		perRefresh = append(perRefresh, s.taskRequests()-before)
	}
	total := 0
	for i, n := range perRefresh {
		total += n
		if n > 3 {
			t.Errorf("refresh %d sent %d task status requests, want at most 3", i, n)
		}
	}
	t.Logf("priming a day of %d sources: %d requests; steady state: %v requests per refresh (mean %.2f)", sources, priming, perRefresh, float64(total)/float64(len(perRefresh)))
}

// One watched type more costs one request more.
func TestAFurtherTypeCostsOneRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 74, TaskSources: 20, TokenTTL: 48 * time.Hour}, client.Config{},
		Options{Lookback: 24 * time.Hour, Types: append(append([]string(nil), DefaultTypes...), "CLOUD_REFRESH_ROLE")})
	s.tenant.SeedTaskHistory(26 * time.Hour)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(5 * time.Minute)
	s.tenant.Step()
	before := s.taskRequests()
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := s.taskRequests() - before; n > 4 {
		t.Fatalf("%d requests for three types, want at most 4", n)
	}
}

// A process restarted from the state file counts on exactly as if it never
// stopped: what finished while it was down is counted, nothing twice.
func TestRestartFromTheStateFile(t *testing.T) {
	race.SkipVolume(t)
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	open := func(p string) *state.File {
		sf, err := state.Open(p, state.Identity{URL: "https://acme.api.identitynow.com", ClientID: simClientID}, prometheus.NewRegistry(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sf.Close() })
		return sf
	}
	s := newStack(t, simtenant.Config{Seed: 75, TaskSources: 30}, client.Config{}, Options{Wiring: area.Wiring{State: open(path)}})
	s.tenant.SeedTaskHistory(2 * 24 * time.Hour)
	mark := simtest.Truth(s.tenant).Mark()
	for range 6 {
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(5 * time.Minute)
		s.tenant.Step()
	}
	// Down for an hour.
	copyPath := filepath.Join(dir, "copy")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		s.clock.Advance(5 * time.Minute)
		s.tenant.Step()
	}
	again := NewRefresher(s.isc, Options{Wiring: area.Wiring{State: open(copyPath), Now: s.clock.Now}, Lookback: testLookback})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(again.Collector())
	s.registry = reg
	if err := again.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.refresher = again
	bad, finished := s.mismatches(t, mark)
	for _, b := range bad {
		t.Error(b)
	}
	if finished < 50 {
		t.Fatalf("only %d finished; the test proves little", finished)
	}
}

// A token without the scope: sailpoint_aggregations_up 0 and one line that
// names the scope, however often it is refused; a 400 shows ISC's message.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		says   []string
	}{
		{http.StatusForbidden, []string{"level=ERROR", "HTTP 403", client.TaskStatusScope, "the activity metrics are not affected"}},
		{http.StatusBadRequest, []string{"level=ERROR", "HTTP 400", "its message says why"}},
		{http.StatusNotFound, []string{"level=ERROR", "HTTP 404"}},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			s := newStack(t, simtenant.Config{Seed: 76, TaskSources: 5}, client.Config{}, Options{})
			s.tenant.SeedTaskHistory(time.Hour)
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			s.tenant.Deny("task-status", tc.status)
			for range 3 {
				if err := s.refresher.Refresh(t.Context()); err == nil {
					t.Fatal("a refused read succeeded")
				}
			}
			if up := value(s.gather(t)["sailpoint_aggregations_up"][""]); up != 0 {
				t.Fatalf("sailpoint_aggregations_up = %v", up)
			}
			var loud []string
			for _, l := range strings.Split(s.logs.String(), "\n") {
				if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
					loud = append(loud, l)
				}
			}
			if len(loud) != 1 {
				t.Fatalf("%d loud lines for 3 refusals, want 1:\n%s", len(loud), s.logs.String())
			}
			for _, w := range tc.says {
				if !strings.Contains(loud[0], w) {
					t.Errorf("the line lacks %q: %s", w, loud[0])
				}
			}
		})
	}
}

// A refused secret is the credentials' failure, whatever status the token
// endpoint answers it with (a 400 there is no bad request of the task
// status API): the aggregations say it once at info level, pointing to the
// activities' line, which says what to check.
func TestRefusedCredentials(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			s := newStack(t, simtenant.Config{Seed: 76, TaskSources: 5}, client.Config{}, Options{})
			s.tenant.SeedTaskHistory(time.Hour)
			simtest.Faults(s.tenant).FailTokenNext(10, status)
			for range 3 {
				if err := s.refresher.Refresh(t.Context()); !errors.Is(err, client.ErrUnauthorized) {
					t.Fatalf("a read without a token: %v, want an error matching client.ErrUnauthorized", err)
				}
			}
			var said []string
			for _, l := range strings.Split(s.logs.String(), "\n") {
				if !strings.Contains(l, "level=DEBUG") && l != "" {
					said = append(said, l)
				}
			}
			if len(said) != 1 || !strings.Contains(said[0], "level=INFO") || !strings.Contains(said[0], "credentials ISC refused") {
				t.Fatalf("3 refused tokens said as %d lines, want one at info level about the credentials:\n%s", len(said), strings.Join(said, "\n"))
			}
		})
	}
}

// Records that are not tasks the exporter can use are counted once each by
// reason, however often they are read again, and their neighbours are
// counted; an unknown completion status is a label of its own.
func TestGarbageTasks(t *testing.T) {
	t.Parallel()
	s := newStack(t, simtenant.Config{Seed: 77, TaskSources: 5}, client.Config{}, Options{})
	s.tenant.SeedTaskHistory(2 * time.Hour)
	mark := simtest.Truth(s.tenant).Mark()
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := s.clock.Now()
	finished := func(status string) simtenant.Task {
		src := s.tenant.Sources()[0]
		return simtenant.Task{Type: "QUARTZ", DefinitionType: simtenant.TaskAccountAggregation, UniqueName: "Cloud Account Aggregation", Launcher: "sweep",
			Target: &simtenant.TaskTarget{ID: src.ID, Type: "APPLICATION", Name: src.Name + " [source]"}, Created: now.Add(-time.Minute),
			Launched: simtenant.Ptr(now.Add(-50 * time.Second)), Completed: simtenant.Ptr(now), Modified: simtenant.Ptr(now), CompletionStatus: simtenant.Ptr(status)}
	}
	noTarget := s.tenant.UpsertTask(finished("SUCCESS"))
	raw, _ := s.tenant.RawTaskJSON(noTarget)
	simtest.Faults(s.tenant).CorruptTask(noTarget, strings.Replace(raw, `"target":{`, `"target":null,"was":{`, 1))
	badTime := s.tenant.UpsertTask(finished("SUCCESS"))
	raw, _ = s.tenant.RawTaskJSON(badTime)
	simtest.Faults(s.tenant).CorruptTask(badTime, strings.Replace(raw, now.Format("2006-01-02T15:04:05.000Z"), "2026-12-01 06:00:00", 1))
	wrongType := s.tenant.UpsertTask(finished("SUCCESS"))
	raw, _ = s.tenant.RawTaskJSON(wrongType)
	simtest.Faults(s.tenant).CorruptTask(wrongType, strings.Replace(raw, `"percentComplete":`, `"completionStatus":42,"x":`, 1))
	s.tenant.UpsertTask(finished("CANCELLED")) // a status ISC may add
	for range 3 {                              // read again and again: each rejection counts once
		s.clock.Advance(time.Minute)
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	got := s.gather(t)
	for reason, want := range map[string]float64{client.RejectMissingTarget: 1, client.RejectInvalidTimestamp: 1, client.RejectWrongType: 1, client.RejectMalformed: 0} {
		if v := value(got["sailpoint_activities_rejected_total"]["reason="+reason]); v != want {
			t.Errorf("rejected{reason=%s} = %v, want %v", reason, v, want)
		}
	}
	src := s.tenant.Sources()[0].ID
	if v := value(got["sailpoint_source_aggregations_completed_total"]["completion_status=CANCELLED|source_id="+src+"|type=CLOUD_ACCOUNT_AGGREGATION"]); v != 1 {
		t.Errorf("the CANCELLED finish counted %v times, want 1", v)
	}
	// Once ISC serves the three as tasks again, they are counted, once,
	// and everything equals the ground truth.
	for _, id := range []string{noTarget, badTime, wrongType} {
		simtest.Faults(s.tenant).CorruptTask(id, "")
	}
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	bad, _ := s.mismatches(t, mark)
	for _, b := range bad {
		t.Error(b)
	}
}
