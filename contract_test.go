package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/contract"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// The README's metrics table is the contract: it lists exactly the metrics
// the exporter serves, with their types and labels. Checked against the
// registry main serves, populated by the demo tenant: one tenant of the
// command line (no tenant label, no reload metrics), and two of a
// configuration file, whose every series but the process's carries the
// tenant's name.
func TestREADMEMetricsTableIsTheContract(t *testing.T) {
	t.Parallel()
	t.Run("command line", func(t *testing.T) {
		t.Parallel()
		app, s := newApp()
		// The flags' defaults, the collectors on as in --demo; the simulated
		// tenant answers as fast as it is asked (a first pass at 10 requests
		// a second took seconds).
		if _, err := app.Parse([]string{"--demo", "--state.file=" + filepath.Join(t.TempDir(), "state"), "--isc.requests-per-second=1000"}); err != nil {
			t.Fatal(err)
		}
		e, err := newExporter(s, nil, nil, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer e.close()
		populate(t, e.first(), e.demos[0])
		checkAgainstTable(t, gatherSailPoint(t, e), nil)
	})
	t.Run("configuration file", func(t *testing.T) {
		t.Parallel()
		var sims []*simtenant.Tenant
		config := "tenants:\n"
		for i, name := range []string{"sandbox", "production"} {
			sim := simtest.New(simtenant.Config{Clients: map[string]string{demoClientID: demoClientSecret}, Seed: int64(i + 1)})
			sim.SeedHistory(1000, 24*time.Hour)
			sim.SeedTaskHistory(48 * time.Hour)
			url, err := sim.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sim.Close() })
			sims = append(sims, sim)
			config += fmt.Sprintf("  - name: %s\n    url: %s\n    client_id: %s\n    client_secret_env: SAIL_TEST_SECRET\n    state_file: %s\n",
				name, url, demoClientID, filepath.Join(t.TempDir(), name+".state"))
		}
		path, _ := writeConfig(t, config)
		args := []string{"--config.file=" + path, "--aggregations.refresh-interval=1m", "--isc.requests-per-second=1000"}
		s := parseArgs(t, args...)
		load := func() ([]tenant.Settings, []string, error) {
			list, warnings, err := fileTenants(path, args, false)
			for i := range list {
				list[i].Secret = demoClientSecret
			}
			return list, warnings, err
		}
		list, _, err := load()
		if err != nil {
			t.Fatal(err)
		}
		e, err := newExporter(s, list, load, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer e.close()
		for i, tn := range e.tenants.Tenants() {
			populate(t, tn, sims[i])
		}
		checkAgainstTable(t, gatherSailPoint(t, e), []string{"sandbox", "production"})
	})
}

// populate makes a tenant's every metric show: activities completed,
// failed and timed, sources and clusters listed, aggregations finished.
func populate(t *testing.T, tn *tenant.Tenant, sim *simtenant.Tenant) {
	t.Helper()
	if err := tn.Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 60 { // completions, failures and durations
		sim.Step()
	}
	if err := tn.Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, inv := range tn.Inventories() { // sources and managed clusters
		if err := inv.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// Aggregations: the first pass, then one that finishes, failed, and is
	// counted.
	if err := tn.Aggregations().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	sim.UpsertTask(simtenant.Task{Type: "QUARTZ", DefinitionType: "CLOUD_ACCOUNT_AGGREGATION", UniqueName: "Cloud Account Aggregation",
		Launcher: "sweep", Target: &simtenant.TaskTarget{ID: sim.Sources()[0].ID, Type: "APPLICATION", Name: "Active Directory [source]"},
		Created: now.Add(-time.Minute), Launched: simtenant.Ptr(now.Add(-50 * time.Second)), Completed: simtenant.Ptr(now), Modified: simtenant.Ptr(now),
		CompletionStatus: simtenant.Ptr("ERROR")})
	if err := tn.Aggregations().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// gatherSailPoint gathers the exporter's registry, checking what
// client_golang's linter checks, and returns its sailpoint_ families.
func gatherSailPoint(t *testing.T, e *exporter) map[string]*dto.MetricFamily {
	t.Helper()
	problems, err := testutil.GatherAndLint(e.registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "sailpoint_") {
			served[mf.GetName()] = mf
		}
	}
	return served
}

// processWide are the families of the process, never a tenant's.
func processWide(name string) bool {
	return name == "sailpoint_exporter_build_info" || strings.HasPrefix(name, "sailpoint_config_")
}

// checkAgainstTable checks the served families against README's table.
// tenants are the tenant label's values every tenant's series carries, one
// of each per family; none: no series carries the label, and the reload
// metrics, of a configuration file, are not served.
func checkAgainstTable(t *testing.T, served map[string]*dto.MetricFamily, tenants []string) {
	t.Helper()
	table, err := contract.FromREADME("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range table {
		listed[m.Name] = true
		mf, ok := served[m.Name]
		if !ok {
			if tenants == nil && strings.HasPrefix(m.Name, "sailpoint_config_") {
				continue // served with a configuration file only
			}
			t.Errorf("README lists %s, which the exporter does not serve", m.Name)
			continue
		}
		if got := strings.ToLower(mf.GetType().String()); got != m.Type {
			t.Errorf("%s: README says %s, the exporter serves a %s", m.Name, m.Type, got)
		}
		got := labelNames(mf)
		want := slices.Clone(m.Labels)
		if tenants != nil && !processWide(m.Name) {
			want = append(want, tenant.Label)
			if values := labelValues(mf, tenant.Label); !slices.Equal(values, slices.Sorted(slices.Values(tenants))) {
				t.Errorf("%s: tenant label values %v, want %v", m.Name, values, tenants)
			}
			for _, metric := range mf.GetMetric() {
				if !slices.ContainsFunc(metric.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == tenant.Label }) {
					t.Errorf("%s: a series without the tenant label: %v", m.Name, metric.GetLabel())
				}
			}
		}
		slices.Sort(want)
		if m.Partial {
			for _, l := range want {
				if !slices.Contains(got, l) {
					t.Errorf("%s: README lists label %s, the exporter has %v", m.Name, l, got)
				}
			}
		} else if !slices.Equal(got, want) {
			t.Errorf("%s: README lists labels %v, the exporter has %v", m.Name, want, got)
		}
	}
	for name := range served {
		if !listed[name] {
			t.Errorf("the exporter serves %s, which README's metrics table does not list", name)
		}
	}
}

// labelValues are the values of a label among a family's series, sorted.
func labelValues(mf *dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name && !slices.Contains(out, lp.GetValue()) {
				out = append(out, lp.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

// labelNames are the label names of a family's series, sorted, without le.
func labelNames(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if !slices.Contains(out, lp.GetName()) {
				out = append(out, lp.GetName())
			}
		}
	}
	slices.Sort(out)
	return out
}
