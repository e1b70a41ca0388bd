package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// demoTenants are the names --demo --demo.tenants=2 gives its simulated tenants, as a
// configuration file would; they share source and cluster ids.
var demoTenants = []string{"production", "sandbox"}

// processWide are the metrics of the exporter's process, which carry no tenant label even with
// several tenants; a dashboard query of them alone answers once, not once per tenant.
var processWide = map[string]bool{
	"up":                            true,
	"process_cpu_seconds_total":     true,
	"process_resident_memory_bytes": true,
	"sailpoint_exporter_build_info": true,
}

var metricBeforeBrace = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\{`)

// perTenant reports whether a dashboard query reads a tenant's metrics (and so must answer
// per tenant), not only the process's.
func perTenant(expr string) bool {
	for _, m := range metricBeforeBrace.FindAllStringSubmatch(expr, -1) {
		if !processWide[m[1]] {
			return true
		}
	}
	return false
}

// TestPrometheusTwoTenants runs the exporter with two simulated tenants (--demo
// --demo.tenants=2, labelled as a configuration file labels them) under a real Prometheus with
// the shipped rules: the Tenant variable lists both; every dashboard query answers for both
// tenants with All (.*) and for the one selected alone; every rule evaluates without error,
// though the tenants share source ids (a join without the tenant would be many-to-many); and
// the failed-provisioning alert fires per tenant, naming it.
func TestPrometheusTwoTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds the exporter and starts Prometheus; run it without -short")
	}
	t.Parallel()
	deadline := time.Now().Add(4 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-10*time.Second).Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	prometheusBin := findBinary(t, "PROMETHEUS_BIN", "prometheus")
	root := repoRoot(t)
	tmp := t.TempDir()

	exporterBin := buildExporter(ctx, t)
	exporterAddr := freeAddr(ctx, t)
	exporterAlive := startProcess(ctx, t, "exporter", filepath.Join(tmp, "exporter.log"), exporterBin,
		"--demo", "--demo.tenants=2",
		"--web.listen-address="+exporterAddr,
		"--activities.refresh-interval=5s",
		"--sources.refresh-interval=2s",
	)
	waitFor(exporterAlive, t, "both tenants' sailpoint_up 1", func() (struct{}, error) {
		b, err := httpGet(ctx, "http://"+exporterAddr+"/metrics")
		if err != nil {
			return struct{}{}, err
		}
		for _, name := range demoTenants {
			if !strings.Contains(string(b), fmt.Sprintf("\nsailpoint_up{tenant=%q} 1\n", name)) {
				return struct{}{}, fmt.Errorf("sailpoint_up of %s is not 1 yet", name)
			}
		}
		return struct{}{}, nil
	})

	prom := startPrometheus(ctx, t, prometheusBin, root, tmp, exporterAddr)

	// label_values(sailpoint_up{job=~"$job", instance=~"$instance"}, tenant): both tenants.
	t.Run("the tenant variable lists both tenants", func(t *testing.T) {
		values := waitFor(ctx, t, "Prometheus to have both tenants", func() ([]string, error) {
			values, err := prom.labelValues(ctx, "tenant", fmt.Sprintf(`sailpoint_up{job=~%q, instance=~%q}`, jobName, regexp.QuoteMeta(exporterAddr)))
			if err == nil && len(values) < len(demoTenants) {
				err = fmt.Errorf("tenants %v so far", values)
			}
			return values, err
		})
		slices.Sort(values)
		if !slices.Equal(values, demoTenants) {
			t.Errorf("label_values(sailpoint_up, tenant) = %v, want %v", values, demoTenants)
		}
	})

	queries := dashboardQueries(t, filepath.Join(root, "dashboards"))
	for _, rec := range recordingRules(ctx, t, prom) {
		queries = append(queries, namedQuery{"recording rule " + rec, rec})
	}
	vars := map[string]string{"job": jobName, "instance": exporterAddr}
	for k, v := range grafanaVars {
		vars[k] = v
	}

	// Every query of a tenant's metrics answers for each tenant it selects, and for no other;
	// one of the process's answers at all. Rates need two samples and some panels a failure:
	// poll until every query answers so or time runs out.
	checkQueries := func(t *testing.T, tenant string, want []string) {
		vars := withVar(vars, "tenant", tenant)
		pending := map[string]namedQuery{}
		for _, q := range queries {
			pending[q.name] = namedQuery{q.name, substitute(q.expr, vars)}
		}
		queryDeadline := time.Now().Add(150 * time.Second)
		lastErr := map[string]string{}
		for len(pending) > 0 && time.Now().Before(queryDeadline) && ctx.Err() == nil {
			for name, q := range pending {
				res, err := prom.query(ctx, q.expr)
				if err == nil && len(res) == 0 {
					err = errors.New("empty result")
				}
				if err == nil && perTenant(q.expr) {
					seen := map[string]bool{}
					for _, m := range metrics(t, res) {
						seen[m["tenant"]] = true
					}
					var got []string
					for name := range seen {
						got = append(got, name)
					}
					slices.Sort(got)
					if !slices.Equal(got, want) {
						err = fmt.Errorf("series of tenants %q, want %q", got, want)
					}
				}
				if err != nil {
					lastErr[name] = err.Error()
					continue
				}
				delete(pending, name)
			}
			if len(pending) > 0 {
				sleep(ctx, 3*time.Second)
			}
		}
		var names []string
		for name := range pending {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			t.Errorf("%s: %s\n  query: %s", name, lastErr[name], pending[name].expr)
		}
		t.Logf("tenant=~%q: %d queries answered for %v", tenant, len(queries)-len(names), want)
	}
	t.Run("every query answers for both tenants with All", func(t *testing.T) { checkQueries(t, allTenants, demoTenants) })
	t.Run("every query answers for the selected tenant alone", func(t *testing.T) { checkQueries(t, "sandbox", []string{"sandbox"}) })

	// Each demo tenant has a source unhealthy within its first minute. The alert joins
	// sailpoint_source_healthy with sailpoint_source_info, which both tenants have for the same
	// source ids: without the tenant in its on (…), the join is many-to-many, an evaluation
	// error (once the left side holds a series), and the alert never fires.
	t.Run("source unhealthy alert fires per tenant, with the tenant's own status", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for name, a := range firingPerTenant(ctx, t, prom, "SailPointSourceUnhealthy") {
			res, err := prom.query(ctx, fmt.Sprintf(`sailpoint_source_status{job=%q, tenant=%q, source_id=%q}`, jobName, name, a.Labels["source_id"]))
			if err != nil {
				t.Fatal(err)
			}
			var statuses []string
			for _, m := range metrics(t, res) {
				statuses = append(statuses, m["status"])
			}
			desc := a.Annotations["description"]
			if len(statuses) == 0 || !strings.Contains(desc, "its status is SOURCE_STATE_") {
				t.Errorf("tenant %s: description %q, the tenant's statuses %v", name, desc, statuses)
			}
		}
	})
	t.Run("failed provisioning alert fires per tenant, naming it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		firingPerTenant(ctx, t, prom, firingAlert)
	})

	// Last, after the joins have had series on both sides.
	t.Run("rule groups healthy with two tenants sharing source ids", func(t *testing.T) {
		groups := waitFor(ctx, t, "every rule to have been evaluated", func() ([]ruleGroup, error) {
			groups, err := prom.rules(ctx)
			if err != nil {
				return nil, err
			}
			for _, g := range groups {
				for _, r := range g.Rules {
					if r.Health == "unknown" || r.LastEvaluation.IsZero() {
						return nil, fmt.Errorf("rule %s not evaluated yet", r.Name)
					}
				}
			}
			return groups, nil
		})
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.Health != "ok" || r.LastError != "" {
					t.Errorf("group %s rule %s: health %q, error %q", g.Name, r.Name, r.Health, r.LastError)
				}
			}
		}
	})
}

// firingPerTenant waits until alertname has fired for every demo tenant (not necessarily at
// once: each tenant's failures and outages come at their own times), and checks each alert
// carries its tenant label and names it first in its description.
func firingPerTenant(ctx context.Context, t *testing.T, prom *promAPI, alertname string) map[string]alert {
	t.Helper()
	byTenant := map[string]alert{}
	waitFor(ctx, t, alertname+" to fire for both tenants", func() (struct{}, error) {
		alerts, err := prom.alerts(ctx)
		if err != nil {
			return struct{}{}, err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == alertname && a.State == "firing" {
				byTenant[a.Labels["tenant"]] = a
			}
		}
		for _, name := range demoTenants {
			if _, ok := byTenant[name]; !ok {
				return struct{}{}, fmt.Errorf("fired for %d tenants, not yet for %s", len(byTenant), name)
			}
		}
		return struct{}{}, nil
	})
	for name, a := range byTenant {
		if !slices.Contains(demoTenants, name) {
			t.Errorf("%s fires with tenant %q: %v", alertname, name, a.Labels)
			continue
		}
		desc := a.Annotations["description"]
		if !strings.HasPrefix(desc, "Tenant "+name+": ") || strings.Contains(desc, "<no value>") {
			t.Errorf("%s of tenant %s: description %q does not start with its name", alertname, name, desc)
		}
		t.Logf("fired: %s", desc)
	}
	return byTenant
}

// withVar returns a copy of m with k set to v.
func withVar(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range m {
		if key != k {
			out[key] = val
		}
	}
	return out
}
