package deploytest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Fixed by the chart's templates, for several tenants.
const (
	configDir        = "/etc/sailpoint-exporter/config"
	configKey        = "tenants.yml"
	tenantSecretsDir = "/etc/sailpoint-exporter/tenants"
)

// refusedFlags and refusedEnv are what the exporter refuses beside --config.file: the settings
// of one tenant, which each tenant's entry of the file says.
var (
	refusedFlags = []string{"isc.url", "isc.client-id", "isc.client-secret-file", "isc.token-url", "state.file", "demo"}
	refusedEnv   = []string{"SAIL_BASE_URL", "SAIL_CLIENT_ID", "SAIL_CLIENT_SECRET", "SAIL_CLIENT_SECRET_FILE", "SAIL_TOKEN_URL", "SAIL_STATE_FILE"}
)

// tenantsOf returns the tenants value of the release, nil without tenants.
func tenantsOf(rel *release) []map[string]any {
	list, _ := value(rel.values, "tenants").([]any)
	var out []map[string]any
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, m)
	}
	return out
}

// dashboardConfigMaps are the ConfigMaps holding a dashboard.
func dashboardConfigMaps(rel *release) []*corev1.ConfigMap {
	var out []*corev1.ConfigMap
	for _, cm := range rel.configMaps {
		for k := range cm.Data {
			if strings.HasSuffix(k, ".json") {
				out = append(out, cm)
				break
			}
		}
	}
	return out
}

// tenantsConfigMap is the ConfigMap of the tenants' configuration file, nil without.
func tenantsConfigMap(rel *release) *corev1.ConfigMap {
	for _, cm := range rel.configMaps {
		if _, ok := cm.Data[configKey]; ok {
			return cm
		}
	}
	return nil
}

// configFile is the exporter's configuration file as the chart renders it: defaults, and
// each tenant's fields and settings.
type configFile struct {
	Defaults map[string]any   `json:"defaults"`
	Tenants  []map[string]any `json:"tenants"`
}

// tenantFields are the fields of a tenant's entry; every other key is a setting.
var tenantFields = []string{"name", "url", "client_id", "client_secret_file", "client_secret_env", "token_url", "state_file"}

func parseConfigFile(t *testing.T, data string) configFile {
	t.Helper()
	var f configFile
	if err := yaml.UnmarshalStrict([]byte(data), &f); err != nil {
		t.Fatalf("the configuration file does not parse: %v\n%s", err, data)
	}
	return f
}

// checkTenants: with tenants, the exporter gets the configuration file the chart renders from
// them (and nothing the exporter refuses beside it), each tenant's secret as a file from its
// own Secret at the path the file names, each tenant's state file in the one state volume, and
// a rollout when the file changes. Without tenants, none of it is rendered.
func checkTenants(t *testing.T, rel *release) {
	tenants := tenantsOf(rel)
	cm := tenantsConfigMap(rel)
	annotations := rel.deployments[0].Spec.Template.Annotations
	file, hasFlag := flag(t, rel, "config.file")
	if len(tenants) == 0 {
		if cm != nil || hasFlag || annotations["checksum/config"] != "" {
			t.Errorf("without tenants: ConfigMap %v, --config.file %q, checksum/config %q; want none", cm != nil, file, annotations["checksum/config"])
		}
		return
	}
	c := container(t, rel)

	// The file, from the ConfigMap, mounted read-only where --config.file says.
	if cm == nil || len(cm.Data) != 1 {
		t.Fatalf("no ConfigMap with %s alone: %v", configKey, cm)
	}
	if !hasFlag || path.Dir(file) != configDir || path.Base(file) != configKey {
		t.Fatalf("--config.file=%q (passed %v), want %s/%s", file, hasFlag, configDir, configKey)
	}
	m, v := mountOf(t, rel, configDir)
	if !m.ReadOnly || v.ConfigMap == nil || v.ConfigMap.Name != cm.Name || len(v.ConfigMap.Items) != 0 {
		t.Errorf("%s is mounted from %+v (readOnly %v), want the ConfigMap %s, read-only", configDir, v.VolumeSource, m.ReadOnly, cm.Name)
	}
	data := cm.Data[configKey]
	if sum := sha256.Sum256([]byte(data)); annotations["checksum/config"] != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum/config %q is not the sha256 of the configuration file: a change would not roll the pod out", annotations["checksum/config"])
	}

	// Nothing the exporter refuses beside --config.file.
	for _, f := range refusedFlags {
		for _, a := range c.Args {
			if a == "--"+f || strings.HasPrefix(a, "--"+f+"=") {
				t.Errorf("argument %q: the exporter refuses it beside --config.file", a)
			}
		}
	}
	blanked := false
	for _, e := range c.Env {
		if !slices.Contains(refusedEnv, e.Name) {
			continue
		}
		if e.Name == "SAIL_STATE_FILE" && e.Value == "" && e.ValueFrom == nil {
			blanked = true // the image's value, emptied
			continue
		}
		t.Errorf("environment variable %s is set (%q, %+v): the exporter refuses it beside --config.file", e.Name, e.Value, e.ValueFrom)
	}
	if !blanked {
		t.Error("SAIL_STATE_FILE, which the image sets, is not emptied: the exporter would refuse it beside --config.file")
	}

	// The file says what the values say, with the paths of the pod.
	f := parseConfigFile(t, data)
	if d := firstDiff(generic(t, f.Defaults), generic(t, value(rel.values, "tenantDefaults")), "defaults"); d != "" && (len(f.Defaults) > 0 || len(stringMap(value(rel.values, "tenantDefaults"))) > 0) {
		t.Errorf("the file's defaults are not tenantDefaults: %s", d)
	}
	if len(f.Tenants) != len(tenants) {
		t.Fatalf("the file lists %d tenants, the values %d", len(f.Tenants), len(tenants))
	}
	secrets, sv := mountOf(t, rel, tenantSecretsDir)
	if !secrets.ReadOnly || sv.Projected == nil {
		t.Fatalf("%s is mounted from %+v (readOnly %v), want a projected volume of the tenants' Secrets, read-only", tenantSecretsDir, sv.VolumeSource, secrets.ReadOnly)
	}
	if mode := sv.Projected.DefaultMode; mode == nil || *mode&0o007 != 0 {
		t.Errorf("the tenants' secrets' mode %v is readable by others", mode)
	}
	stateDirs := map[string]bool{}
	for i, want := range tenants {
		got := f.Tenants[i]
		name := fmt.Sprint(want["name"])
		for k, w := range map[string]any{"name": want["name"], "url": want["url"], "client_id": fmt.Sprint(want["clientId"]), "token_url": want["tokenUrl"]} {
			if fmt.Sprint(got[k]) != fmt.Sprint(w) {
				t.Errorf("tenant %s: %s %v, want %v", name, k, got[k], w)
			}
		}
		if _, ok := got["client_secret_env"]; ok {
			t.Errorf("tenant %s: client_secret_env: the secret is a mounted file, never an environment variable", name)
		}
		settings := map[string]any{}
		for k, v := range got {
			if !slices.Contains(tenantFields, k) {
				settings[k] = v
			}
		}
		if ws, _ := want["settings"].(map[string]any); len(ws) > 0 || len(settings) > 0 {
			if d := firstDiff(generic(t, settings), generic(t, ws), "settings"); d != "" {
				t.Errorf("tenant %s: its settings in the file are not its values' settings: %s", name, d)
			}
		}

		// Its secret: the file the entry names is its own Secret's key, in the projected volume.
		secretFile, _ := got["client_secret_file"].(string)
		secretName, secretKey := fmt.Sprint(want["existingSecret"]), "client-secret"
		if k, ok := want["secretKey"].(string); ok && k != "" {
			secretKey = k
		}
		found := false
		for _, src := range sv.Projected.Sources {
			if src.Secret == nil || src.Secret.Name != secretName {
				continue
			}
			for _, item := range src.Secret.Items {
				if item.Key == secretKey && path.Join(secrets.MountPath, item.Path) == secretFile {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("tenant %s: client_secret_file %q is not key %s of Secret %s in %s (%+v)", name, secretFile, secretKey, secretName, tenantSecretsDir, sv.Projected.Sources)
		}

		// Its state file: its own, in the state volume.
		state, _ := got["state_file"].(string)
		wantBase := name + ".state"
		if n, ok := want["stateFileName"].(string); ok && n != "" {
			wantBase = n
		}
		if path.Base(state) != wantBase {
			t.Errorf("tenant %s: state_file %q, want %s in the state volume", name, state, wantBase)
		}
		stateDirs[path.Dir(state)] = true
	}
	if len(stateDirs) != 1 {
		t.Fatalf("the tenants' state files are in %v, want one directory, the state volume's", stateDirs)
	}
	for dir := range stateDirs {
		if dir != path.Clean(str(rel.values, "persistence.mountPath")) {
			t.Errorf("state files in %s, the state volume is at persistence.mountPath %s", dir, str(rel.values, "persistence.mountPath"))
		}
		checkStateVolume(t, rel, dir)
	}
	if len(sv.Projected.Sources) != len(tenants) {
		t.Errorf("%d secrets projected for %d tenants", len(sv.Projected.Sources), len(tenants))
	}
	for _, s := range rel.secrets {
		if _, ok := s.Data["client-secret"]; ok {
			t.Errorf("with tenants the chart made Secret %s with a client secret: each tenant's comes from its existingSecret", s.Name)
		}
	}
}

// TestChartTenantsVariants renders tenants with the state elsewhere than the ci file has it.
func TestChartTenantsVariants(t *testing.T) {
	const base = `
tenants:
  - {name: sandbox, url: https://acme-sb.api.identitynow.com, clientId: "0123", existingSecret: sailpoint-sandbox}
  - {name: production, url: https://acme.api.identitynow.com, clientId: "4567", existingSecret: sailpoint-production, stateFileName: sailpoint_exporter.state}
`
	t.Run("persistence off: the state files on the emptyDir; a tenant keeps the state file of the release before tenants", func(t *testing.T) {
		rel := renderRelease(t, "tenants-no-pvc", parseValues(t, base+"persistence: {enabled: false, mountPath: /var/lib/sailpoint}\n"))
		checkRelease(t, rel)
		f := parseConfigFile(t, tenantsConfigMap(rel).Data[configKey])
		if got := f.Tenants[1]["state_file"]; got != "/var/lib/sailpoint/sailpoint_exporter.state" {
			t.Errorf("production's state_file %v, want /var/lib/sailpoint/sailpoint_exporter.state", got)
		}
	})
	t.Run("an existing claim", func(t *testing.T) {
		rel := renderRelease(t, "tenants-claim", parseValues(t, base+"persistence: {existingClaim: sailpoint-state}\n"))
		checkRelease(t, rel)
	})
	t.Run("a change of a tenant changes the checksum, which rolls the pod out", func(t *testing.T) {
		a := renderRelease(t, "tenants-a", parseValues(t, base))
		b := renderRelease(t, "tenants-b", parseValues(t, strings.Replace(base, `clientId: "4567"`, `clientId: "89ab"`, 1)))
		if x, y := a.deployments[0].Spec.Template.Annotations["checksum/config"], b.deployments[0].Spec.Template.Annotations["checksum/config"]; x == y || x == "" {
			t.Errorf("checksum/config %q before and %q after a change of a client id", x, y)
		}
	})
}

// TestChartRefusesBadTenantValues: the schema and the templates reject tenants that the
// exporter would refuse, or that would deploy wrongly, with the value to change.
func TestChartRefusesBadTenantValues(t *testing.T) {
	c := loadChart(t)
	const one = "tenants:\n  - {name: sandbox, url: https://acme-sb.api.identitynow.com, clientId: a, existingSecret: s}\n"
	two := func(second string) string {
		return one + "  - {" + second + "}\n"
	}
	for _, tc := range []struct{ name, values, want string }{
		{"a name in capitals", strings.Replace(one, "name: sandbox", "name: Sandbox", 1), "/tenants/0/name"},
		{"a name longer than a label value", strings.Replace(one, "name: sandbox", "name: "+strings.Repeat("a", 64), 1), "/tenants/0/name"},
		{"two tenants of one name", two("name: sandbox, url: https://acme.api.identitynow.com, clientId: b, existingSecret: t"), `"sandbox" is the name of tenants[0] too`},
		{"no Secret", strings.Replace(one, ", existingSecret: s", "", 1), "existingSecret"},
		{"no URL", strings.Replace(one, "url: https://acme-sb.api.identitynow.com, ", "", 1), "url"},
		{"no client id", strings.Replace(one, "clientId: a, ", "", 1), "clientId"},
		{"the secret itself", strings.Replace(one, "}", ", clientSecret: not-a-secret}", 1), "clientSecret"},
		{"a URL without its scheme", strings.Replace(one, "https://acme-sb", "acme-sb", 1), "/tenants/0/url"},
		{"a setting that is a field of the tenant", strings.Replace(one, "}", ", settings: {isc.url: https://x.api.identitynow.com}}", 1), "invalid propertyName 'isc.url'"},
		{"a setting that is no flag's name", strings.Replace(one, "}", ", settings: {refresh: 30s}}", 1), "invalid propertyName 'refresh'"},
		{"a default that is a field of the tenant", one + "tenantDefaults: {isc.client-id: x}\n", "invalid propertyName 'isc.client-id'"},
		{"two tenants of one state file", two("name: production, url: https://acme.api.identitynow.com, clientId: b, existingSecret: t, stateFileName: sandbox.state"), "its state file /var/lib/sailpoint_exporter/sandbox.state is tenants[0]'s too"},
		{"a state file name with a directory", strings.Replace(one, "}", ", stateFileName: ../x.state}", 1), "stateFileName"},
		{"isc.url beside tenants", one + "isc: {url: https://acme.api.identitynow.com}\n", "isc.url is for a release of one tenant"},
		{"isc.clientId beside tenants", one + "isc: {clientId: x}\n", "isc.clientId is for a release of one tenant"},
		{"isc.existingSecret beside tenants", one + "isc: {existingSecret: {name: sailpoint-isc}}\n", "isc.existingSecret is for a release of one tenant"},
		{"a tenant's variable in extraEnv", one + "extraEnv: [{name: SAIL_BASE_URL, value: https://acme.api.identitynow.com}]\n", "extraEnv must not set SAIL_BASE_URL with tenants"},
		{"a state file in extraArgs", one + "extraArgs: [--state.file=/var/lib/sailpoint_exporter/x]\n", "extraArgs must not pass --state.file with tenants"},
		{"--demo in extraArgs", one + "extraArgs: [--demo]\n", "extraArgs must not pass --demo with tenants"},
		{"a relabeling to the tenant label", one + "serviceMonitor: {enabled: true, relabelings: [{action: replace, targetLabel: tenant, replacement: acme}]}\n", "must not set the target label tenant"},
		{"tenantDefaults without tenants", "isc: {url: https://acme.api.identitynow.com, clientId: x, clientSecret: not-a-secret}\ntenantDefaults: {isc.requests-per-second: 3}\n", "tenantDefaults are the settings of the tenants of tenants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(c, parseValues(t, tc.values))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error %v, want one that mentions %q", err, tc.want)
			}
		})
	}
}

// TestChartTenantsAcceptedByExporter runs the exporter, built from this repository, with
// --config.check on the configuration file the chart renders, the container's arguments and
// the environment the container gets (the image's, then the chart's): the exporter accepts
// what the chart deploys. Without the chart's empty SAIL_STATE_FILE, the image's would be
// refused: the check sees the whole command line.
func TestChartTenantsAcceptedByExporter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the exporter; -short leaves it out")
	}
	bin := buildExporter(t)
	imageEnv := dockerfileEnv(t)
	if imageEnv["SAIL_STATE_FILE"] == "" {
		t.Fatalf("the Dockerfile sets no SAIL_STATE_FILE (%v): this test's premise changed", imageEnv)
	}
	for _, tc := range []struct {
		name string
		vals map[string]any
	}{
		{"ci/tenants-values.yaml", readValues(t, filepath.Join(chartDir(t), "ci", "tenants-values.yaml"))},
		{"persistence off and a state file name of one's own", parseValues(t, `
tenants:
  - {name: sandbox, url: https://acme-sb.api.identitynow.com, clientId: "0123", existingSecret: sailpoint-sandbox}
  - {name: production, url: https://acme.api.identitynow.com, clientId: "4567", existingSecret: sailpoint-production, stateFileName: sailpoint_exporter.state}
persistence: {enabled: false}
`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel := renderRelease(t, tc.name, tc.vals)
			checkRelease(t, rel)
			var names []string
			for _, tn := range tenantsOf(rel) {
				names = append(names, fmt.Sprint(tn["name"]))
			}
			out, err := configCheck(t, bin, rel, imageEnv, true)
			want := fmt.Sprintf("valid, %d tenants: %s (the secrets were not read)", len(names), strings.Join(names, ", "))
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("sailpoint_exporter --config.check: %v\n%s\nwant %q", err, out, want)
			} else {
				t.Logf("the exporter accepts the rendered configuration: %s", strings.TrimSpace(out))
			}
			if out, err := configCheck(t, bin, rel, imageEnv, false); err == nil || !strings.Contains(out, "SAIL_STATE_FILE") {
				t.Errorf("with the image's SAIL_STATE_FILE and not the chart's empty one: %v\n%s\nwant a refusal naming SAIL_STATE_FILE", err, out)
			}
		})
	}
}

// configCheck runs bin --config.check with the container's arguments, its --config.file
// pointing at a copy of the rendered file, and the image's environment with the container's
// (its plain values) over it, or without the container's when withChartEnv is false.
func configCheck(t *testing.T, bin string, rel *release, imageEnv map[string]string, withChartEnv bool) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), configKey)
	if err := os.WriteFile(file, []byte(tenantsConfigMap(rel).Data[configKey]), 0o600); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range container(t, rel).Args {
		if strings.HasPrefix(a, "--config.file=") {
			a = "--config.file=" + file
		}
		args = append(args, a)
	}
	args = append(args, "--config.check")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range imageEnv {
		env = append(env, k+"="+v)
	}
	if withChartEnv {
		for _, e := range container(t, rel).Env {
			if e.ValueFrom == nil {
				env = append(env, e.Name+"="+e.Value) // the last of a name wins, as in the container
			}
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dockerfileEnv is what the image's ENV lines set.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ENV ([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*$`).FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// buildExporter builds the exporter from the repository into the test's temporary directory.
func buildExporter(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "sailpoint_exporter")
	cmd := exec.Command(goBin, "build", "-buildvcs=false", "-o", bin, ".")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the exporter: %v\n%s", err, out)
	}
	return bin
}
