package main

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/contract"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// The README's metrics table is the contract: it lists exactly the metrics
// the exporter serves, with their types and labels. Checked against the
// registry main serves, populated by the demo tenant.
func TestREADMEMetricsTableIsTheContract(t *testing.T) {
	t.Parallel()
	app, s := newApp()
	if _, err := app.Parse([]string{"--demo", "--state.file=" + filepath.Join(t.TempDir(), "state")}); err != nil {
		t.Fatal(err) // the flags' defaults, the collectors on as in --demo
	}
	e, err := newExporter(s, nil, nil, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if err := e.first().Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 60 { // completions, failures and durations
		e.demos[0].Step()
	}
	if err := e.first().Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, inv := range e.first().Inventories() { // sources and managed clusters
		if err := inv.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// Aggregations: the first pass, then one that finishes, failed, and is
	// counted.
	if err := e.first().Aggregations().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.demos[0].UpsertTask(simtenant.Task{Type: "QUARTZ", DefinitionType: "CLOUD_ACCOUNT_AGGREGATION", UniqueName: "Cloud Account Aggregation",
		Launcher: "sweep", Target: &simtenant.TaskTarget{ID: e.demos[0].Sources()[0].ID, Type: "APPLICATION", Name: "Active Directory [source]"},
		Created: now.Add(-time.Minute), Launched: simtenant.Ptr(now.Add(-50 * time.Second)), Completed: simtenant.Ptr(now), Modified: simtenant.Ptr(now),
		CompletionStatus: simtenant.Ptr("ERROR")})
	if err := e.first().Aggregations().Refresh(t.Context()); err != nil {
		t.Fatal(err)
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

	table, err := contract.FromREADME("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range table {
		listed[m.Name] = true
		mf, ok := served[m.Name]
		if !ok {
			t.Errorf("README lists %s, which the exporter does not serve", m.Name)
			continue
		}
		if got := strings.ToLower(mf.GetType().String()); got != m.Type {
			t.Errorf("%s: README says %s, the exporter serves a %s", m.Name, m.Type, got)
		}
		got := labelNames(mf)
		want := slices.Sorted(slices.Values(m.Labels))
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
