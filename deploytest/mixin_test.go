package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	jsonnet "github.com/google/go-jsonnet"
	"sigs.k8s.io/yaml"
)

// mixinOutput is what a mixin user (kube-prometheus, mixtool, jsonnet -e) reads.
type mixinOutput struct {
	Alerts     ruleFile                  `json:"alerts"`
	Rules      ruleFile                  `json:"rules"`
	Dashboards map[string]map[string]any `json:"dashboards"`
	Config     map[string]any            `json:"config"`
}

type ruleFile struct {
	Groups []map[string]any `json:"groups"`
}

// evalMixin evaluates sailpoint-mixin/mixin.libsonnet with go-jsonnet, with config (a
// Jsonnet object literal) merged into its _config.
func evalMixin(t *testing.T, config string) mixinOutput {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "sailpoint-mixin")
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{dir}})
	snippet := fmt.Sprintf(`
local mixin = (import 'mixin.libsonnet') + { _config+:: %s };
{
  alerts: mixin.prometheusAlerts,
  rules: mixin.prometheusRules,
  dashboards: mixin.grafanaDashboards,
  config: mixin._config,
}`, config)
	out, err := vm.EvaluateAnonymousSnippet(filepath.Join(dir, "mixin_test.jsonnet"), snippet)
	if err != nil {
		t.Fatalf("evaluating the mixin with _config+:: %s: %v", config, err)
	}
	var m mixinOutput
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// shippedRules is alerts/sailpoint.rules.yml as generic JSON data.
func shippedRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "alerts", "sailpoint.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func shippedDashboards(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

func isRecordingOnly(g map[string]any) bool {
	for _, r := range rulesOf(g) {
		if _, ok := r["record"]; !ok {
			return false
		}
	}
	return true
}

func rulesOf(g map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := g["rules"].([]any)
	for _, r := range list {
		out = append(out, r.(map[string]any))
	}
	return out
}

// mixinGroups puts prometheusAlerts' and prometheusRules' groups back in one list, in the
// order of alerts/sailpoint.rules.yml, checking each is where it belongs.
func mixinGroups(t *testing.T, m mixinOutput, order []map[string]any) []map[string]any {
	t.Helper()
	byName := map[string]map[string]any{}
	for _, g := range m.Alerts.Groups {
		if isRecordingOnly(g) {
			t.Errorf("group %v has only recording rules but is in prometheusAlerts", g["name"])
		}
		byName[g["name"].(string)] = g
	}
	for _, g := range m.Rules.Groups {
		if !isRecordingOnly(g) {
			t.Errorf("group %v has alerts but is in prometheusRules", g["name"])
		}
		if _, dup := byName[g["name"].(string)]; dup {
			t.Errorf("group %v is in both prometheusAlerts and prometheusRules", g["name"])
		}
		byName[g["name"].(string)] = g
	}
	if len(byName) != len(order) {
		t.Errorf("the mixin has %d groups, alerts/sailpoint.rules.yml %d", len(byName), len(order))
	}
	var out []map[string]any
	for _, g := range order {
		out = append(out, byName[g["name"].(string)])
	}
	return out
}

// TestMixinDefaultsEqualShippedFiles: with the default _config the mixin is exactly what
// alerts/ and dashboards/ hold.
func TestMixinDefaultsEqualShippedFiles(t *testing.T) {
	m := evalMixin(t, "{}")
	for k, want := range map[string]any{
		"selector":                  "",
		"runbookURLPattern":         shippedRunbook,
		"provisioningSLOTarget":     0.99,
		"aggregationFailureWindow":  "15m",
		"aggregationStuckSeconds":   21600.0,
		"aggregationMissingSeconds": 93600.0,
	} {
		if got := m.Config[k]; got != want {
			t.Errorf("_config.%s = %v, want %v", k, got, want)
		}
	}
	shipped := shippedRules(t)
	got := mixinGroups(t, m, shipped.Groups)
	if d := firstDiff(generic(t, got), generic(t, shipped.Groups), "groups"); d != "" {
		t.Errorf("mixin rules differ from alerts/sailpoint.rules.yml at %s", d)
	}
	var alerts, records int
	for _, g := range got {
		for _, r := range rulesOf(g) {
			if _, ok := r["alert"]; ok {
				alerts++
			} else {
				records++
			}
		}
	}
	t.Logf("default _config: %d groups, %d alerting and %d recording rules equal alerts/sailpoint.rules.yml", len(got), alerts, records)

	dashboards := shippedDashboards(t)
	if names, want := keys(m.Dashboards), keys(dashboards); !slices.Equal(names, want) {
		t.Fatalf("grafanaDashboards %v, dashboards/ holds %v: list new dashboards in sailpoint-mixin/dashboards.libsonnet", names, want)
	}
	for name, want := range dashboards {
		if d := firstDiff(generic(t, m.Dashboards[name]), generic(t, want), name); d != "" {
			t.Errorf("grafanaDashboards differs from dashboards/ at %s", d)
		}
	}
	t.Logf("default _config: %d dashboards equal dashboards/", len(dashboards))
}

// The custom configuration of TestMixinCustomConfig.
const (
	customSelector = `job="isc-prod", namespace=~"identity|iam"`
	customRunbook  = "https://runbooks.example.com/sailpoint/%s.html"
	customTarget   = "0.995"
)

// metricToken finds the metric names the shipped rules and dashboards use; the check below
// needs no PromQL parser because it also compares against the shipped text.
var metricToken = regexp.MustCompile(`\b(?:sailpoint_[a-z_]+|job_instance[a-z_]*:[a-z_]+:[a-z0-9_]+|up|ALERTS|process_[a-z_]+)\b`)

// codeOnly blanks out PromQL comments and strings, keeping every offset.
func codeOnly(expr string) string {
	blank := func(s string) string { return strings.Repeat(" ", len(s)) }
	expr = regexp.MustCompile(`(?m)#.*$`).ReplaceAllStringFunc(expr, blank)
	return regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllStringFunc(expr, func(s string) string { return `"` + blank(s[2:]) + `"` })
}

// checkSelectorReaches asserts that custom is shipped with the selector added to every
// series selector (each metric name is followed by {selector) and nothing else changed but
// the SLO target.
func checkSelectorReaches(t *testing.T, what, shipped, custom string) {
	t.Helper()
	stripped := strings.ReplaceAll(custom, "{"+customSelector+", ", "{")
	stripped = strings.ReplaceAll(stripped, "{"+customSelector+"}", "")
	stripped = strings.ReplaceAll(stripped, "(1 - "+customTarget+")", shippedSLOToken)
	if stripped != shipped {
		t.Errorf("%s: with the selector removed, the expression is not the shipped one\n got %s\nwant %s", what, stripped, shipped)
	}
	n := 0
	for _, loc := range metricToken.FindAllStringIndex(codeOnly(custom), -1) {
		after := strings.TrimLeft(custom[loc[1]:], " \t\n")
		if strings.HasPrefix(after, "(") {
			continue // a function of that name, not a series
		}
		n++
		if !strings.HasPrefix(after, "{"+customSelector) {
			t.Errorf("%s: no selector after %s in %s", what, custom[loc[0]:loc[1]], custom)
		}
	}
	if n == 0 {
		t.Errorf("%s: no series selector found in %s", what, custom)
	}
}

// TestMixinCustomConfig: a selector, a runbook pattern and an SLO target of one's own reach
// every alert (and every rule and dashboard query).
func TestMixinCustomConfig(t *testing.T) {
	config := fmt.Sprintf(`{ selector: %q, runbookURLPattern: %q, provisioningSLOTarget: %s }`, customSelector, customRunbook, customTarget)
	m := evalMixin(t, config)
	shipped := shippedRules(t)
	got := mixinGroups(t, m, shipped.Groups)
	var alerts, records, slo int
	for gi, g := range got {
		want := rulesOf(shipped.Groups[gi])
		for ri, r := range rulesOf(g) {
			w := want[ri]
			name, _ := r["alert"].(string)
			if name == "" {
				name = r["record"].(string)
				records++
			} else {
				alerts++
				ann := r["annotations"].(map[string]any)
				if url := ann["runbook_url"]; url != fmt.Sprintf(customRunbook, strings.ToLower(name)) {
					t.Errorf("alert %s: runbook_url %v, want the custom pattern", name, url)
				}
				wantAnn := w["annotations"].(map[string]any)
				for k, v := range wantAnn {
					if k != "runbook_url" && ann[k] != v {
						t.Errorf("alert %s: annotation %s changed", name, k)
					}
				}
			}
			expr, shippedExpr := r["expr"].(string), w["expr"].(string)
			checkSelectorReaches(t, name, shippedExpr, expr)
			if strings.Contains(shippedExpr, shippedSLOToken) {
				slo++
				if strings.Contains(expr, shippedSLOToken) || !strings.Contains(expr, "(1 - "+customTarget+")") {
					t.Errorf("%s: SLO target not set to %s: %s", name, customTarget, expr)
				}
			}
			for k := range w {
				if k != "expr" && k != "annotations" && !reflect.DeepEqual(r[k], w[k]) {
					t.Errorf("%s: %s changed from %v to %v", name, k, w[k], r[k])
				}
			}
		}
	}
	if slo < 3 {
		t.Errorf("%d rules carry the SLO target, want the 3 burn-rate alerts", slo)
	}
	t.Logf("custom _config: selector, runbook URL and SLO target checked on %d alerts and %d recording rules (%d with the SLO target)", alerts, records, slo)

	dashboards := shippedDashboards(t)
	var targets, variables, sloPanels int
	for name, d := range m.Dashboards {
		walkTargets(d["panels"], shippedPanels(dashboards[name]), func(title, got, want string) {
			targets++
			checkSelectorReaches(t, name+" / "+title, want, got)
			if strings.Contains(want, shippedSLOToken) {
				sloPanels++
			}
		})
		vars := d["templating"].(map[string]any)["list"].([]any)
		for _, v := range vars {
			v := v.(map[string]any)
			if v["type"] != "query" {
				continue
			}
			variables++
			q := v["query"].(map[string]any)["query"].(string)
			if !strings.HasPrefix(q, "label_values(sailpoint_up{"+customSelector) || v["definition"] != q {
				t.Errorf("%s variable %s: query %q, definition %q: want the selector on sailpoint_up", name, v["name"], q, v["definition"])
			}
		}
	}
	if sloPanels < 2 {
		t.Errorf("%d dashboard queries carry the SLO target, want the error budget and burn rate panels", sloPanels)
	}
	t.Logf("custom _config: %d dashboard queries and %d variables carry the selector", targets, variables)

	// Prometheus itself accepts what the mixin made.
	promtool := os.Getenv("PROMTOOL_BIN")
	if promtool == "" {
		promtool, _ = exec.LookPath("promtool")
	}
	if promtool == "" {
		if testing.Short() {
			t.Skip("promtool not found; -short skips its check of the mixin's rules")
		}
		t.Fatal("promtool not found in PATH (or PROMTOOL_BIN): it checks the mixin's rules; go test -short skips it")
	}
	all := ruleFile{Groups: append(append([]map[string]any{}, m.Alerts.Groups...), m.Rules.Groups...)}
	file := filepath.Join(t.TempDir(), "mixin.rules.yml")
	if err := os.WriteFile(file, mustYAML(t, all), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the mixin's rules with a custom _config: %v\n%s", err, out)
	}
}

// TestMixinRejectsBadTarget: an SLO target that is no share, or an aggregation threshold
// that is no duration or number of seconds, fails the evaluation.
func TestMixinRejectsBadTarget(t *testing.T) {
	vm := jsonnet.MakeVM()
	dir := filepath.Join(repoRoot(t), "sailpoint-mixin")
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{dir}})
	for _, tc := range []struct{ config, output, want string }{
		{`provisioningSLOTarget: 99`, "prometheusAlerts", "provisioningSLOTarget"},
		{`aggregationFailureWindow: '15 minutes'`, "prometheusAlerts", "aggregationFailureWindow"},
		{`aggregationFailureWindow: 900`, "prometheusAlerts", "aggregationFailureWindow"},
		{`aggregationStuckSeconds: '6h'`, "prometheusAlerts", "aggregationStuckSeconds"},
		{`aggregationMissingSeconds: 0`, "prometheusAlerts", "aggregationMissingSeconds"},
		{`aggregationMissingSeconds: -1`, "grafanaDashboards", "aggregationMissingSeconds"},
	} {
		_, err := vm.EvaluateAnonymousSnippet(filepath.Join(dir, "x.jsonnet"),
			fmt.Sprintf(`((import 'mixin.libsonnet') + { _config+:: { %s } }).%s`, tc.config, tc.output))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("_config %s: evaluation error %v, want one about %s", tc.config, err, tc.want)
		}
	}
}

// The aggregation thresholds as shipped in alerts/ and dashboards/, and as
// TestMixinAggregationThresholds sets them.
var aggregationThresholds = []struct {
	alert, shipped, custom string
	description            [2]string // a part of the description that changes with it
}{
	{"SailPointSourceAggregationFailed", "[15m]", "[2h]", [2]string{"in the last 15 minutes", "in the last 2h"}},
	{"SailPointSourceAggregationStuck", "> 21600", "> 43200", [2]string{}},
	{"SailPointSourceAggregationMissing", "> 93600", "> 691200", [2]string{}},
}

// TestMixinAggregationThresholds: the failure window and the stuck and missing thresholds of
// _config reach their alerts (expression and description) and the dashboard panels coloured
// by them, and change nothing else.
func TestMixinAggregationThresholds(t *testing.T) {
	m := evalMixin(t, `{ aggregationFailureWindow: '2h', aggregationStuckSeconds: 43200, aggregationMissingSeconds: 8 * 86400 }`)
	shipped := shippedRules(t)
	got := mixinGroups(t, m, shipped.Groups)
	want := generic(t, shipped.Groups).([]any)
	tuned := 0
	for gi, g := range want {
		for ri, r := range g.(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			for _, th := range aggregationThresholds {
				if r["alert"] != th.alert {
					continue
				}
				tuned++
				expr := r["expr"].(string)
				if strings.Count(expr, th.shipped) != 1 {
					t.Fatalf("%s: %q is not in its shipped expression once: %s", th.alert, th.shipped, expr)
				}
				r["expr"] = strings.Replace(expr, th.shipped, th.custom, 1)
				if th.description[0] != "" {
					ann := r["annotations"].(map[string]any)
					ann["description"] = strings.Replace(ann["description"].(string), th.description[0], th.description[1], 1)
				}
			}
			want[gi].(map[string]any)["rules"].([]any)[ri] = r
		}
	}
	if tuned != len(aggregationThresholds) {
		t.Fatalf("found %d of the %d aggregation alerts in alerts/sailpoint.rules.yml", tuned, len(aggregationThresholds))
	}
	if d := firstDiff(generic(t, got), want, "groups"); d != "" {
		t.Errorf("with the aggregation thresholds set, the rules differ from the shipped ones with those values at %s", d)
	}

	// The dashboards: the panels' threshold steps at the shipped values move with them.
	panels := map[string][2]float64{
		"Last successful aggregation by source":    {93600, 8 * 86400},
		"Oldest aggregation in progress by source": {21600, 43200},
		"Aggregation duration by type (p50, p95)":  {21600, 43200},
	}
	dashboards := shippedDashboards(t)
	moved := 0
	for name, d := range dashboards {
		raw := mustJSON(t, d)
		var w map[string]any
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatal(err)
		}
		for _, p := range w["panels"].([]any) {
			p := p.(map[string]any)
			if v, ok := panels[p["title"].(string)]; ok {
				moved += replaceSteps(p["fieldConfig"], v[0], v[1])
			}
		}
		if d := firstDiff(generic(t, m.Dashboards[name]), generic(t, w), name); d != "" {
			t.Errorf("with the aggregation thresholds set, grafanaDashboards differs from dashboards/ with those values at %s", d)
		}
	}
	if moved < len(panels) {
		t.Errorf("%d threshold steps moved, want at least one in each of %d panels", moved, len(panels))
	}
	t.Logf("aggregation thresholds: %d alerts and %d dashboard threshold steps set, nothing else changed", tuned, moved)

	promtool := os.Getenv("PROMTOOL_BIN")
	if promtool == "" {
		promtool, _ = exec.LookPath("promtool")
	}
	if promtool == "" {
		t.Skip("promtool not found: its check of these rules is left out (TestMixinCustomConfig says why that fails without -short)")
	}
	all := ruleFile{Groups: append(append([]map[string]any{}, m.Alerts.Groups...), m.Rules.Groups...)}
	file := filepath.Join(t.TempDir(), "mixin.rules.yml")
	if err := os.WriteFile(file, mustYAML(t, all), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the mixin's rules with the aggregation thresholds set: %v\n%s", err, out)
	}
}

// replaceSteps sets the threshold steps of value from, anywhere in v, to to, and returns
// how many it set.
func replaceSteps(v any, from, to float64) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if steps, ok := e.([]any); ok && k == "steps" {
				for _, s := range steps {
					if s, ok := s.(map[string]any); ok && s["value"] == from {
						s["value"] = to
						n++
					}
				}
				continue
			}
			n += replaceSteps(e, from, to)
		}
	case []any:
		for _, e := range x {
			n += replaceSteps(e, from, to)
		}
	}
	return n
}

// shippedPanels returns the shipped dashboard's panels.
func shippedPanels(d map[string]any) any { return d["panels"] }

// walkTargets calls fn for each target expression of the mixin's panels and the shipped
// panel at the same place.
func walkTargets(got, want any, fn func(title, got, want string)) {
	gl, _ := got.([]any)
	wl, _ := want.([]any)
	for i := range gl {
		if i >= len(wl) {
			fn("extra panel", "", "x")
			return
		}
		gp, wp := gl[i].(map[string]any), wl[i].(map[string]any)
		walkTargets(gp["panels"], wp["panels"], fn)
		gt, _ := gp["targets"].([]any)
		wt, _ := wp["targets"].([]any)
		for j := range gt {
			ge, _ := gt[j].(map[string]any)["expr"].(string)
			we, _ := wt[j].(map[string]any)["expr"].(string)
			title, _ := gp["title"].(string)
			fn(fmt.Sprintf("%s / %d", title, j), ge, we)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMixinSelectorOnLongExpressions: the selector rewrite joins its output as it goes, so an
// expression far longer than any shipped one (thousands of characters, as a user's own rules
// may be) does not exceed go-jsonnet's default stack of 500 frames.
func TestMixinSelectorOnLongExpressions(t *testing.T) {
	vm := jsonnet.MakeVM()
	dir := filepath.Join(repoRoot(t), "sailpoint-mixin")
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{dir}})
	const terms = 100
	out, err := vm.EvaluateAnonymousSnippet(filepath.Join(dir, "x.jsonnet"), fmt.Sprintf(
		`(import 'lib/promql.libsonnet').addSelector(std.join(' + ', ['sailpoint_up # a comment\n' for i in std.range(1, %d)]), 'job="x"')`, terms))
	if err != nil {
		t.Fatalf("addSelector on %d terms: %v", terms, err)
	}
	var got string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(got, `sailpoint_up{job="x"} # a comment`); n != terms {
		t.Errorf("%d of %d selectors rewritten", n, terms)
	}
}

// byOrOn is a grouping or join label list of PromQL.
var byOrOn = regexp.MustCompile(`\b(by|on)\s*\(([^)]*)\)`)

// TestMixinKeepsTenants: with a selector of one's own, the mixin's rules still keep the tenant
// label in every aggregation and join (but the exporter's own up's), and its dashboards still
// have the Tenant variable, with the selector, and filter on it.
func TestMixinKeepsTenants(t *testing.T) {
	m := evalMixin(t, fmt.Sprintf(`{ selector: %q }`, customSelector))
	lists := 0
	for _, g := range append(append([]map[string]any{}, m.Alerts.Groups...), m.Rules.Groups...) {
		for _, r := range rulesOf(g) {
			if r["alert"] == "SailPointExporterDown" {
				continue // about the process: up has no tenant
			}
			for _, l := range byOrOn.FindAllStringSubmatch(codeOnly(r["expr"].(string)), -1) {
				lists++
				if !slices.Contains(strings.Split(strings.ReplaceAll(l[2], " ", ""), ","), "tenant") {
					t.Errorf("rule %v%v: %s without tenant: two tenants would merge or collide", r["alert"], r["record"], l[0])
				}
			}
		}
	}
	if lists < 20 {
		t.Errorf("%d by and on lists found in the mixin's rules, want the shipped ones", lists)
	}
	for name, d := range m.Dashboards {
		var tenant map[string]any
		for _, v := range d["templating"].(map[string]any)["list"].([]any) {
			if v := v.(map[string]any); v["name"] == "tenant" {
				tenant = v
			}
		}
		if tenant == nil {
			t.Errorf("%s: no tenant variable", name)
			continue
		}
		q, _ := tenant["query"].(map[string]any)["query"].(string)
		if tenant["allValue"] != ".*" || tenant["multi"] != true || tenant["includeAll"] != true ||
			q != `label_values(sailpoint_up{`+customSelector+`, job=~"$job", instance=~"$instance"}, tenant)` {
			t.Errorf("%s: tenant variable allValue %v, multi %v, includeAll %v, query %q", name, tenant["allValue"], tenant["multi"], tenant["includeAll"], q)
		}
		filtered := 0
		walkTargets(d["panels"], d["panels"], func(_, got, _ string) {
			if strings.Contains(got, `tenant=~"$tenant"`) {
				filtered++
			}
		})
		if filtered < 10 {
			t.Errorf("%s: %d queries filter on the tenant", name, filtered)
		}
	}
}
