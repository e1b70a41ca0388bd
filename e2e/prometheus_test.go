// Package e2e proves the dashboards and rules against a real Prometheus: it
// builds the exporter, runs it with --demo, has a Prometheus on loopback
// scrape it with the shipped rules loaded, then runs every dashboard query,
// checks every rule group's health, waits for the failed-provisioning, the
// source-unhealthy and the failed-aggregation alerts to fire from the demo's
// own failures and outage, and has the demo tenant confirm the names the
// dashboards show and the failed activity and aggregation task exemplars
// point at. TestPrometheusTwoTenants does it again with two simulated tenants
// (--demo --demo.tenants=2), labelled as a configuration file labels them:
// every query answers per tenant, for the tenant selected alone, and the
// alerts fire per tenant.
//
// It needs the prometheus and promtool binaries, from PATH or from the
// PROMETHEUS_BIN and PROMTOOL_BIN environment variables. With -short it is
// skipped; without it, missing binaries fail the test.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// jobName is deliberately not "sailpoint": nothing may depend on it.
	jobName = "isc_e2e"
	// testBudget bounds the whole test, builds included.
	testBudget = 5*time.Minute + 30*time.Second
	// firingAlert must fire from the demo tenant's own failed items.
	firingAlert = "SailPointSourceProvisioningFailures"
	// aggregationAlert must fire from the demo tenant's own failed
	// aggregations (it runs every source's every minute, some failing).
	aggregationAlert = "SailPointSourceAggregationFailed"
	// shortFor replaces every for: of the copy of the rules Prometheus loads.
	shortFor = "10s"
)

// allTenants is the tenant variable's All, as the dashboards define it.
const allTenants = ".*"

// Grafana's variables, as the e2e Prometheus sees them: $__rate_interval is
// at least four scrape intervals, $__range the time picker's span.
var grafanaVars = map[string]string{
	"__rate_interval": "1m",
	"__range":         "5m",
	"__interval":      "15s",
}

func TestPrometheusEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds the exporter and starts Prometheus; run it without -short")
	}
	t.Parallel()
	deadline := time.Now().Add(testBudget)
	if d, ok := t.Deadline(); ok && d.Add(-10*time.Second).Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	prometheusBin := findBinary(t, "PROMETHEUS_BIN", "prometheus")
	promtoolBin := findBinary(t, "PROMTOOL_BIN", "promtool")
	root := repoRoot(t)
	tmp := t.TempDir()

	// The exporter, built from this tree and run against its demo tenant.
	exporterBin := buildExporter(ctx, t)
	exporterAddr := freeAddr(ctx, t)
	exporterLog := filepath.Join(tmp, "exporter.log")
	exporterStarted := time.Now()
	exporterAlive := startProcess(ctx, t, "exporter", exporterLog, exporterBin,
		"--demo",
		"--web.listen-address="+exporterAddr,
		"--activities.refresh-interval=5s",
		"--sources.refresh-interval=2s",
	)
	metricsURL := "http://" + exporterAddr + "/metrics"
	body := waitFor(exporterAlive, t, "the exporter to serve sailpoint_up 1", func() (string, error) {
		b, err := httpGet(ctx, metricsURL)
		if err != nil {
			return "", err
		}
		if !regexp.MustCompile(`(?m)^sailpoint_up 1$`).Match(b) {
			return "", errors.New("sailpoint_up is not 1 yet")
		}
		return string(b), nil
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, promtoolBin, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on the exporter's /metrics: %v\n%s", err, out)
		}
	})

	// Prometheus, scraping the exporter with a copy of the shipped rules
	// whose for: durations are short enough for a test.
	prom := startPrometheus(ctx, t, prometheusBin, root, tmp, exporterAddr, "--enable-feature=exemplar-storage")
	waitFor(ctx, t, "Prometheus to have scraped sailpoint_up", func() (struct{}, error) {
		res, err := prom.query(ctx, fmt.Sprintf(`sailpoint_up{job=%q} == 1`, jobName))
		if err == nil && len(res) == 0 {
			err = errors.New("no sample yet")
		}
		return struct{}{}, err
	})

	t.Run("variables", func(t *testing.T) {
		// label_values(sailpoint_up, job) and label_values(sailpoint_up{job=~"$job"}, instance).
		for _, tc := range []struct{ label, match, want string }{
			{"job", "sailpoint_up", jobName},
			{"instance", fmt.Sprintf(`sailpoint_up{job=~%q}`, jobName), exporterAddr},
		} {
			values, err := prom.labelValues(ctx, tc.label, tc.match)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(values, tc.want) {
				t.Errorf("label_values(%s, %s) = %v, want it to contain %q", tc.match, tc.label, values, tc.want)
			}
		}
	})

	t.Run("no tenant label without a configuration file", func(t *testing.T) {
		// label_values(sailpoint_up{…}, tenant) is empty: the tenant
		// variable offers All alone, whose .* matches the series without
		// the label (the queries below run with it).
		values, err := prom.labelValues(ctx, "tenant", fmt.Sprintf(`sailpoint_up{job=~%q}`, jobName))
		if err != nil {
			t.Fatal(err)
		}
		if len(values) != 0 {
			t.Errorf("label_values(sailpoint_up, tenant) = %v for an exporter of one tenant without --config.file, want none", values)
		}
	})

	t.Run("dashboard queries", func(t *testing.T) {
		queries := dashboardQueries(t, filepath.Join(root, "dashboards"))
		for _, rec := range recordingRules(ctx, t, prom) {
			queries = append(queries, namedQuery{"recording rule " + rec, rec})
		}
		vars := map[string]string{"job": jobName, "instance": exporterAddr, "tenant": allTenants}
		for k, v := range grafanaVars {
			vars[k] = v
		}
		pending := map[string]namedQuery{}
		for _, q := range queries {
			pending[q.name] = namedQuery{q.name, substitute(q.expr, vars)}
		}
		t.Logf("running %d queries", len(pending))
		// Rates need two samples and some panels need a failure to have
		// happened: poll until every query answers or time runs out.
		queryDeadline := time.Now().Add(150 * time.Second)
		lastErr := map[string]string{}
		for len(pending) > 0 && time.Now().Before(queryDeadline) && ctx.Err() == nil {
			for name, q := range pending {
				res, err := prom.query(ctx, q.expr)
				switch {
				case err != nil:
					lastErr[name] = err.Error()
				case len(res) == 0:
					lastErr[name] = "empty result"
				default:
					delete(pending, name)
				}
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
	})

	tenant := findDemoTenant(ctx, t, exporterLog)
	vars := map[string]string{"job": jobName, "instance": exporterAddr, "tenant": allTenants}
	for k, v := range grafanaVars {
		vars[k] = v
	}
	t.Run("source names", func(t *testing.T) { checkSourceNames(ctx, t, prom, tenant, root, vars) })
	t.Run("aggregation panels name sources", func(t *testing.T) { checkAggregationPanels(ctx, t, prom, tenant, root, vars) })
	t.Run("exemplar of a failed activity", func(t *testing.T) { checkExemplar(ctx, t, prom, tenant) })
	t.Run("source unhealthy alert fires", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		checkSourceUnhealthyFires(ctx, t, prom, tenant, exporterStarted)
	})

	t.Run("rule groups healthy", func(t *testing.T) {
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
		if len(groups) == 0 {
			t.Fatal("Prometheus loaded no rule group")
		}
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.Health != "ok" || r.LastError != "" {
					t.Errorf("group %s rule %s: health %q, error %q", g.Name, r.Name, r.Health, r.LastError)
				}
			}
		}
		checkAlertConventions(t, root, groups)
	})

	t.Run("failed provisioning alert fires", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		alert := waitFor(ctx, t, firingAlert+" to fire", func() (alert, error) {
			alerts, err := prom.alerts(ctx)
			if err != nil {
				return alert{}, err
			}
			var states []string
			for _, a := range alerts {
				if a.Labels["alertname"] != firingAlert {
					continue
				}
				if a.State == "firing" {
					return a, nil
				}
				states = append(states, a.State)
			}
			return alert{}, fmt.Errorf("%s states: %v", firingAlert, states)
		})
		for k, want := range map[string]string{"job": jobName, "instance": exporterAddr, "severity": "warning"} {
			if got := alert.Labels[k]; got != want {
				t.Errorf("label %s = %q, want %q", k, got, want)
			}
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$|^other$|^none$`).MatchString(alert.Labels["source_id"]) {
			t.Errorf("source_id label %q is not a source id", alert.Labels["source_id"])
		}
		desc := alert.Annotations["description"]
		if desc == "" || strings.Contains(desc, "<no value>") || !strings.Contains(desc, alert.Labels["source_id"]) {
			t.Errorf("description not rendered: %q", desc)
		}
		// It names the source as the tenant does (or by its id where the
		// tenant lists none: none, other).
		if want := wantName(tenant.sourceNames(ctx, t), alert.Labels["source_id"]); alert.Labels["source_name"] != want || !strings.Contains(desc, want) {
			t.Errorf("source_name %q and description %q, want the source's name %q", alert.Labels["source_name"], desc, want)
		}
		t.Logf("fired: %s", desc)
	})

	t.Run("failed aggregation alert fires", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		checkAggregationFailedFires(ctx, t, prom, tenant, exporterAddr)
	})
}

// checkAggregationFailedFires waits for SailPointSourceAggregationFailed to
// fire from the demo's own failed aggregations, checks it names the source
// as the tenant does and the task type, and has the tenant confirm the task
// the failure counter's exemplar (task_id) points at: that source's, of that
// type, finished ERROR or TERMINATED.
func checkAggregationFailedFires(ctx context.Context, t *testing.T, prom *promAPI, tenant *demoTenant, exporterAddr string) {
	a := waitFor(ctx, t, aggregationAlert+" to fire", func() (alert, error) {
		alerts, err := prom.alerts(ctx)
		if err != nil {
			return alert{}, err
		}
		var states []string
		for _, a := range alerts {
			if a.Labels["alertname"] != aggregationAlert {
				continue
			}
			if a.State == "firing" {
				return a, nil
			}
			states = append(states, a.State)
		}
		return alert{}, fmt.Errorf("%s states: %v", aggregationAlert, states)
	})
	for k, want := range map[string]string{"job": jobName, "instance": exporterAddr, "severity": "warning"} {
		if got := a.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	id, typ := a.Labels["source_id"], a.Labels["type"]
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("source_id label %q is not a source id", id)
	}
	if typ != "CLOUD_ACCOUNT_AGGREGATION" && typ != "CLOUD_GROUP_AGGREGATION" {
		t.Errorf("type label %q is not a watched task type", typ)
	}
	desc := a.Annotations["description"]
	want := wantName(tenant.sourceNames(ctx, t), id)
	if a.Labels["source_name"] != want || !strings.Contains(desc, want) || !strings.Contains(desc, typ) || strings.Contains(desc, "<no value>") {
		t.Errorf("source_name %q and description %q, want the source's name %q and the type %s", a.Labels["source_name"], desc, want, typ)
	}
	t.Logf("fired: %s", desc)

	// The task behind it: the latest failed task of that series, from its
	// exemplar, as the tenant itself tells it.
	query := fmt.Sprintf(`sailpoint_source_aggregations_completed_total{job=%q, source_id=%q, type=%q, completion_status=~"ERROR|TERMINATED"}`, jobName, id, typ)
	series := prom.waitForExemplars(ctx, t, "an exemplar on the failed aggregations' series", query)
	confirmed := 0
	for _, s := range series {
		for _, ex := range s.Exemplars {
			taskID := ex.Labels["task_id"]
			if len(ex.Labels) != 1 || taskID == "" {
				t.Errorf("exemplar labels %v, want task_id alone", ex.Labels)
				continue
			}
			var task struct {
				CompletionStatus *string `json:"completionStatus"`
				Target           *struct {
					ID string `json:"id"`
				} `json:"target"`
			}
			if err := tenant.get(ctx, "/v2025/task-status/"+url.PathEscape(taskID), &task); err != nil {
				t.Errorf("exemplar %s of %v: %v", taskID, s.SeriesLabels, err)
				continue
			}
			status := ""
			if task.CompletionStatus != nil {
				status = *task.CompletionStatus
			}
			if status != s.SeriesLabels["completion_status"] || task.Target == nil || task.Target.ID != id {
				t.Errorf("exemplar task %s of %v: the tenant says completionStatus %q, target %+v", taskID, s.SeriesLabels, status, task.Target)
				continue
			}
			confirmed++
		}
	}
	if confirmed == 0 {
		t.Error("no exemplar task confirmed by the tenant")
	}
	t.Logf("%d failed task(s) behind the alert's exemplars confirmed by the tenant", confirmed)
}

// checkAggregationPanels: the provisioning dashboard's aggregation panels
// that show sources show them by the tenant's names, and the last-success
// table has a row for every source and type the exporter reports.
func checkAggregationPanels(ctx context.Context, t *testing.T, prom *promAPI, tenant *demoTenant, root string, vars map[string]string) {
	names := tenant.sourceNames(ctx, t)
	checked := 0
	for _, q := range dashboardQueries(t, filepath.Join(root, "dashboards")) {
		if !strings.Contains(q.name, "provisioning.json") || !strings.Contains(q.expr, "source_name") || !strings.Contains(q.expr, "sailpoint_source_aggregation") {
			continue
		}
		expr := substitute(q.expr, vars)
		got := waitFor(ctx, t, q.name+" to show a source", func() ([]map[string]string, error) {
			res, err := prom.query(ctx, expr)
			if err == nil && len(res) == 0 {
				err = errors.New("empty result")
			}
			if err != nil {
				return nil, err
			}
			return metrics(t, res), nil
		})
		for _, m := range got {
			if m["source_id"] == "" || m["type"] == "" || m["source_name"] != wantName(names, m["source_id"]) {
				t.Errorf("%s: %v, want source_id and type, and source_name %q", q.name, m, wantName(names, m["source_id"]))
			}
		}
		t.Logf("%s shows %d sources and types by name", q.name, len(got))
		checked++
	}
	if checked < 4 {
		t.Errorf("%d aggregation panels with source names checked, want the table's two, failures, in progress and oldest in progress", checked)
	}
}

// checkAlertConventions holds the shipped alerts to the house rules, as
// Prometheus itself parsed them.
func checkAlertConventions(t *testing.T, root string, groups []ruleGroup) {
	t.Helper()
	runbook, err := os.ReadFile(filepath.Join(root, "alerts", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(runbook))
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, alertsSection, _ := strings.Cut(string(readme), "\n## Alerts and recording rules\n")
	alertsSection, _, _ = strings.Cut(alertsSection, "\n## ")
	tests := readAll(t, filepath.Join(root, "alerts", "tests", "*.yml"))
	const runbookPrefix = "https://github.com/sailpoint-exporter/sailpoint_exporter/blob/main/alerts/runbook.md#"
	name := regexp.MustCompile(`^SailPoint[A-Z][A-Za-z0-9]*$`)
	seen := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Type != "alerting" {
				continue
			}
			seen++
			if !name.MatchString(r.Name) || len(r.Name) > 40 {
				t.Errorf("alert %q: want CamelCase starting with SailPoint, at most 40 characters", r.Name)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("alert %s: severity %q", r.Name, s)
			}
			summary := r.Annotations["summary"]
			if summary == "" || strings.Contains(summary, "{{") || !strings.HasSuffix(summary, ".") || strings.ToUpper(summary[:1]) != summary[:1] {
				t.Errorf("alert %s: summary %q is not one static sentence", r.Name, summary)
			}
			if !strings.Contains(r.Annotations["description"], "{{") {
				t.Errorf("alert %s: description %q is not templated", r.Name, r.Annotations["description"])
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookPrefix)
			if !ok || !anchors[anchor] {
				t.Errorf("alert %s: runbook_url %q does not point at a section of alerts/runbook.md", r.Name, r.Annotations["runbook_url"])
			}
			if strings.Contains(r.Query, "job=") || strings.Contains(r.Query, "job!") {
				t.Errorf("alert %s: query depends on a job name: %s", r.Name, r.Query)
			}
			// Tenants: every alert about a tenant keeps its label through every
			// aggregation and join, and names it first in its description. The
			// exporter's own up has none.
			if r.Name != "SailPointExporterDown" {
				for _, l := range groupingOrJoin.FindAllStringSubmatch(r.Query, -1) {
					if !slices.Contains(strings.Split(strings.ReplaceAll(l[2], " ", ""), ","), "tenant") {
						t.Errorf("alert %s: %s without tenant: two tenants would merge or collide", r.Name, l[0])
					}
				}
				if !strings.HasPrefix(r.Annotations["description"], tenantPrefix) {
					t.Errorf("alert %s: description does not start with %s", r.Name, tenantPrefix)
				}
			}
			if n := strings.Count(tests, "alertname: "+r.Name+"\n"); n < 2 {
				t.Errorf("alert %s: %d promtool test cases, want one that fires and one that stays silent", r.Name, n)
			}
			if !strings.Contains(alertsSection, "\n| `"+r.Name+"` |") {
				t.Errorf("alert %s is not in the alerts table of README.md's \"Alerts and recording rules\"", r.Name)
			}
		}
	}
	if seen == 0 {
		t.Error("no alerting rule loaded")
	}
}

// groupingOrJoin is an aggregation's by or a join's on, with its labels.
var groupingOrJoin = regexp.MustCompile(`\b(by|on)\s*\(([^)]*)\)`)

// tenantPrefix starts every description of an alert about a tenant: the
// tenant's name, or nothing without a tenant label.
const tenantPrefix = "{{ with $labels.tenant }}Tenant {{ . }}: {{ end }}"

// markdownAnchors returns the anchors GitHub generates for the headings.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		h = drop.ReplaceAllString(strings.ToLower(h), "")
		out[strings.ReplaceAll(h, " ", "-")] = true
	}
	return out
}

// writeShortenedRules copies the shipped rules with every for: set to
// shortFor. The shipped file itself is never changed.
func writeShortenedRules(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	forLine := regexp.MustCompile(`(?m)^([ \t]+for:[ \t]*)\S+[ \t]*$`)
	if len(forLine.FindAll(raw, -1)) == 0 {
		t.Fatalf("no for: line found in %s", from)
	}
	writeFile(t, to, string(forLine.ReplaceAll(raw, []byte("${1}"+shortFor))))
}

type namedQuery struct{ name, expr string }

// dashboardQueries returns every target of every panel of every dashboard.
func dashboardQueries(t *testing.T, dir string) []namedQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dir, err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	}
	var out []namedQuery
	var walk func(file string, ps []panel)
	walk = func(file string, ps []panel) {
		for _, p := range ps {
			walk(file, p.Panels)
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s panel %q target %s has no expr", file, p.Title, tg.RefID)
					continue
				}
				out = append(out, namedQuery{fmt.Sprintf("%s / %s / %s", file, p.Title, tg.RefID), tg.Expr})
			}
		}
	}
	for _, f := range files {
		var d struct {
			Panels []panel `json:"panels"`
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(filepath.Base(f), d.Panels)
	}
	return out
}

// recordingRules returns the names of the recording rules Prometheus loaded.
func recordingRules(ctx context.Context, t *testing.T, prom *promAPI) []string {
	t.Helper()
	groups, err := prom.rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Type == "recording" {
				out = append(out, r.Name)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no recording rule loaded")
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)`)

// substitute replaces Grafana variables the way a dashboard would.
func substitute(expr string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2]
		if v, ok := vars[name]; ok {
			return v
		}
		return ref
	})
}

// promAPI is a minimal client of Prometheus's HTTP API.
type promAPI struct{ base string }

type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Name           string            `json:"name"`
		Type           string            `json:"type"`
		Query          string            `json:"query"`
		Health         string            `json:"health"`
		LastError      string            `json:"lastError"`
		LastEvaluation time.Time         `json:"lastEvaluation"`
		Labels         map[string]string `json:"labels"`
		Annotations    map[string]string `json:"annotations"`
	} `json:"rules"`
}

func (p *promAPI) get(ctx context.Context, path string, params url.Values, data any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	b, err := httpGet(ctx, u)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// query runs an instant query and returns its samples (or the scalar).
// startPrometheus starts a real Prometheus on loopback that scrapes the
// exporter at exporterAddr every 2 s, as job jobName, with a copy of the
// shipped rules whose for: durations are short enough for a test, and
// returns its API once it is ready.
func startPrometheus(ctx context.Context, t *testing.T, bin, root, tmp, exporterAddr string, extra ...string) *promAPI {
	t.Helper()
	rulesCopy := filepath.Join(tmp, "sailpoint.rules.yml")
	writeShortenedRules(t, filepath.Join(root, "alerts", "sailpoint.rules.yml"), rulesCopy)
	promConfig := filepath.Join(tmp, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(`global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - %q
scrape_configs:
  - job_name: %q
    static_configs:
      - targets: [%q]
`, rulesCopy, jobName, exporterAddr))
	promAddr := freeAddr(ctx, t)
	promAlive := startProcess(ctx, t, "prometheus", filepath.Join(tmp, "prometheus.log"), bin, append([]string{
		"--config.file=" + promConfig,
		"--storage.tsdb.path=" + filepath.Join(tmp, "data"),
		"--web.listen-address=" + promAddr,
	}, extra...)...)
	prom := &promAPI{base: "http://" + promAddr}
	waitFor(promAlive, t, "Prometheus to be ready", func() (struct{}, error) {
		_, err := httpGet(ctx, prom.base+"/-/ready")
		return struct{}{}, err
	})
	return prom
}

// exemplarSeries is one series of Prometheus' /api/v1/query_exemplars.
type exemplarSeries struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []struct {
		Labels    map[string]string `json:"labels"`
		Value     string            `json:"value"`
		Timestamp float64           `json:"timestamp"`
	} `json:"exemplars"`
}

// waitForExemplars polls the exemplars of query over the last hour until
// a series has one.
func (p *promAPI) waitForExemplars(ctx context.Context, t *testing.T, what, query string) []exemplarSeries {
	t.Helper()
	return waitFor(ctx, t, what, func() ([]exemplarSeries, error) {
		var data []exemplarSeries
		now := time.Now()
		params := url.Values{"query": {query}, "start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}}
		if err := p.get(ctx, "/api/v1/query_exemplars", params, &data); err != nil {
			return nil, err
		}
		for _, s := range data {
			if len(s.Exemplars) > 0 {
				return data, nil
			}
		}
		return nil, errors.New("no exemplar stored yet")
	})
}

func (p *promAPI) query(ctx context.Context, expr string) ([]json.RawMessage, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType == "scalar" || data.ResultType == "string" {
		return []json.RawMessage{data.Result}, nil
	}
	var res []json.RawMessage
	err := json.Unmarshal(data.Result, &res)
	return res, err
}

func (p *promAPI) labelValues(ctx context.Context, label, match string) ([]string, error) {
	var values []string
	err := p.get(ctx, "/api/v1/label/"+label+"/values", url.Values{"match[]": {match}}, &values)
	return values, err
}

func (p *promAPI) rules(ctx context.Context) ([]ruleGroup, error) {
	var data struct {
		Groups []ruleGroup `json:"groups"`
	}
	err := p.get(ctx, "/api/v1/rules", nil, &data)
	return data.Groups, err
}

func (p *promAPI) alerts(ctx context.Context) ([]alert, error) {
	var data struct {
		Alerts []alert `json:"alerts"`
	}
	err := p.get(ctx, "/api/v1/alerts", nil, &data)
	return data.Alerts, err
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, nil
}

// waitFor polls try every second until it succeeds, failing the test with
// try's last error when the context ends.
func waitFor[T any](ctx context.Context, t *testing.T, what string, try func() (T, error)) T {
	t.Helper()
	start := time.Now()
	for {
		v, err := try()
		if err == nil {
			t.Logf("waited %s for %s", time.Since(start).Round(time.Second), what)
			return v
		}
		if ctx.Err() != nil {
			t.Fatalf("gave up after %s waiting for %s (%v): %v", time.Since(start).Round(time.Second), what, context.Cause(ctx), err)
		}
		sleep(ctx, time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// startProcess starts a long-running binary with its output in logFile, and
// stops it, by its PID, when the test ends. A failed test shows the log. The
// context it returns ends when the process exits, so that nothing waits for
// a process that is gone.
func startProcess(ctx context.Context, t *testing.T, name, logFile, bin string, args ...string) context.Context {
	t.Helper()
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Logf("started %s, pid %d: %s %s", name, cmd.Process.Pid, bin, strings.Join(args, " "))
	alive, exited := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		exited(fmt.Errorf("%s exited: %w", name, err))
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = log.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logFile)
			if len(out) > 8000 {
				out = out[len(out)-8000:]
			}
			t.Logf("%s log (tail):\n%s", name, out)
		}
	})
	return alive
}

// built is the exporter, compiled once per test binary run for every test
// that runs it (they run in parallel); TestMain removes it.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildExporter builds the exporter from this tree, once, and returns the
// binary's path.
func buildExporter(ctx context.Context, t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "sailpoint_exporter-e2e"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "sailpoint_exporter")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		build := exec.CommandContext(ctx, goBin, "build", "-o", built.bin, ".")
		build.Dir = repoRoot(t)
		built.out, built.err = build.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build of the exporter: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// findBinary finds a required tool, failing with what to install.
func findBinary(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: this end-to-end test needs Prometheus (2.42 or later) and promtool. "+
			"Install them (Debian/Ubuntu: apt-get install prometheus) or point %s at the binary; "+
			"run go test -short to skip this test.", name, env)
	}
	return p
}

// repoRoot is the directory of the exporter's go.mod, one up from here.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod above %s: %v", wd, err)
	}
	return root
}

func freeAddr(ctx context.Context, t *testing.T) string {
	t.Helper()
	return ports.free(ctx, t)
}

// ports hands out loopback ports for the exporters and Prometheus servers
// the tests start, below the kernel's ephemeral range: a listener on port 0
// and the source port of every outgoing connection come from that range,
// and one of them took a port picked there between the check and the
// exporter's bind, under load ("bind: address already in use"). Below it,
// only a port handed out here could collide, and none is handed out twice,
// so a port stays the exporter's across its kills and restarts.
var ports = portPool{given: map[int]bool{}}

type portPool struct {
	mu    sync.Mutex
	given map[int]bool
	next  int
}

func (p *portPool) free(ctx context.Context, t *testing.T) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	low, span := ephemeralLow()-1, 10_000
	if p.next == 0 {
		// Another process running these tests starts elsewhere in the span.
		p.next = os.Getpid() % span
	}
	for range span {
		port := low - p.next%span
		p.next++
		if p.given[port] {
			continue
		}
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // another process's
		}
		_ = l.Close()
		p.given[port] = true
		return l.Addr().String()
	}
	t.Fatalf("no free loopback port in the %d below %d", span, low+1)
	return ""
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when it cannot be read).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11_000 {
				low = n
			}
		}
	}
	return low
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, glob string) string {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s: %v", glob, err)
	}
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}
