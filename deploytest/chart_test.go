package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Fixed by the chart's templates.
const (
	containerPort   = 19885
	portName        = "http"
	secretDir       = "/etc/sailpoint-exporter/secret"
	webConfigDir    = "/etc/sailpoint-exporter/web"
	tlsDir          = "/etc/sailpoint-exporter/tls"
	shippedRunbook  = "https://github.com/sailpoint-exporter/sailpoint_exporter/blob/main/alerts/runbook.md#%s"
	shippedSLOToken = "(1 - 0.99)"
)

// TestChartCIValues renders the chart for every ci/*-values.yaml file and checks what a
// deployment relies on.
func TestChartCIValues(t *testing.T) {
	for _, file := range ciValueFiles(t) {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			rel := renderRelease(t, name, readValues(t, file))
			checkRelease(t, rel)
		})
	}
}

// TestChartVariants renders values that no ci file holds but whose behaviour matters.
func TestChartVariants(t *testing.T) {
	const base = `
isc:
  url: https://acme.api.identitynow.com
  clientId: 2c9180835d2e5168015d32f890ca1581
  existingSecret:
    name: sailpoint-isc
`
	t.Run("rules and dashboards with the shipped settings equal alerts/ and dashboards/", func(t *testing.T) {
		rel := renderRelease(t, "shipped", parseValues(t, base+`
prometheusRule: {enabled: true}
dashboards: {enabled: true}
`))
		checkRelease(t, rel)
		// Independently of checkRelease's transformations: byte-for-byte the shipped rules.
		if d := firstDiff(generic(t, rel.prometheusRules[0].Spec.Groups), generic(t, shippedRuleGroups(t).Groups), "groups"); d != "" {
			t.Errorf("PrometheusRule groups differ from alerts/sailpoint.rules.yml at %s", d)
		}
	})
	t.Run("TLS without basic auth: HTTPS probes and scrapes", func(t *testing.T) {
		rel := renderRelease(t, "tls", parseValues(t, base+`
webConfig:
  tlsSecretName: exporter-tls
  config:
    tls_server_config: {cert_file: /etc/sailpoint-exporter/tls/tls.crt, key_file: /etc/sailpoint-exporter/tls/tls.key}
serviceMonitor: {enabled: true, tlsConfig: {insecureSkipVerify: true}}
`))
		checkRelease(t, rel)
		c := container(t, rel)
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
			if p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("probe %+v: want an HTTPS GET", p.ProbeHandler)
			}
		}
		if s := rel.serviceMonitors[0].Spec.Endpoints[0].Scheme; s == nil || *s != "https" {
			t.Errorf("ServiceMonitor scheme %v, want https", s)
		}
	})
	t.Run("persistence with an existing claim makes no PVC", func(t *testing.T) {
		rel := renderRelease(t, "existing-claim", parseValues(t, base+`
persistence: {existingClaim: sailpoint-state}
`))
		checkRelease(t, rel)
		if v := volume(t, rel, "state"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "sailpoint-state" {
			t.Errorf("state volume %+v, want the claim sailpoint-state", v.VolumeSource)
		}
	})
	t.Run("aggregations off: refreshInterval 0, as a number or a string", func(t *testing.T) {
		for _, v := range []string{"0", `"0"`} {
			rel := renderRelease(t, "aggregations-off", parseValues(t, base+"aggregations: {refreshInterval: "+v+"}\n"))
			checkRelease(t, rel)
			if got, ok := flag(t, rel, "aggregations.refresh-interval"); !ok || got != "0" {
				t.Errorf("aggregations.refreshInterval %s: --aggregations.refresh-interval=%q (rendered %v), want 0", v, got, ok)
			}
		}
	})
	t.Run("the API version and the aggregation flags, as the exporter reads them", func(t *testing.T) {
		rel := renderRelease(t, "api-version", parseValues(t, strings.Replace(base, "isc:\n", "isc:\n  apiVersion: beta\n", 1)+`
aggregations: {refreshInterval: 1m30s, lookback: 2160h, types: [CLOUD_ACCOUNT_AGGREGATION]}
`))
		checkRelease(t, rel)
		for name, want := range map[string]string{
			"isc.api-version":               "beta",
			"aggregations.refresh-interval": "1m30s",
			"aggregations.lookback":         "2160h",
			"aggregations.types":            "CLOUD_ACCOUNT_AGGREGATION",
		} {
			if got, _ := flag(t, rel, name); got != want {
				t.Errorf("--%s=%q, want %q", name, got, want)
			}
		}
	})
	t.Run("the chart's defaults pass none of the API version and aggregation flags", func(t *testing.T) {
		rel := renderRelease(t, "defaults", parseValues(t, base))
		for _, f := range exporterFlags {
			if got, ok := flag(t, rel, f.flag); ok {
				t.Errorf("--%s=%s rendered with the chart's defaults", f.flag, got)
			}
		}
	})
	t.Run("storageClass - means no dynamic provisioning", func(t *testing.T) {
		rel := renderRelease(t, "no-class", parseValues(t, base+`
persistence: {storageClass: "-"}
`))
		if sc := rel.pvcs[0].Spec.StorageClassName; sc == nil || *sc != "" {
			t.Errorf("storageClassName %v, want the empty string", sc)
		}
	})
}

// TestChartRefusesBadValues: the schema and the templates reject what would deploy wrongly.
func TestChartRefusesBadValues(t *testing.T) {
	c := loadChart(t)
	const base = "isc: {url: https://acme.api.identitynow.com, clientId: x, clientSecret: not-a-secret}\n"
	for _, tc := range []struct{ name, values, want string }{
		{"a misspelt key", base + "serviceMonitor: {enabeld: true}", "enabeld"},
		{"an unknown top-level key", base + "replicaCount: 2", "replicaCount"},
		{"no tenant URL", "isc: {clientId: x, clientSecret: not-a-secret}", "isc.url is required"},
		{"no client id", "isc: {url: https://acme.api.identitynow.com, clientSecret: not-a-secret}", "isc.clientId is required"},
		{"no secret at all", "isc: {url: https://acme.api.identitynow.com, clientId: x}", "isc.clientSecret is required"},
		{"the secret as an environment variable", base + "extraEnv: [{name: SAIL_CLIENT_SECRET, value: not-a-secret}]", "/extraEnv/0/name"},
		{"an SLO target that is no share", base + "prometheusRule: {enabled: true, provisioningSLOTarget: 99}", "provisioningSLOTarget"},
		{"a runbook pattern without %s", base + "prometheusRule: {runbookURLPattern: https://wiki.example.com/}", "runbookURLPattern"},
		{"a page size over ISC's maximum", base + "activities: {pageSize: 1000}", "pageSize"},
		{"a plain-text tenant URL typo", base + "isc: {url: acme.api.identitynow.com}", "url"},
		{"an API version the exporter does not know", base + "isc: {apiVersion: v4}", "apiVersion"},
		{"an API version in capitals", base + "isc: {apiVersion: V2025}", "apiVersion"},
		{"a refresh interval in days, which Go's durations lack", base + "aggregations: {refreshInterval: 1d}", "refreshInterval"},
		{"a refresh interval as a number other than 0", base + "aggregations: {refreshInterval: 300}", "refreshInterval"},
		{"a lookback in days", base + "aggregations: {lookback: 7d}", "lookback"},
		{"task types as one string", base + "aggregations: {types: CLOUD_ACCOUNT_AGGREGATION}", "types"},
		{"a task type with a comma", base + "aggregations: {types: [\"CLOUD_ACCOUNT_AGGREGATION,CLOUD_GROUP_AGGREGATION\"]}", "types"},
		{"a task type twice", base + "aggregations: {types: [CLOUD_ACCOUNT_AGGREGATION, CLOUD_ACCOUNT_AGGREGATION]}", "types"},
		{"a misspelt aggregations key", base + "aggregations: {lookbak: 168h}", "lookbak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(c, parseValues(t, tc.values))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error %v, want one that mentions %q", err, tc.want)
			}
		})
	}
}

// TestTemplateRefusesSecretInEnv: behind the schema, the template itself refuses the secret as
// an environment variable (a chart vendored without its schema, or --skip-schema-validation).
func TestTemplateRefusesSecretInEnv(t *testing.T) {
	c := loadChart(t)
	vals := parseValues(t, "isc: {url: https://acme.api.identitynow.com, clientId: x, clientSecret: not-a-secret}\n"+
		"extraEnv: [{name: SAIL_CLIENT_SECRET, value: not-a-secret}]")
	top, err := chartutil.ToRenderValuesWithSchemaValidation(c, vals, chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNamespace}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.Render(c, top)
	if err == nil || !strings.Contains(err.Error(), "extraEnv must not set SAIL_CLIENT_SECRET") {
		t.Errorf("render error %v, want the template to refuse SAIL_CLIENT_SECRET", err)
	}
}

// TestStrictDecodingCatchesTypos proves the decoder the other tests rely on fails on a
// misspelt field, and on a field of the wrong type.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 1\n",
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers: [{name: x, imagePullPolcy: Always}]\n",
		"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nspec:\n  endpoints: [{port: http, intervall: 1m}]\n",
		"apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: http}]\n",
	} {
		r := &release{}
		if err := r.decode([]byte(doc)); err == nil {
			t.Errorf("decoded without error:\n%s", doc)
		}
	}
}

// TestHelmLint runs Helm's own lint action, strictly, with every ci values file, and with the
// chart's defaults alone (what a plain `helm lint` sees).
func TestHelmLint(t *testing.T) {
	files := append([]string{""}, ciValueFiles(t)...)
	for _, file := range files {
		name := filepath.Base(file)
		if file == "" {
			name = "chart defaults"
		}
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			vals := map[string]any{}
			if file != "" {
				vals = readValues(t, file)
			}
			res := lint.Run([]string{chartDir(t)}, vals)
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
			for _, err := range res.Errors {
				t.Errorf("helm lint: %v", err)
			}
		})
	}
}

// TestChartFilesInSync: the chart's copies of alerts/ and dashboards/ (Helm cannot read
// outside the chart) are byte-for-byte the repository's. `make chart-sync` copies them.
func TestChartFilesInSync(t *testing.T) {
	root := repoRoot(t)
	pairs := map[string]string{
		filepath.Join(root, "alerts", "sailpoint.rules.yml"): filepath.Join(chartDir(t), "files", "sailpoint.rules.yml"),
	}
	dashboards, _ := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	copies, _ := filepath.Glob(filepath.Join(chartDir(t), "files", "dashboards", "*.json"))
	if len(dashboards) == 0 || len(dashboards) != len(copies) {
		t.Errorf("%d dashboards in dashboards/, %d in the chart's files/dashboards/: run make chart-sync", len(dashboards), len(copies))
	}
	for _, d := range dashboards {
		pairs[d] = filepath.Join(chartDir(t), "files", "dashboards", filepath.Base(d))
	}
	for src, dst := range pairs {
		a, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Errorf("%s: %v: run make chart-sync", dst, err)
			continue
		}
		if string(a) != string(b) {
			t.Errorf("%s differs from %s: run make chart-sync", dst, src)
		}
	}
}

// checkRelease asserts the facts of one rendering, whatever its values.
func checkRelease(t *testing.T, rel *release) {
	t.Helper()
	if len(rel.deployments) != 1 || len(rel.services) != 1 {
		t.Fatalf("%d Deployments and %d Services, want one of each", len(rel.deployments), len(rel.services))
	}
	checkDeploymentShape(t, rel)
	checkExporterFlags(t, rel)
	if tenantsOf(rel) == nil {
		checkClientSecret(t, rel)
		checkState(t, rel)
	}
	checkTenants(t, rel)
	checkRestricted(t, rel)
	checkProbesAndPort(t, rel)
	checkResources(t, rel)
	checkWebConfig(t, rel)
	checkService(t, rel)
	checkServiceMonitor(t, rel)
	checkPrometheusRule(t, rel)
	checkDashboards(t, rel)
	checkNamespaces(t, rel)
	if !strings.Contains(rel.notes, "kubectl --namespace "+releaseNamespace) {
		t.Errorf("NOTES.txt does not tell how to look at the release:\n%s", rel.notes)
	}
}

func container(t *testing.T, rel *release) corev1.Container {
	t.Helper()
	cs := rel.deployments[0].Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

// flag returns the value of --name=value in the container's args, and whether it is there.
func flag(t *testing.T, rel *release, name string) (string, bool) {
	t.Helper()
	var vals []string
	for _, a := range container(t, rel).Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) > 1 {
		t.Errorf("--%s given %d times: %v", name, len(vals), vals)
	}
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

func volume(t *testing.T, rel *release, name string) corev1.Volume {
	t.Helper()
	for _, v := range rel.deployments[0].Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.Volume{}
}

// mountOf returns the mount whose path is dir, and its volume.
func mountOf(t *testing.T, rel *release, dir string) (corev1.VolumeMount, corev1.Volume) {
	t.Helper()
	for _, m := range container(t, rel).VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(dir) {
			return m, volume(t, rel, m.Name)
		}
	}
	t.Fatalf("nothing is mounted at %s", dir)
	return corev1.VolumeMount{}, corev1.Volume{}
}

func checkDeploymentShape(t *testing.T, rel *release) {
	d := rel.deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1: one exporter per client id", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate: never two exporters at once", d.Spec.Strategy.Type)
	}
	sel := d.Spec.Selector.MatchLabels
	if len(sel) == 0 || !subset(sel, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod template's labels %v", sel, d.Spec.Template.Labels)
	}
	if url, _ := flag(t, rel, "isc.url"); url != str(rel.values, "isc.url") {
		t.Errorf("--isc.url=%q, want %q", url, str(rel.values, "isc.url"))
	}
	for _, a := range container(t, rel).Args {
		if !strings.HasPrefix(a, "--") {
			t.Errorf("argument %q is not a flag", a)
		}
	}
}

// exporterFlags are values passed as one flag each, when set; unset, the flag is left out and
// the exporter keeps its own default.
var exporterFlags = []struct{ value, flag string }{
	{"isc.apiVersion", "isc.api-version"},
	{"aggregations.refreshInterval", "aggregations.refresh-interval"},
	{"aggregations.lookback", "aggregations.lookback"},
	{"aggregations.types", "aggregations.types"},
}

// checkExporterFlags: each value of exporterFlags reaches the container's args as its flag
// (a list joined by commas, 0 as 0), and only when set.
func checkExporterFlags(t *testing.T, rel *release) {
	for _, f := range exporterFlags {
		var want string
		switch v := value(rel.values, f.value).(type) {
		case nil:
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			want = strings.Join(parts, ",")
		default:
			want = fmt.Sprint(v)
		}
		got, ok := flag(t, rel, f.flag)
		switch {
		case want == "" && ok:
			t.Errorf("--%s=%s rendered while %s is unset", f.flag, got, f.value)
		case want != "" && (!ok || got != want):
			t.Errorf("--%s=%q (rendered %v), want %q from %s", f.flag, got, ok, want, f.value)
		}
	}
}

// checkClientSecret: the secret reaches the exporter as a mounted file named by
// --isc.client-secret-file, and never as an environment variable or a flag.
func checkClientSecret(t *testing.T, rel *release) {
	c := container(t, rel)
	secretName := str(rel.values, "isc.existingSecret.name")
	secretKey := str(rel.values, "isc.existingSecret.clientSecretKey")
	literal := str(rel.values, "isc.clientSecret")
	if secretName == "" {
		secretName, secretKey = releaseName+"-sailpoint-exporter", "client-secret"
		var found bool
		for _, s := range rel.secrets {
			if s.Name == secretName {
				found = true
				if got := string(s.Data[secretKey]); got != literal || literal == "" {
					t.Errorf("Secret %s key %s holds %q, want the isc.clientSecret value", secretName, secretKey, got)
				}
			}
		}
		if !found {
			t.Fatalf("no Secret %s made for isc.clientSecret", secretName)
		}
	} else {
		for _, s := range rel.secrets {
			if _, ok := s.Data["client-secret"]; ok {
				t.Errorf("with isc.existingSecret the chart still made Secret %s with a client secret", s.Name)
			}
		}
	}

	file, ok := flag(t, rel, "isc.client-secret-file")
	if !ok {
		t.Fatal("no --isc.client-secret-file")
	}
	m, v := mountOf(t, rel, path.Dir(file))
	if !m.ReadOnly || v.Secret == nil || v.Secret.SecretName != secretName {
		t.Fatalf("%s is mounted from %+v (readOnly %v), want the Secret %s read-only", path.Dir(file), v.VolumeSource, m.ReadOnly, secretName)
	}
	if len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != secretKey || v.Secret.Items[0].Path != path.Base(file) {
		t.Errorf("secret volume items %+v, want key %s at %s", v.Secret.Items, secretKey, path.Base(file))
	}
	if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0 {
		t.Errorf("secret volume mode %v is readable by others", v.Secret.DefaultMode)
	}

	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom %+v could put the secret into the environment", c.EnvFrom)
	}
	for _, e := range c.Env {
		if e.Name == "SAIL_CLIENT_SECRET" {
			t.Errorf("environment variable %s is set", e.Name)
		}
		if literal != "" && strings.Contains(e.Value, literal) {
			t.Errorf("environment variable %s holds the client secret", e.Name)
		}
		if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && r.SecretKeyRef.Name == secretName && r.SecretKeyRef.Key == secretKey {
			t.Errorf("environment variable %s is read from the client secret's key", e.Name)
		}
	}
	for _, a := range c.Args {
		if literal != "" && strings.Contains(a, literal) {
			t.Errorf("argument %q holds the client secret", a)
		}
	}

	// The client id: a flag, or from the Secret when it holds it.
	idKey := str(rel.values, "isc.existingSecret.clientIdKey")
	id, hasFlag := flag(t, rel, "isc.client-id")
	var idEnv *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "SAIL_CLIENT_ID" {
			idEnv = &c.Env[i]
		}
	}
	switch {
	case idKey == "" && (!hasFlag || id != str(rel.values, "isc.clientId")):
		t.Errorf("--isc.client-id=%q, want %q", id, str(rel.values, "isc.clientId"))
	case idKey != "" && (hasFlag || idEnv == nil || idEnv.ValueFrom == nil || idEnv.ValueFrom.SecretKeyRef == nil ||
		idEnv.ValueFrom.SecretKeyRef.Name != secretName || idEnv.ValueFrom.SecretKeyRef.Key != idKey):
		t.Errorf("client id: flag %v, env %+v; want SAIL_CLIENT_ID from %s/%s and no flag", hasFlag, idEnv, secretName, idKey)
	}
}

// checkState: --state.file lives in the one writable mount, a PVC or an emptyDir.
func checkState(t *testing.T, rel *release) {
	file, ok := flag(t, rel, "state.file")
	if !ok {
		t.Fatal("no --state.file")
	}
	checkStateVolume(t, rel, path.Dir(file))
}

// checkStateVolume: dir, where the state files are, is the one writable mount, a PVC or an
// emptyDir, mounted whole.
func checkStateVolume(t *testing.T, rel *release, dir string) {
	m, v := mountOf(t, rel, dir)
	if m.ReadOnly {
		t.Errorf("the state directory %s is mounted read-only", m.MountPath)
	}
	if m.SubPath != "" {
		t.Errorf("the state directory is a subPath mount; the exporter's temp file and rename need the directory")
	}
	enabled, _ := value(rel.values, "persistence.enabled").(bool)
	existing := str(rel.values, "persistence.existingClaim")
	switch {
	case enabled && v.PersistentVolumeClaim == nil:
		t.Errorf("persistence on, but the state volume is %+v", v.VolumeSource)
	case enabled && existing == "":
		if len(rel.pvcs) != 1 || rel.pvcs[0].Name != v.PersistentVolumeClaim.ClaimName {
			t.Fatalf("state volume claims %q; PVCs rendered: %d", v.PersistentVolumeClaim.ClaimName, len(rel.pvcs))
		}
		p := rel.pvcs[0]
		size := p.Spec.Resources.Requests[corev1.ResourceStorage]
		if size.Cmp(resource.MustParse("1Mi")) < 0 || !slices.Contains(p.Spec.AccessModes, corev1.ReadWriteOnce) {
			t.Errorf("PVC %s: size %s, access modes %v", p.Name, size.String(), p.Spec.AccessModes)
		}
	case enabled && len(rel.pvcs) != 0:
		t.Errorf("existingClaim set, yet %d PVCs rendered", len(rel.pvcs))
	case !enabled && (v.EmptyDir == nil || len(rel.pvcs) != 0):
		t.Errorf("persistence off: state volume %+v and %d PVCs, want an emptyDir and none", v.VolumeSource, len(rel.pvcs))
	}
	// Every other mount is read-only: the state directory is the one writable path.
	for _, mm := range container(t, rel).VolumeMounts {
		if mm.Name != m.Name && !mm.ReadOnly {
			t.Errorf("mount %s at %s is writable", mm.Name, mm.MountPath)
		}
	}
}

// restrictedVolumeTypes are the volume types the restricted Pod Security Standard allows.
var restrictedVolumeTypes = []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

// checkRestricted checks the fields the restricted Pod Security Standard (and baseline, which
// it includes) looks at, https://kubernetes.io/docs/concepts/security/pod-security-standards/.
func checkRestricted(t *testing.T, rel *release) {
	spec := rel.deployments[0].Spec.Template.Spec
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("host namespaces are shared")
	}
	if len(psc.Sysctls) > 0 {
		t.Errorf("sysctls %v", psc.Sysctls)
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Error("pod runAsUser is 0")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the service account token is mounted")
	}
	for _, sa := range rel.serviceAccounts {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s automounts its token", sa.Name)
		}
	}
	for _, v := range spec.Volumes {
		raw, err := json.Marshal(v.VolumeSource)
		if err != nil {
			t.Fatal(err)
		}
		var src map[string]any
		_ = json.Unmarshal(raw, &src)
		for typ := range src {
			if !slices.Contains(restrictedVolumeTypes, typ) {
				t.Errorf("volume %s is of type %s, which the restricted standard forbids", v.Name, typ)
			}
		}
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", c.Name)
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s does not drop ALL capabilities", c.Name)
		} else {
			for _, add := range sc.Capabilities.Add {
				if add != "NET_BIND_SERVICE" {
					t.Errorf("container %s adds capability %s", c.Name, add)
				}
			}
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		if !nonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("container %s: runAsUser 0", c.Name)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			t.Errorf("container %s: seccomp profile %+v, want RuntimeDefault or Localhost", c.Name, seccomp)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: root filesystem is writable", c.Name)
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			t.Errorf("container %s: procMount %s", c.Name, *sc.ProcMount)
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				t.Errorf("container %s: hostPort %d", c.Name, p.HostPort)
			}
		}
	}
}

// probesNeedTCP mirrors the chart's rule: the kubelet cannot pass basic auth or a required
// client certificate.
func probesNeedTCP(vals map[string]any) bool {
	return value(vals, "webConfig.config.basic_auth_users") != nil ||
		slices.Contains([]string{"RequireAnyClientCert", "RequireAndVerifyClientCert"}, str(vals, "webConfig.config.tls_server_config.client_auth_type"))
}

func checkProbesAndPort(t *testing.T, rel *release) {
	c := container(t, rel)
	if len(c.Ports) != 1 || c.Ports[0].Name != portName || c.Ports[0].ContainerPort != containerPort {
		t.Fatalf("container ports %+v, want %s on %d", c.Ports, portName, containerPort)
	}
	if addr, _ := flag(t, rel, "web.listen-address"); addr != fmt.Sprintf(":%d", containerPort) {
		t.Errorf("--web.listen-address=%q, want :%d, the container port", addr, containerPort)
	}
	tls := value(rel.values, "webConfig.config.tls_server_config") != nil
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/-/healthy"}, {"readiness", c.ReadinessProbe, "/-/ready"}} {
		if p.probe == nil {
			t.Errorf("no %s probe", p.name)
			continue
		}
		if probesNeedTCP(rel.values) {
			if p.probe.TCPSocket == nil || p.probe.TCPSocket.Port.String() != portName || p.probe.HTTPGet != nil {
				t.Errorf("%s probe %+v: with basic auth or a required client certificate, want a TCP check of %s", p.name, p.probe.ProbeHandler, portName)
			}
			continue
		}
		g := p.probe.HTTPGet
		wantScheme := corev1.URISchemeHTTP
		if tls {
			wantScheme = corev1.URISchemeHTTPS
		}
		if g == nil || g.Path != p.path || g.Port.String() != portName || g.Scheme != wantScheme {
			t.Errorf("%s probe %+v, want %s GET %s on port %s", p.name, p.probe.ProbeHandler, wantScheme, p.path, portName)
		}
		if p.probe.PeriodSeconds == 0 || p.probe.TimeoutSeconds == 0 {
			t.Errorf("%s probe has no period or timeout from the values: %+v", p.name, p.probe)
		}
	}
}

func checkResources(t *testing.T, rel *release) {
	c := container(t, rel)
	mem, ok := c.Resources.Limits[corev1.ResourceMemory]
	req := c.Resources.Requests[corev1.ResourceMemory]
	if !ok || req.IsZero() || mem.Cmp(req) < 0 {
		t.Fatalf("memory request %s, limit %s: want both, limit at least the request", req.String(), mem.String())
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Error("a CPU limit throttles the first pass and garbage collection")
	}
	var gomemlimit bool
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			r := e.ValueFrom
			gomemlimit = r != nil && r.ResourceFieldRef != nil && r.ResourceFieldRef.Resource == "limits.memory" && r.ResourceFieldRef.ContainerName == c.Name
		}
	}
	if !gomemlimit {
		t.Error("GOMEMLIMIT is not set from the container's memory limit")
	}
}

func checkWebConfig(t *testing.T, rel *release) {
	cfg, _ := value(rel.values, "webConfig.config").(map[string]any)
	file, passed := flag(t, rel, "web.config.file")
	if len(cfg) == 0 {
		if passed {
			t.Errorf("--web.config.file=%s without webConfig.config", file)
		}
		return
	}
	if !passed {
		t.Fatal("webConfig.config set, but no --web.config.file")
	}
	if path.Dir(file) != webConfigDir {
		t.Errorf("--web.config.file=%s, want it in %s", file, webConfigDir)
	}
	m, v := mountOf(t, rel, path.Dir(file))
	if !m.ReadOnly || v.Secret == nil {
		t.Fatalf("web config mounted from %+v, want a Secret, read-only", v.VolumeSource)
	}
	var secret *corev1.Secret
	for _, s := range rel.secrets {
		if s.Name == v.Secret.SecretName {
			secret = s
		}
	}
	if secret == nil {
		t.Fatalf("the web config Secret %s was not rendered", v.Secret.SecretName)
	}
	var got map[string]any
	if err := yaml.Unmarshal(secret.Data[path.Base(file)], &got); err != nil {
		t.Fatalf("web config in Secret %s key %s: %v", secret.Name, path.Base(file), err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("web config file %v, want webConfig.config %v", got, cfg)
	}
	if tlsSecret := str(rel.values, "webConfig.tlsSecretName"); tlsSecret != "" {
		m, v := mountOf(t, rel, tlsDir)
		if !m.ReadOnly || v.Secret == nil || v.Secret.SecretName != tlsSecret {
			t.Errorf("%s mounted from %+v, want the Secret %s read-only", tlsDir, v.VolumeSource, tlsSecret)
		}
		for _, k := range []string{"cert_file", "key_file"} {
			if p := str(rel.values, "webConfig.config.tls_server_config."+k); p != "" && !strings.HasPrefix(p, tlsDir+"/") {
				t.Errorf("tls_server_config.%s %s is not in the mounted %s", k, p, tlsDir)
			}
		}
	}
}

func checkService(t *testing.T, rel *release) {
	s := rel.services[0]
	pod := rel.deployments[0].Spec.Template.Labels
	if len(s.Spec.Selector) == 0 || !subset(s.Spec.Selector, pod) {
		t.Errorf("Service selector %v does not select the pod's labels %v", s.Spec.Selector, pod)
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != portName || s.Spec.Ports[0].TargetPort.String() != portName {
		t.Errorf("Service ports %+v, want %s targeting the container port %s", s.Spec.Ports, portName, portName)
	}
}

func checkServiceMonitor(t *testing.T, rel *release) {
	enabled, _ := value(rel.values, "serviceMonitor.enabled").(bool)
	if !enabled {
		if len(rel.serviceMonitors) != 0 {
			t.Error("ServiceMonitor rendered while serviceMonitor.enabled is false")
		}
		return
	}
	if len(rel.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(rel.serviceMonitors))
	}
	sm, svc := rel.serviceMonitors[0], rel.services[0]
	if len(sm.Spec.Selector.MatchLabels) == 0 || !subset(sm.Spec.Selector.MatchLabels, svc.Labels) || len(sm.Spec.Selector.MatchExpressions) != 0 {
		t.Errorf("ServiceMonitor selector %+v does not select the Service's labels %v", sm.Spec.Selector, svc.Labels)
	}
	if !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) && !sm.Spec.NamespaceSelector.Any {
		t.Errorf("ServiceMonitor looks in %v, the Service is in %s", sm.Spec.NamespaceSelector.MatchNames, svc.Namespace)
	}
	if !subset(stringMap(value(rel.values, "serviceMonitor.additionalLabels")), sm.Labels) {
		t.Errorf("ServiceMonitor labels %v lack serviceMonitor.additionalLabels", sm.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != svc.Spec.Ports[0].Name {
		t.Errorf("endpoint port %q, the Service's port is named %q", ep.Port, svc.Spec.Ports[0].Name)
	}
	if telemetry, _ := flag(t, rel, "web.telemetry-path"); ep.Path != telemetry {
		t.Errorf("endpoint path %q, --web.telemetry-path %q", ep.Path, telemetry)
	}
	for field, got := range map[string]monitoringv1.Duration{"interval": ep.Interval, "scrapeTimeout": ep.ScrapeTimeout} {
		if want := str(rel.values, "serviceMonitor."+field); string(got) != want {
			t.Errorf("endpoint %s %q, want %q", field, got, want)
		}
	}
	rl, _ := value(rel.values, "serviceMonitor.relabelings").([]any)
	mrl, _ := value(rel.values, "serviceMonitor.metricRelabelings").([]any)
	if len(ep.RelabelConfigs) != len(rl) || len(ep.MetricRelabelConfigs) != len(mrl) {
		t.Errorf("endpoint has %d relabelings and %d metric relabelings, want %d and %d", len(ep.RelabelConfigs), len(ep.MetricRelabelConfigs), len(rl), len(mrl))
	}
	wantScheme := "http"
	if value(rel.values, "webConfig.config.tls_server_config") != nil {
		wantScheme = "https"
	}
	if ep.Scheme == nil || string(*ep.Scheme) != wantScheme {
		t.Errorf("endpoint scheme %v, want %s", ep.Scheme, wantScheme)
	}
	if value(rel.values, "webConfig.config.basic_auth_users") != nil && (ep.BasicAuth == nil || ep.BasicAuth.Password.Name == "") {
		t.Error("the exporter asks for basic auth, the ServiceMonitor sends none")
	}
}

// shippedRuleGroups decodes alerts/sailpoint.rules.yml strictly into the operator's types.
func shippedRuleGroups(t *testing.T) monitoringv1.PrometheusRuleSpec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "alerts", "sailpoint.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := decodeStrict(raw, &spec); err != nil {
		t.Fatalf("alerts/sailpoint.rules.yml does not decode into PrometheusRule groups: %v", err)
	}
	if len(spec.Groups) == 0 {
		t.Fatal("alerts/sailpoint.rules.yml has no groups")
	}
	return spec
}

// checkPrometheusRule: the PrometheusRule's groups are alerts/sailpoint.rules.yml's, changed
// only where the values say so.
func checkPrometheusRule(t *testing.T, rel *release) {
	enabled, _ := value(rel.values, "prometheusRule.enabled").(bool)
	if !enabled {
		if len(rel.prometheusRules) != 0 {
			t.Error("PrometheusRule rendered while prometheusRule.enabled is false")
		}
		return
	}
	if len(rel.prometheusRules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rel.prometheusRules))
	}
	pr := rel.prometheusRules[0]
	if !subset(stringMap(value(rel.values, "prometheusRule.additionalLabels")), pr.Labels) {
		t.Errorf("PrometheusRule labels %v lack prometheusRule.additionalLabels", pr.Labels)
	}
	want := shippedRuleGroups(t)
	pattern := str(rel.values, "prometheusRule.runbookURLPattern")
	if pattern == "" {
		pattern = shippedRunbook
	}
	target, _ := value(rel.values, "prometheusRule.provisioningSLOTarget").(float64)
	extra := stringMap(value(rel.values, "prometheusRule.additionalRuleLabels"))
	var sloRules int
	for gi := range want.Groups {
		for ri := range want.Groups[gi].Rules {
			r := &want.Groups[gi].Rules[ri]
			if strings.Contains(r.Expr.String(), shippedSLOToken) {
				sloRules++
				if target != 0 && target != 0.99 {
					r.Expr.StrVal = strings.ReplaceAll(r.Expr.StrVal, shippedSLOToken, fmt.Sprintf("(1 - %v)", target))
				}
			}
			if r.Alert == "" {
				continue
			}
			r.Annotations["runbook_url"] = fmt.Sprintf(pattern, strings.ToLower(r.Alert))
			for k, v := range extra {
				if _, ok := r.Labels[k]; !ok {
					r.Labels[k] = v
				}
			}
		}
	}
	if sloRules < 3 {
		t.Errorf("%d rules hold the SLO target %s, want the 3 burn-rate alerts at least", sloRules, shippedSLOToken)
	}
	if d := firstDiff(generic(t, pr.Spec.Groups), generic(t, want.Groups), "groups"); d != "" {
		t.Errorf("PrometheusRule groups differ from alerts/sailpoint.rules.yml with the values applied, at %s", d)
	}
}

// checkDashboards: one ConfigMap per dashboards/*.json, labelled for Grafana's sidecar, with
// the file's content (and the SLO target of the values).
func checkDashboards(t *testing.T, rel *release) {
	enabled, _ := value(rel.values, "dashboards.enabled").(bool)
	if !enabled {
		if n := len(dashboardConfigMaps(rel)); n != 0 {
			t.Errorf("%d dashboard ConfigMaps rendered while dashboards.enabled is false", n)
		}
		return
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "dashboards", "*.json"))
	maps := dashboardConfigMaps(rel)
	if len(maps) != len(files) {
		t.Fatalf("%d dashboard ConfigMaps, want one per file of dashboards/ (%d)", len(maps), len(files))
	}
	labels := stringMap(value(rel.values, "dashboards.labels"))
	if labels == nil {
		labels = map[string]string{"grafana_dashboard": "1"}
	}
	target, _ := value(rel.values, "prometheusRule.provisioningSLOTarget").(float64)
	byKey := map[string]*corev1.ConfigMap{}
	for _, cm := range maps {
		if !subset(labels, cm.Labels) {
			t.Errorf("ConfigMap %s labels %v lack the sidecar's %v", cm.Name, cm.Labels, labels)
		}
		if !subset(stringMap(value(rel.values, "dashboards.annotations")), cm.Annotations) {
			t.Errorf("ConfigMap %s annotations %v lack dashboards.annotations", cm.Name, cm.Annotations)
		}
		if len(cm.Data) != 1 {
			t.Errorf("ConfigMap %s has %d keys, want 1", cm.Name, len(cm.Data))
		}
		for k := range cm.Data {
			byKey[k] = cm
		}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cm, ok := byKey[filepath.Base(f)]
		if !ok {
			t.Errorf("no ConfigMap holds %s", filepath.Base(f))
			continue
		}
		want := string(raw)
		if target != 0 && target != 0.99 {
			want = strings.ReplaceAll(want, shippedSLOToken, fmt.Sprintf("(1 - %v)", target))
		}
		var a, b any
		if err := json.Unmarshal([]byte(cm.Data[filepath.Base(f)]), &a); err != nil {
			t.Errorf("ConfigMap %s: %v", cm.Name, err)
			continue
		}
		_ = json.Unmarshal([]byte(want), &b)
		if d := firstDiff(a, b, filepath.Base(f)); d != "" {
			t.Errorf("ConfigMap %s differs from dashboards/ at %s", cm.Name, d)
		}
	}
}

// checkNamespaces: every object names its namespace (kubectl apply of helm template works),
// and the optional ones go where the values say.
func checkNamespaces(t *testing.T, rel *release) {
	want := func(path string) string {
		if ns := str(rel.values, path); ns != "" {
			return ns
		}
		return releaseNamespace
	}
	check := func(kind, name, got, want string) {
		if got != want {
			t.Errorf("%s %s in namespace %q, want %q", kind, name, got, want)
		}
	}
	for _, o := range rel.deployments {
		check("Deployment", o.Name, o.Namespace, releaseNamespace)
	}
	for _, o := range rel.services {
		check("Service", o.Name, o.Namespace, releaseNamespace)
	}
	for _, o := range rel.secrets {
		check("Secret", o.Name, o.Namespace, releaseNamespace)
	}
	for _, o := range rel.pvcs {
		check("PersistentVolumeClaim", o.Name, o.Namespace, releaseNamespace)
	}
	for _, o := range rel.serviceAccounts {
		check("ServiceAccount", o.Name, o.Namespace, releaseNamespace)
	}
	for _, o := range dashboardConfigMaps(rel) {
		check("ConfigMap", o.Name, o.Namespace, want("dashboards.namespace"))
	}
	if cm := tenantsConfigMap(rel); cm != nil {
		check("ConfigMap", cm.Name, cm.Namespace, releaseNamespace)
	}
	for _, o := range rel.serviceMonitors {
		check("ServiceMonitor", o.Name, o.Namespace, want("serviceMonitor.namespace"))
	}
	for _, o := range rel.prometheusRules {
		check("PrometheusRule", o.Name, o.Namespace, want("prometheusRule.namespace"))
	}
}

func subset(small, big map[string]string) bool {
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return true
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}
