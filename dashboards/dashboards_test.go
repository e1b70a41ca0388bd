// Package dashboards holds the Grafana dashboards shipped with
// sailpoint_exporter. The tests here parse every dashboard strictly with the
// Grafana Foundation SDK and check the conventions that grafana/dashboard-linter
// does not cover: every selector of every query filtered by job, instance and
// tenant, every grouping keeping the tenant, counters only under rate or
// increase, known metric names, stable uids.
package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/contract"
)

// wantUIDs are the dashboards we ship, by file, with their uids. A uid is
// how Grafana, links and users' bookmarks find a dashboard: never change one.
var wantUIDs = map[string]string{
	"account-activities.json": "sailpoint-account-activities",
	"provisioning.json":       "sailpoint-provisioning",
	"exporter-health.json":    "sailpoint-exporter-health",
}

// standardKinds are the metrics not of the exporter's own that the
// dashboards use: Prometheus' up and client_golang's process metrics.
var standardKinds = map[string]string{
	"up":                            "gauge",
	"process_resident_memory_bytes": "gauge",
	"process_cpu_seconds_total":     "counter",
}

// processWide are the metrics of the exporter's process, not of a tenant:
// they never carry a tenant label, even with --config.file, so their
// selectors must not filter on it (a selected tenant would hide them).
var processWide = map[string]bool{
	"up":                            true,
	"process_resident_memory_bytes": true,
	"process_cpu_seconds_total":     true,
	"sailpoint_exporter_build_info": true,
}

// tenantMatcher is how every selector of a tenant's metric filters on the
// tenant variable.
const tenantMatcher = `tenant=~"$tenant"`

var (
	// groupingList is an aggregation's by/without or a join's on/ignoring
	// with its label list (not group_left/group_right, whose list copies
	// labels).
	groupingList = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\(([^)]*)\)`)
	// ungrouped is an aggregation that merges every series into one
	// (sum(…)), where a by (tenant) would keep the tenants apart.
	ungrouped = regexp.MustCompile(`\b(sum|min|max|avg|count|group|stddev|stdvar)\s*\(`)
	// promString is a PromQL string.
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// keepsTenant reports an aggregation or a join of expr that would merge
// the series of two tenants or match one tenant's with another's: every
// by and on list names tenant (a without or ignoring list must not), and
// no aggregation goes without a grouping.
func keepsTenant(expr string) error {
	code := promString.ReplaceAllString(expr, `""`)
	for _, m := range groupingList.FindAllStringSubmatch(code, -1) {
		labels := strings.Split(strings.ReplaceAll(m[2], " ", ""), ",")
		has := slices.Contains(labels, "tenant")
		if keep := m[1] == "by" || m[1] == "on"; keep != has {
			return fmt.Errorf("%s: tenants merge or collide across %q", m[0], expr)
		}
	}
	if m := ungrouped.FindString(code); m != "" {
		return fmt.Errorf("%s without by (tenant, …) merges the tenants in %q", m, expr)
	}
	return nil
}

// metricKinds is every metric a dashboard may use, with its kind: the
// standard ones and the exporter's contract, as README.md's metrics table
// states it (which TestREADMEMetricsTableIsTheContract holds the exporter
// to). A histogram's series are counters. A name not listed is a typo.
var metricKinds = func() map[string]string {
	table, err := contract.FromREADME("../README.md")
	if err != nil {
		panic(err)
	}
	kinds := maps.Clone(standardKinds)
	for _, m := range table {
		if m.Type == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				kinds[m.Name+suffix] = "counter"
			}
			continue
		}
		kinds[m.Name] = m.Type
	}
	return kinds
}()

// shipped is one dashboard file, parsed by the SDK.
type shipped struct {
	file string
	raw  []byte
	d    dashboard.Dashboard
}

func loadDashboards(t *testing.T) []shipped {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for f := range wantUIDs {
		names = append(names, f)
	}
	slices.Sort(names)
	if !slices.Equal(files, names) {
		t.Fatalf("dashboard files are %v, want %v: add new dashboards to wantUIDs", files, names)
	}
	var out []shipped
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		if err := d.UnmarshalJSONStrict(raw); err != nil {
			t.Fatalf("%s: strict parse: %v", f, err)
		}
		out = append(out, shipped{file: f, raw: raw, d: d})
	}
	return out
}

// panels returns every panel that is not a row, including those inside rows.
func panels(d dashboard.Dashboard) []dashboard.Panel {
	var out []dashboard.Panel
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			out = append(out, *p.Panel)
		case p.RowPanel != nil:
			out = append(out, p.RowPanel.Panels...)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func TestDashboardsParseStrictlyAndValidate(t *testing.T) {
	for _, s := range loadDashboards(t) {
		t.Run(s.file, func(t *testing.T) {
			if err := s.d.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for _, p := range panels(s.d) {
				// The SDK only parses options and targets strictly when it
				// knows the panel plugin and the data source type.
				if _, untyped := p.Options.(map[string]any); untyped || p.Options == nil {
					t.Errorf("panel %q: options of panel type %q were not parsed by a plugin schema", deref(p.Title), p.Type)
				}
				for i, tg := range p.Targets {
					if _, ok := tg.(*prometheus.Dataquery); !ok {
						t.Errorf("panel %q target %d: parsed as %T, want *prometheus.Dataquery (set datasource.type prometheus on the target)", deref(p.Title), i, tg)
					}
				}
			}
		})
	}
}

func TestDashboardConventions(t *testing.T) {
	all := loadDashboards(t)
	uids := map[string]string{}
	titles := map[string]string{}
	for _, s := range all {
		d := s.d
		t.Run(s.file, func(t *testing.T) {
			uid := deref(d.Uid)
			if uid != wantUIDs[s.file] {
				t.Errorf("uid %q, want %q", uid, wantUIDs[s.file])
			}
			if len(uid) > 40 {
				t.Errorf("uid %q longer than Grafana's 40 characters", uid)
			}
			if other, dup := uids[uid]; dup {
				t.Errorf("uid %q also used by %s", uid, other)
			}
			uids[uid] = s.file
			title := deref(d.Title)
			if other, dup := titles[title]; dup || title == "" {
				t.Errorf("title %q empty or also used by %s", title, other)
			}
			titles[title] = s.file
			for _, tag := range []string{"sailpoint", "identity"} {
				if !slices.Contains(d.Tags, tag) {
					t.Errorf("tags %v lack %q", d.Tags, tag)
				}
			}
			if deref(d.Description) == "" {
				t.Error("dashboard has no description")
			}
			if deref(d.Editable) {
				t.Error("dashboard is editable; ship it with editable false")
			}
			if d.SchemaVersion < 39 {
				t.Errorf("schemaVersion %d is older than Grafana 11's", d.SchemaVersion)
			}
			checkVariables(t, d.Templating.List)
			checkPanels(t, d)
		})
	}
}

func checkVariables(t *testing.T, vars []dashboard.VariableModel) {
	t.Helper()
	byName := map[string]dashboard.VariableModel{}
	var names []string
	for _, v := range vars {
		byName[v.Name] = v
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"datasource", "job", "instance", "tenant"}) {
		t.Errorf("variables %v, want [datasource job instance tenant]", names)
	}
	if ds := byName["datasource"]; ds.Type != dashboard.VariableTypeDatasource || ds.Query == nil || deref(ds.Query.String) != "prometheus" {
		t.Errorf("datasource variable: type %q query %v, want a datasource variable of type prometheus", ds.Type, ds.Query)
	}
	// job and instance as grafana/dashboard-linter wants them: All is .+,
	// since every series has both. tenant's All is .*, which also matches
	// the series of an exporter without --config.file, which have no tenant
	// label; a tenant selected matches only its own.
	for _, tc := range []struct{ name, label, query, allValue string }{
		{"job", "Job", "label_values(sailpoint_up, job)", ".+"},
		{"instance", "Instance", `label_values(sailpoint_up{job=~"$job"}, instance)`, ".+"},
		{"tenant", "Tenant", `label_values(sailpoint_up{job=~"$job", instance=~"$instance"}, tenant)`, ".*"},
	} {
		v := byName[tc.name]
		var query string
		if v.Query != nil {
			query = deref(v.Query.String)
			if q, ok := v.Query.Map["query"].(string); ok {
				query = q
			}
		}
		ds := deref(v.Datasource)
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"type", v.Type, dashboard.VariableTypeQuery},
			{"label", deref(v.Label), tc.label},
			{"query", query, tc.query},
			{"definition", deref(v.Definition), tc.query},
			{"datasource uid", deref(ds.Uid), "${datasource}"},
			{"datasource type", deref(ds.Type), "prometheus"},
			{"multi", deref(v.Multi), true},
			{"includeAll", deref(v.IncludeAll), true},
			{"allValue", deref(v.AllValue), tc.allValue},
			{"refresh", deref(v.Refresh), dashboard.VariableRefreshOnTimeRangeChanged},
		} {
			if c.got != c.want {
				t.Errorf("variable %s: %s is %v, want %v", tc.name, c.what, c.got, c.want)
			}
		}
	}
}

// panelChecks apply to every panel that is not a row.
var panelChecks = []struct {
	name  string
	check func(p dashboard.Panel) error
}{
	{"has a title", func(p dashboard.Panel) error {
		if deref(p.Title) == "" {
			return fmt.Errorf("no title")
		}
		return nil
	}},
	{"has a description", func(p dashboard.Panel) error {
		if len(strings.TrimSpace(deref(p.Description))) < 20 {
			return fmt.Errorf("description %q says too little", deref(p.Description))
		}
		return nil
	}},
	{"has a unit", func(p dashboard.Panel) error {
		if p.FieldConfig == nil || deref(p.FieldConfig.Defaults.Unit) == "" {
			return fmt.Errorf("no fieldConfig.defaults.unit")
		}
		return nil
	}},
	{"uses the datasource variable", func(p dashboard.Panel) error {
		ds := deref(p.Datasource)
		if deref(ds.Uid) != "${datasource}" || deref(ds.Type) != "prometheus" {
			return fmt.Errorf("datasource %s/%s, want prometheus/${datasource}", deref(ds.Type), deref(ds.Uid))
		}
		return nil
	}},
	{"has targets", func(p dashboard.Panel) error {
		if len(p.Targets) == 0 {
			return fmt.Errorf("no targets")
		}
		return nil
	}},
	{"has a grid position", func(p dashboard.Panel) error {
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			return fmt.Errorf("bad gridPos %+v", p.GridPos)
		}
		return nil
	}},
}

// targetChecks apply to every query of every panel.
var targetChecks = []struct {
	name  string
	check func(q *prometheus.Dataquery) error
}{
	{"uses the datasource variable", func(q *prometheus.Dataquery) error {
		ds := deref(q.Datasource)
		if deref(ds.Uid) != "${datasource}" || deref(ds.Type) != "prometheus" {
			return fmt.Errorf("datasource %s/%s, want prometheus/${datasource}", deref(ds.Type), deref(ds.Uid))
		}
		return nil
	}},
	{"filters every selector by job, instance and tenant", func(q *prometheus.Dataquery) error {
		sels, err := selectors(q.Expr)
		if err != nil {
			return err
		}
		if len(sels) == 0 {
			return fmt.Errorf("no series selector in %q", q.Expr)
		}
		for _, s := range sels {
			for _, want := range []string{`job=~"$job"`, `instance=~"$instance"`} {
				if !slices.Contains(s.matchers, want) {
					return fmt.Errorf("selector %s{%s} lacks %s", s.metric, strings.Join(s.matchers, ","), want)
				}
			}
			tenant := slices.Contains(s.matchers, tenantMatcher)
			switch {
			case processWide[s.metric] && tenant:
				return fmt.Errorf("selector %s{%s}: %s is the process's and has no tenant label: %s would hide it once a tenant is selected", s.metric, strings.Join(s.matchers, ","), s.metric, tenantMatcher)
			case !processWide[s.metric] && !tenant:
				return fmt.Errorf("selector %s{%s} lacks %s", s.metric, strings.Join(s.matchers, ","), tenantMatcher)
			}
		}
		return nil
	}},
	{"keeps the tenant in every grouping and join", func(q *prometheus.Dataquery) error {
		sels, err := selectors(q.Expr)
		if err != nil {
			return err
		}
		perTenant := slices.ContainsFunc(sels, func(s selector) bool { return !processWide[s.metric] })
		if !perTenant {
			return nil
		}
		return keepsTenant(q.Expr)
	}},
	{"uses only metrics of the contract", func(q *prometheus.Dataquery) error {
		sels, err := selectors(q.Expr)
		if err != nil {
			return err
		}
		for _, s := range sels {
			if _, ok := metricKinds[s.metric]; !ok {
				return fmt.Errorf("unknown metric %q", s.metric)
			}
		}
		return nil
	}},
	{"rates counters only, over $__rate_interval", func(q *prometheus.Dataquery) error {
		sels, err := selectors(q.Expr)
		if err != nil {
			return err
		}
		for _, s := range sels {
			counter := metricKinds[s.metric] == "counter"
			switch {
			case counter && s.rangeFunc == "":
				return fmt.Errorf("counter %s is not under rate or increase", s.metric)
			case !counter && s.rangeFunc != "":
				return fmt.Errorf("%s(%s) on a gauge", s.rangeFunc, s.metric)
			case (s.rangeFunc == "rate" || s.rangeFunc == "irate") && s.window != "$__rate_interval":
				return fmt.Errorf("%s(%s[%s]): use [$__rate_interval]", s.rangeFunc, s.metric, s.window)
			case s.rangeFunc == "increase" && s.window != "$__rate_interval" && s.window != "$__range":
				return fmt.Errorf("increase(%s[%s]): use [$__rate_interval] or [$__range]", s.metric, s.window)
			}
		}
		return nil
	}},
	{"has a refId", func(q *prometheus.Dataquery) error {
		if deref(q.RefId) == "" {
			return fmt.Errorf("no refId")
		}
		return nil
	}},
}

func checkPanels(t *testing.T, d dashboard.Dashboard) {
	t.Helper()
	ids := map[uint32]bool{}
	for _, p := range d.Panels {
		if p.RowPanel != nil {
			ids[p.RowPanel.Id] = true
		}
	}
	for _, p := range panels(d) {
		id := deref(p.Id)
		if ids[id] || id == 0 {
			t.Errorf("panel %q: id %d missing or not unique", deref(p.Title), id)
		}
		ids[id] = true
		for _, c := range panelChecks {
			if err := c.check(p); err != nil {
				t.Errorf("panel %q %s: %v", deref(p.Title), c.name, err)
			}
		}
		refs := map[string]bool{}
		for i, tg := range p.Targets {
			q, ok := tg.(*prometheus.Dataquery)
			if !ok {
				t.Errorf("panel %q target %d is %T, not a Prometheus query", deref(p.Title), i, tg)
				continue
			}
			if refs[deref(q.RefId)] {
				t.Errorf("panel %q: refId %q used twice", deref(p.Title), deref(q.RefId))
			}
			refs[deref(q.RefId)] = true
			for _, c := range targetChecks {
				if err := c.check(q); err != nil {
					t.Errorf("panel %q target %s %s: %v", deref(p.Title), deref(q.RefId), c.name, err)
				}
			}
		}
	}
}

// selector is one series selector of a PromQL expression.
type selector struct {
	metric    string
	matchers  []string // as written, spaces removed
	rangeFunc string   // rate, irate or increase when the selector is their argument
	window    string   // the range, when there is one
}

var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"atan2": true, "inf": true, "nan": true,
}

// groupingKeywords are followed by a list of label names, not selectors.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// selectors finds the series selectors of a PromQL expression. It is a small
// scanner rather than a parser: it knows strings, label lists after by/on/…,
// function calls, braces and ranges, which is all our dashboards use.
func selectors(expr string) ([]selector, error) {
	var out []selector
	s := expr
	i := 0
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	skipSpace := func(j int) int {
		for j < len(s) && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t') {
			j++
		}
		return j
	}
	// closing returns the index just past the bracket closing the one at j.
	closing := func(j int, open, close byte) (int, error) {
		depth := 0
		for k := j; k < len(s); k++ {
			switch s[k] {
			case '"':
				for k++; k < len(s) && s[k] != '"'; k++ {
					if s[k] == '\\' {
						k++
					}
				}
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					return k + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c in %q", open, expr)
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i], false) || s[i] == '.') {
				i++
			}
		case c == '[':
			end, err := closing(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			sel, end, err := readSelector(s, "", i, closing)
			if err != nil {
				return nil, err
			}
			out = append(out, sel)
			i = end
		case isIdent(c, true):
			j := i
			for j < len(s) && isIdent(s[j], false) {
				j++
			}
			word := s[i:j]
			next := skipSpace(j)
			switch {
			case groupingKeywords[word]:
				if next < len(s) && s[next] == '(' {
					end, err := closing(next, '(', ')')
					if err != nil {
						return nil, err
					}
					j = end
				}
			case keywords[word]:
			case next < len(s) && s[next] == '(':
				// A function or aggregation.
			case followedByGrouping(s[next:]):
				// An aggregation written sum by (…) (…).
			default:
				sel, end, err := readSelector(s, word, next, closing)
				if err != nil {
					return nil, err
				}
				if end == next {
					end = j
				}
				before := strings.TrimRight(s[:i], " \n\t")
				for _, f := range []string{"irate", "rate", "increase"} {
					if strings.HasSuffix(before, f+"(") && (len(before) == len(f)+1 || !isIdent(before[len(before)-len(f)-2], false)) {
						sel.rangeFunc = f
					}
				}
				out = append(out, sel)
				j = end
			}
			i = j
		default:
			i++
		}
	}
	return out, nil
}

// followedByGrouping reports whether rest starts with by or without, the
// way an aggregation's grouping follows its name.
func followedByGrouping(rest string) bool {
	for _, kw := range []string{"by", "without"} {
		if after, ok := strings.CutPrefix(rest, kw); ok && (after == "" || after[0] == ' ' || after[0] == '(') {
			return true
		}
	}
	return false
}

// readSelector reads the optional {matchers} and [range] at j for metric.
func readSelector(s, metric string, j int, closing func(int, byte, byte) (int, error)) (selector, int, error) {
	sel := selector{metric: metric}
	end := j
	if j < len(s) && s[j] == '{' {
		e, err := closing(j, '{', '}')
		if err != nil {
			return sel, 0, err
		}
		sel.matchers = splitMatchers(s[j+1 : e-1])
		end = e
	}
	if end < len(s) && s[end] == '[' {
		e, err := closing(end, '[', ']')
		if err != nil {
			return sel, 0, err
		}
		sel.window = s[end+1 : e-1]
		end = e
	}
	return sel, end, nil
}

// splitMatchers splits `a="x", b=~"y,z"` at the commas outside quotes and
// removes the spaces outside quotes.
func splitMatchers(body string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for k := 0; k < len(body); k++ {
		c := body[k]
		switch {
		case c == '\\' && quoted && k+1 < len(body):
			cur.WriteByte(c)
			k++
			cur.WriteByte(body[k])
			continue
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			out = append(out, cur.String())
			cur.Reset()
			continue
		case !quoted && (c == ' ' || c == '\n' || c == '\t'):
			continue
		}
		cur.WriteByte(c)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// TestSelectors pins the scanner that the convention checks rely on.
func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []selector
	}{
		{
			`sum by (le, type) (rate(foo_bucket{job=~"$job", instance=~"$instance", a="x,y"}[$__rate_interval]))`,
			[]selector{{"foo_bucket", []string{`job=~"$job"`, `instance=~"$instance"`, `a="x,y"`}, "rate", "$__rate_interval"}},
		},
		{
			`time() - min by (type) (bar{job=~"$job"}) or on (endpoint) sum without(x) (baz) * 0`,
			[]selector{{"bar", []string{`job=~"$job"`}, "", ""}, {"baz", nil, "", ""}},
		},
		{
			`histogram_quantile(0.95, increase(x_total{a="b"}[$__range])) > 1e3`,
			[]selector{{"x_total", []string{`a="b"`}, "increase", "$__range"}},
		},
		{
			`topk(10, irate({__name__="up"}[5m])) unless up offset 5m`,
			[]selector{{"", []string{`__name__="up"`}, "", "5m"}, {"up", nil, "", ""}},
		},
	} {
		got, err := selectors(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("selectors(%s)\n got %+v\nwant %+v", tc.expr, got, tc.want)
		}
	}
}

// TestKeepsTenant pins the check that every grouping and join keeps the
// tenant.
func TestKeepsTenant(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{`sum by (tenant, type) (rate(x_total[5m]))`, true},
		{`x * on (job, instance, tenant, source_id) group_left (source_name) y`, true},
		{`label_replace(group by (job, instance, tenant) (x), "a", "$1", "b", "sum(.*) by (c)")`, true},
		{`topk(10, sum by (tenant, source_id) (x))`, true},
		{`sum by (type) (rate(x_total[5m]))`, false},
		{`sum(rate(x_total[5m]))`, false},
		{`min (x)`, false},
		{`x * on (job, instance, source_id) group_left (source_name) y`, false},
		{`x or on (endpoint) y`, false},
		{`sum without (tenant) (x)`, false},
		{`x / ignoring (code) y`, true},
	} {
		if err := keepsTenant(tc.expr); (err == nil) != tc.ok {
			t.Errorf("keepsTenant(%s) = %v, want ok %v", tc.expr, err, tc.ok)
		}
	}
}

// alertThreshold is the number an alert of alerts/sailpoint.rules.yml
// compares with, the first `> N` of its expression.
func alertThreshold(t *testing.T, rules, alert string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?s)- alert: ` + alert + `\n.*?\n\s*> ([0-9.]+)\n`).FindStringSubmatch(rules)
	if m == nil {
		t.Fatalf("no `> N` threshold found in alert %s", alert)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// thresholdSteps returns every threshold step value of a panel's field
// config, defaults and overrides.
func thresholdSteps(v any) []float64 {
	var out []float64
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if steps, ok := e.([]any); ok && k == "steps" {
				for _, s := range steps {
					if n, ok := s.(map[string]any)["value"].(float64); ok {
						out = append(out, n)
					}
				}
				continue
			}
			out = append(out, thresholdSteps(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, thresholdSteps(e)...)
		}
	}
	return out
}

// TestAggregationPanelsShowTheAlertThresholds: the aggregation panels turn
// red where the aggregation alerts fire (and the mixin sets both together).
func TestAggregationPanelsShowTheAlertThresholds(t *testing.T) {
	raw, err := os.ReadFile("../alerts/sailpoint.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules := string(raw)
	stuck := alertThreshold(t, rules, "SailPointSourceAggregationStuck")
	missing := alertThreshold(t, rules, "SailPointSourceAggregationMissing")
	raw, err = os.ReadFile("provisioning.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig any    `json:"fieldConfig"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"Last successful aggregation by source":    missing,
		"Oldest aggregation in progress by source": stuck,
		"Aggregation duration by type (p50, p95)":  stuck,
	}
	found := 0
	for _, p := range d.Panels {
		w, ok := want[p.Title]
		if !ok {
			continue
		}
		found++
		if !slices.Contains(thresholdSteps(p.FieldConfig), w) {
			t.Errorf("panel %q: threshold steps %v lack the alert's %v", p.Title, thresholdSteps(p.FieldConfig), w)
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d aggregation panels %v", found, len(want), want)
	}
}

// TestTenantsTableShowsTheAlertThresholds: the Tenants table of the
// Exporter and API health dashboard, the tenants side by side, turns a
// tenant's data age and oldest incomplete activity red where
// SailPointDataStale and SailPointActivitiesStuck fire, and has a column for
// each of what it promises.
func TestTenantsTableShowsTheAlertThresholds(t *testing.T) {
	raw, err := os.ReadFile("../alerts/sailpoint.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules := string(raw)
	raw, err = os.ReadFile("exporter-health.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title           string `json:"title"`
			FieldConfig     any    `json:"fieldConfig"`
			Transformations []struct {
				ID      string `json:"id"`
				Options struct {
					RenameByName map[string]string `json:"renameByName"`
				} `json:"options"`
			} `json:"transformations"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		if p.Title != "Tenants" {
			continue
		}
		steps := thresholdSteps(p.FieldConfig)
		for _, alert := range []string{"SailPointDataStale", "SailPointActivitiesStuck"} {
			if w := alertThreshold(t, rules, alert); !slices.Contains(steps, w) {
				t.Errorf("threshold steps %v lack %s's %v", steps, alert, w)
			}
		}
		var columns []string
		for _, tr := range p.Transformations {
			for _, c := range tr.Options.RenameByName {
				columns = append(columns, c)
			}
		}
		for _, c := range []string{"Tenant", "ISC refresh", "Data age", "Failed items", "Oldest incomplete activity", "Unhealthy sources", "Failed aggregations"} {
			if !slices.Contains(columns, c) {
				t.Errorf("no column %q among %v", c, columns)
			}
		}
		return
	}
	t.Error("exporter-health.json has no Tenants table")
}
