package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

const (
	simClientID = "sim-client-id"
	simSecret   = "sim-client-secret"
)

// simulated starts a simulated tenant with an hour of activities on
// loopback and returns it with its URL.
func simulated(t *testing.T, seed int64, secret string) (*simtenant.Tenant, string) {
	t.Helper()
	sim := simtest.New(simtenant.Config{Clients: map[string]string{simClientID: secret}, Seed: seed})
	sim.SeedHistory(300, time.Hour)
	url, err := sim.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim, url
}

// watch are the settings that watch a simulated tenant: the activities and
// sources, each read at start and then hourly, so that a test decides when
// the tenant is read again.
func watch(name, url, stateFile string) tenant.Settings {
	return tenant.Settings{
		Name: name, URL: url, ClientID: simClientID, Secret: simSecret, SecretFrom: "test",
		APIVersion: "v1", RequestsPerSecond: 100, Timeout: 5 * time.Second, PageSize: 250,
		StateFile: stateFile, UserAgent: "test",
		ActivitiesInterval: time.Hour, Lookback: 24 * time.Hour, Overlap: 5 * time.Minute,
		MaxTypes: 64, MaxSources: 256, Sources: true, SourcesInterval: time.Hour,
	}
}

// series is every sample of the registry by name and labels, as
// name{k="v",…} (labels sorted), counters and gauges.
func series(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// tenantsIn are the tenant label's values among the registry's series.
func tenantsIn(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	var out []string
	for key := range series(t, g) {
		if _, v, ok := strings.Cut(key, `tenant="`); ok {
			name, _, _ := strings.Cut(v, `"`)
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// completed is the sum of sailpoint_account_activities_completed_total of
// a tenant.
func completed(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	var sum float64
	for key, v := range series(t, g) {
		if strings.HasPrefix(key, "sailpoint_account_activities_completed_total{") && strings.Contains(key, `tenant="`+name+`"`) {
			sum += v
		}
	}
	return sum
}

func waitReady(t *testing.T, set *Set) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !set.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 30 s: %v", set.NotReady())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newSet(t *testing.T) (*Set, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	set := NewSet(reg, slog.New(slog.DiscardHandler), SetOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); set.Stop() })
	set.Start(ctx)
	return set, reg
}

// A reload changes only what changed: a tenant added starts, one removed
// stops and its series go, an unchanged one is the same tenant, its counts
// as they were; a changed one restarts and, with its state file, counts on
// from where it was.
func TestApplyChangesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	simA, urlA := simulated(t, 1, simSecret)
	_, urlB := simulated(t, 2, simSecret)
	_, urlC := simulated(t, 3, simSecret)
	dir := t.TempDir()
	a := watch("a", urlA, filepath.Join(dir, "a.state"))
	b := watch("b", urlB, filepath.Join(dir, "b.state"))
	c := watch("c", urlC, "")
	set, reg := newSet(t)

	ch, err := set.Apply([]tenant.Settings{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Changes{Added: []string{"a", "b"}}); fmt.Sprint(ch) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", ch, want)
	}
	waitReady(t, set)
	if got := tenantsIn(t, reg); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("tenants in the series %v", got)
	}
	first := set.Tenants()[0]
	// Completions in tenant a, counted by a refresh: the counts a reload
	// must not reset.
	for range 40 {
		simA.Step()
	}
	if err := first.Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	countedA := completed(t, reg, "a")
	if countedA == 0 {
		t.Fatal("tenant a counted no completion")
	}

	ch, err = set.Apply([]tenant.Settings{a, c})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Changes{Added: []string{"c"}, Removed: []string{"b"}, Unchanged: []string{"a"}}); fmt.Sprint(ch) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", ch, want)
	}
	waitReady(t, set)
	if set.Tenants()[0] != first {
		t.Error("tenant a was rebuilt though unchanged")
	}
	if got := tenantsIn(t, reg); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("tenants in the series %v, want a and c: b's series must go", got)
	}
	if got := completed(t, reg, "a"); got != countedA {
		t.Errorf("tenant a's completions %v after the reload, want %v", got, countedA)
	}

	// A changed setting restarts a, which resumes from its state file.
	a.MaxTypes = 32
	ch, err = set.Apply([]tenant.Settings{a, c})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Changes{Restarted: []string{"a"}, Unchanged: []string{"c"}}); fmt.Sprint(ch) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", ch, want)
	}
	waitReady(t, set)
	restarted := set.Tenants()[0]
	if restarted == first || restarted.Settings().MaxTypes != 32 {
		t.Fatal("tenant a was not restarted with its new settings")
	}
	if got := completed(t, reg, "a"); got != countedA {
		t.Errorf("tenant a's completions %v after its restart, want %v (resumed from its state file)", got, countedA)
	}
	if names := []string{set.Tenants()[0].Name(), set.Tenants()[1].Name()}; !slices.Equal(names, []string{"a", "c"}) {
		t.Errorf("order %v, want the configuration's", names)
	}
}

// A new tenant that cannot be built (its state file is another process's)
// refuses the whole change: the running tenants go on, no series of the
// new one appear.
func TestApplyThatCannotStartChangesNothing(t *testing.T) {
	t.Parallel()
	_, urlA := simulated(t, 4, simSecret)
	_, urlB := simulated(t, 5, simSecret)
	dir := t.TempDir()
	held, err := state.Open(filepath.Join(dir, "b.state"), state.Identity{URL: urlB, ClientID: simClientID}, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Close() })
	set, reg := newSet(t)
	a := watch("a", urlA, "")
	if _, err := set.Apply([]tenant.Settings{a}); err != nil {
		t.Fatal(err)
	}
	running := set.Tenants()[0]
	_, err = set.Apply([]tenant.Settings{a, watch("b", urlB, filepath.Join(dir, "b.state")), watch("c", urlB, "")})
	if err == nil || !strings.Contains(err.Error(), `tenant "b"`) || !strings.Contains(err.Error(), "b.state") {
		t.Fatalf("error %v, want tenant b's state file named", err)
	}
	waitReady(t, set)
	if got := set.Tenants(); len(got) != 1 || got[0] != running {
		t.Errorf("tenants %v, want a alone, untouched", got)
	}
	if got := tenantsIn(t, reg); !slices.Equal(got, []string{"a"}) {
		t.Errorf("tenants in the series %v, want a alone", got)
	}
}

// A changed tenant whose new settings cannot start goes on with its old
// ones, and the reload says so.
func TestChangedTenantThatCannotStartKeepsItsSettings(t *testing.T) {
	t.Parallel()
	_, urlA := simulated(t, 6, simSecret)
	dir := t.TempDir()
	set, reg := newSet(t)
	a := watch("a", urlA, filepath.Join(dir, "a.state"))
	if _, err := set.Apply([]tenant.Settings{a}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, set)
	moved := a
	moved.StateFile = filepath.Join(dir, "missing", "a.state")
	ch, err := set.Apply([]tenant.Settings{moved})
	if err == nil || !strings.Contains(err.Error(), `tenant "a" keeps its previous settings`) {
		t.Fatalf("error %v", err)
	}
	if !slices.Equal(ch.Restarted, []string{"a"}) {
		t.Errorf("changes %v", ch)
	}
	waitReady(t, set)
	if got := set.Tenants(); len(got) != 1 || !got[0].Settings().Equal(a) {
		t.Fatalf("tenant a runs with %+v, want its previous settings", got[0].Settings())
	}
	waitSeries(t, reg, `sailpoint_up{tenant="a"}`, 1)
}

// waitSeries waits, at most 30 s, for the series to have the value.
func waitSeries(t *testing.T, g prometheus.Gatherer, key string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, ok := series(t, g)[key]
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v (present %v), want %v within 30 s", key, got, ok, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A rotated secret is taken without a restart: the same tenant, whose next
// token uses it.
func TestRotatedSecretWithoutRestart(t *testing.T) {
	t.Parallel()
	sim, url := simulated(t, 7, "rotated")
	set, reg := newSet(t)
	a := watch("a", url, "")
	a.Secret = "revoked"
	if _, err := set.Apply([]tenant.Settings{a}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, set)
	if got := series(t, reg)[`sailpoint_up{tenant="a"}`]; got != 0 {
		t.Fatalf("sailpoint_up %v with a refused secret, want 0", got)
	}
	running := set.Tenants()[0]
	a.Secret, a.SecretFrom = "rotated", "file /run/secrets/a"
	ch, err := set.Apply([]tenant.Settings{a})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Rotated, []string{"a"}) || len(ch.Restarted) > 0 {
		t.Errorf("changes %v, want a rotated", ch)
	}
	if set.Tenants()[0] != running {
		t.Error("the tenant was rebuilt for a new secret")
	}
	if err := running.Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := series(t, reg)[`sailpoint_up{tenant="a"}`]; got != 1 {
		t.Errorf("sailpoint_up %v after the rotation, want 1", got)
	}
	if tokens := countRequests(sim, "/oauth/token"); tokens < 2 {
		t.Errorf("%d token requests, want the refused one and the rotated one", tokens)
	}
}

func countRequests(sim *simtenant.Tenant, path string) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// Stop stops every tenant's loops, drops their series and releases their
// state files: another set can take them at once.
func TestStopReleasesEverything(t *testing.T) {
	t.Parallel()
	_, url := simulated(t, 8, simSecret)
	path := filepath.Join(t.TempDir(), "a.state")
	reg := prometheus.NewPedanticRegistry()
	set := NewSet(reg, slog.New(slog.DiscardHandler), SetOptions{})
	set.Start(t.Context())
	if _, err := set.Apply([]tenant.Settings{watch("a", url, path)}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, set)
	set.Stop()
	if got := tenantsIn(t, reg); len(got) != 0 {
		t.Errorf("series of %v after Stop", got)
	}
	again, err := state.Open(path, state.Identity{URL: url, ClientID: simClientID}, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatalf("the state file is still held: %v", err)
	}
	_ = again.Close()
}
