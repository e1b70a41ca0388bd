package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	releaseName      = "isc"
	releaseNamespace = "identity"
)

// repoRoot is the repository, one up from this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "alerts", "sailpoint.rules.yml")); err != nil {
		t.Fatalf("no alerts/sailpoint.rules.yml above %s: %v", wd, err)
	}
	return root
}

func chartDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "charts", "sailpoint-exporter")
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return c
}

// readValues reads a values file, or fails the test.
func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v.AsMap()
}

// parseValues parses values written inline in a test.
func parseValues(t *testing.T, doc string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(doc))
	if err != nil {
		t.Fatalf("values %q: %v", doc, err)
	}
	return v.AsMap()
}

// render renders the chart as `helm install` would (schema validation included) and returns
// the manifests by template name, NOTES.txt included.
func render(c *chart.Chart, vals map[string]any) (map[string]string, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(c, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: releaseNamespace, Revision: 1, IsInstall: true,
	}, caps, false)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, top)
}

// release is one rendering of the chart, decoded.
type release struct {
	name            string
	values          map[string]any // the chart's defaults with the test's values over them
	notes           string
	objects         int
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	secrets         []*corev1.Secret
	configMaps      []*corev1.ConfigMap
	pvcs            []*corev1.PersistentVolumeClaim
	serviceAccounts []*corev1.ServiceAccount
	serviceMonitors []*monitoringv1.ServiceMonitor
	prometheusRules []*monitoringv1.PrometheusRule
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// renderRelease renders and decodes every object strictly into its typed struct: an unknown
// or misspelt field, a wrong type, or a kind the chart should not make fails the test.
func renderRelease(t *testing.T, name string, vals map[string]any) *release {
	t.Helper()
	c := loadChart(t)
	manifests, err := render(c, vals)
	if err != nil {
		t.Fatalf("%s: rendering: %v", name, err)
	}
	effective, err := chartutil.CoalesceValues(c, vals)
	if err != nil {
		t.Fatal(err)
	}
	rel := &release{name: name, values: effective.AsMap()}
	var files []string
	for f := range manifests {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, file := range files {
		if strings.HasSuffix(file, "NOTES.txt") {
			rel.notes = manifests[file]
			continue
		}
		for i, doc := range docSeparator.Split(manifests[file], -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			if err := rel.decode([]byte(doc)); err != nil {
				t.Fatalf("%s: %s, document %d: %v\n%s", name, file, i, err, doc)
			}
			rel.objects++
		}
	}
	t.Logf("%s: %d objects rendered and decoded strictly", name, rel.objects)
	return rel
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// decodeStrict decodes one manifest into out, refusing unknown and duplicate fields.
func decodeStrict(doc []byte, out any) error {
	return yaml.UnmarshalStrict(doc, out)
}

func (r *release) decode(doc []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	key := tm.APIVersion + "/" + tm.Kind
	var err error
	switch key {
	case "apps/v1/Deployment":
		r.deployments, err = appendDecoded(r.deployments, doc)
	case "v1/Service":
		r.services, err = appendDecoded(r.services, doc)
	case "v1/Secret":
		r.secrets, err = appendDecoded(r.secrets, doc)
	case "v1/ConfigMap":
		r.configMaps, err = appendDecoded(r.configMaps, doc)
	case "v1/PersistentVolumeClaim":
		r.pvcs, err = appendDecoded(r.pvcs, doc)
	case "v1/ServiceAccount":
		r.serviceAccounts, err = appendDecoded(r.serviceAccounts, doc)
	case "monitoring.coreos.com/v1/ServiceMonitor":
		r.serviceMonitors, err = appendDecoded(r.serviceMonitors, doc)
	case "monitoring.coreos.com/v1/PrometheusRule":
		r.prometheusRules, err = appendDecoded(r.prometheusRules, doc)
	default:
		return fmt.Errorf("unexpected object %s", key)
	}
	return err
}

func appendDecoded[T any](list []*T, doc []byte) ([]*T, error) {
	obj := new(T)
	if err := decodeStrict(doc, obj); err != nil {
		return list, err
	}
	return append(list, obj), nil
}

// ciValueFiles are the chart's ci/*-values.yaml files, the ones CI renders one by one.
func ciValueFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{
		"default-values.yaml",
		"existing-secret-values.yaml",
		"monitoring-values.yaml",
		"persistence-off-values.yaml",
		"tenants-values.yaml",
		"web-config-values.yaml",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("ci values files %v, want %v: a new file needs its expectations in chart_test.go", names, want)
	}
	return files
}

// value walks a dotted path through values, nil when absent.
func value(vals map[string]any, path string) any {
	var cur any = vals
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func str(vals map[string]any, path string) string {
	s, _ := value(vals, path).(string)
	return s
}

// mustJSON is the canonical JSON of v, for comparisons in error messages.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(j)
}

// firstDiff describes where two JSON-like values first differ ("" when equal), so that a
// failure names the rule or panel instead of printing whole files.
func firstDiff(got, want any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want an object", at, got)
		}
		var ks []string
		for k := range w {
			ks = append(ks, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
		for _, k := range slices.Compact(ks) {
			if d := firstDiff(g[k], w[k], at+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want a list", at, got)
		}
		for i := range max(len(g), len(w)) {
			if i >= len(g) || i >= len(w) {
				return fmt.Sprintf("%s: %d items, want %d", at, len(g), len(w))
			}
			if d := firstDiff(g[i], w[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) || (got == nil) != (want == nil) {
			return fmt.Sprintf("%s: got %q, want %q", at, fmt.Sprint(got), fmt.Sprint(want))
		}
		return ""
	}
}

// generic turns v into plain JSON data (maps, lists, strings, numbers).
func generic(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(mustJSON(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
