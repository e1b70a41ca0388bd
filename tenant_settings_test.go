package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// writeConfig writes a configuration file and a 0600 secret file beside
// it, and returns the file's path and the secret file's.
func writeConfig(t *testing.T, content string) (path, secretFile string) {
	t.Helper()
	dir := t.TempDir()
	secretFile = filepath.Join(dir, "sandbox.secret")
	if err := os.WriteFile(secretFile, []byte("sandbox-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "tenants.yml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(content, "SECRET_FILE", secretFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, secretFile
}

// A setting's value: the flag's default, unless the command line or the
// environment gives it; then the file's defaults:; then the tenant's own.
func TestConfigFileSettingsLayers(t *testing.T) {
	t.Setenv("SAIL_ACTIVITIES_LOOKBACK", "48h")
	t.Setenv("SAIL_PRODUCTION_SECRET", "production-secret")
	path, secretFile := writeConfig(t, `defaults:
  activities.refresh-interval: 1m
  isc.requests-per-second: 2
  aggregations.types: [CLOUD_ACCOUNT_AGGREGATION, SOURCE_AGGREGATION]
tenants:
  - name: sandbox
    url: https://acme-sb.api.identitynow.com
    client_id: 0123abcd
    client_secret_file: SECRET_FILE
    state_file: /var/lib/sailpoint_exporter/sandbox.state
    collector.sources: false
  - name: production
    url: https://acme.api.identitynow.com
    client_id: 4567efab
    client_secret_env: SAIL_PRODUCTION_SECRET
    token_url: https://acme.identitynow.com/oauth/token
    activities.refresh-interval: 30s
    isc.api-version: v2025
`)
	list, warnings, err := fileTenants(path, []string{"--activities.refresh-interval=2m", "--isc.timeout=20s", "--config.file=" + path}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	if len(list) != 2 {
		t.Fatalf("%d tenants", len(list))
	}
	sb, prod := list[0], list[1]
	tests := []struct {
		what      string
		got, want any
	}{
		{"names", []string{sb.Name, prod.Name}, []string{"sandbox", "production"}},
		{"sandbox's interval: the file's defaults over the command line", sb.ActivitiesInterval, time.Minute},
		{"production's interval: its own", prod.ActivitiesInterval, 30 * time.Second},
		{"requests per second: the defaults", []float64{sb.RequestsPerSecond, prod.RequestsPerSecond}, []float64{2, 2}},
		{"timeout: the command line", []time.Duration{sb.Timeout, prod.Timeout}, []time.Duration{20 * time.Second, 20 * time.Second}},
		{"lookback: the environment", []time.Duration{sb.Lookback, prod.Lookback}, []time.Duration{48 * time.Hour, 48 * time.Hour}},
		{"overlap: the flag's default", sb.Overlap, 5 * time.Minute},
		{"a list setting", sb.AggregationTypes, []string{"CLOUD_ACCOUNT_AGGREGATION", "SOURCE_AGGREGATION"}},
		{"collectors", []bool{sb.Sources, prod.Sources, sb.Clusters}, []bool{false, true, true}},
		{"API version", []string{sb.APIVersion, prod.APIVersion}, []string{"v1", "v2025"}},
		{"URLs", []string{sb.URL, prod.URL, sb.TokenURL, prod.TokenURL}, []string{"https://acme-sb.api.identitynow.com", "https://acme.api.identitynow.com", "", "https://acme.identitynow.com/oauth/token"}},
		{"client ids", []string{sb.ClientID, prod.ClientID}, []string{"0123abcd", "4567efab"}},
		{"secrets, the file's trimmed", []string{sb.Secret, prod.Secret}, []string{"sandbox-secret", "production-secret"}},
		{"where the secrets are", []string{sb.SecretFrom, prod.SecretFrom}, []string{"file " + secretFile, "environment variable SAIL_PRODUCTION_SECRET"}},
		{"state files", []string{sb.StateFile, prod.StateFile}, []string{"/var/lib/sailpoint_exporter/sandbox.state", ""}},
	}
	for _, tt := range tests {
		if !equalAny(tt.got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.what, tt.got, tt.want)
		}
	}
	// Read again, the same file gives the same settings: a reload of an
	// unchanged file leaves every tenant running.
	again, _, err := fileTenants(path, []string{"--activities.refresh-interval=2m", "--isc.timeout=20s", "--config.file=" + path}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(list, again, tenant.Settings.Equal) {
		t.Error("the same file read twice gives different settings")
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []string:
		return slices.Equal(x, b.([]string))
	case []float64:
		return slices.Equal(x, b.([]float64))
	case []time.Duration:
		return slices.Equal(x, b.([]time.Duration))
	case []bool:
		return slices.Equal(x, b.([]bool))
	}
	return a == b
}

// A setting that is not one, a bad value, a setting of the process or of
// the tenant's own fields, and settings that fail the flags' own checks
// are refused with the file's line and the field.
func TestConfigFileSettingsRefused(t *testing.T) {
	t.Setenv("SAIL_PRODUCTION_SECRET", "x")
	const head = "tenants:\n  - name: production\n    url: https://acme.api.identitynow.com\n    client_id: id\n    client_secret_env: SAIL_PRODUCTION_SECRET\n"
	tests := []struct {
		name, file, want string
	}{
		{"misspelled", head + "    activities.refresh-intervl: 30s\n",
			":6: tenants[0].activities.refresh-intervl: unknown setting: the settings are the per-tenant flags' names"},
		{"bad duration", head + "    activities.lookback: a day\n",
			`:6: tenants[0].activities.lookback: "a day" is not a value of --activities.lookback`},
		{"bad number in the defaults", "defaults:\n  isc.requests-per-second: fast\n" + head,
			`:2: defaults.isc.requests-per-second: "fast" is not a value of --isc.requests-per-second`},
		{"a process setting", "defaults:\n  web.listen-address: :9000\n" + head,
			":2: defaults.web.listen-address: not a per-tenant setting: --web.listen-address is the process's, give it on the command line"},
		{"the state file as a setting", head + "    state.file: /x\n",
			":6: tenants[0].state.file: not a per-tenant setting: --state.file is the process's"},
		{"the URL as a setting", "defaults:\n  isc.url: https://x.api.identitynow.com\n" + head,
			":2: defaults.isc.url: not a per-tenant setting: it is the tenant's url field"},
		{"the scrape offset", head + "    activities.scrape-timeout-offset: 1s\n",
			":6: tenants[0].activities.scrape-timeout-offset: not a per-tenant setting: it is the process's"},
		{"the flags' checks", head + "    activities.overlap: 48h\n",
			":2: tenants[0] (production): --activities.overlap must be at least 0 and shorter than --activities.lookback"},
		{"plain http", "tenants:\n  - name: production\n    url: http://acme.api.identitynow.com\n    client_id: id\n    client_secret_env: SAIL_PRODUCTION_SECRET\n",
			":2: tenants[0] (production): --isc.url uses plain http to acme.api.identitynow.com"},
		{"an unset secret", "tenants:\n  - name: production\n    url: https://acme.api.identitynow.com\n    client_id: id\n    client_secret_env: SAIL_UNSET_SECRET\n",
			":2: tenants[0] (production): the environment variable SAIL_UNSET_SECRET, which holds the client secret of tenant production, is not set or empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := writeConfig(t, tt.file)
			_, _, err := fileTenants(path, nil, true)
			if err == nil || !strings.HasPrefix(err.Error(), path+tt.want) {
				t.Errorf("error\n  %v\nwant\n  %s%s", err, path, tt.want)
			}
		})
	}
}

// With a configuration file, one tenant's settings on the command line or
// in the environment are refused: which one would win is not obvious.
func TestConfigFileRefusesOneTenantsSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "URL", args: []string{"--isc.url=https://acme.api.identitynow.com"}, want: "unset --isc.url (SAIL_BASE_URL)"},
		{name: "URL from the environment", env: map[string]string{"SAIL_BASE_URL": "https://acme.api.identitynow.com"}, want: "unset --isc.url (SAIL_BASE_URL)"},
		{name: "client id", args: []string{"--isc.client-id=x"}, want: "unset --isc.client-id (SAIL_CLIENT_ID)"},
		{name: "secret", env: map[string]string{secretEnv: "x"}, want: "unset SAIL_CLIENT_SECRET"},
		{name: "secret file", args: []string{"--isc.client-secret-file=/s"}, want: "unset --isc.client-secret-file"},
		{name: "state file", args: []string{"--state.file=/s"}, want: "unset --state.file (SAIL_STATE_FILE)"},
		{name: "demo", args: []string{"--demo"}, want: "unset --demo"},
		{name: "several", args: []string{"--isc.url=https://acme.api.identitynow.com", "--isc.client-id=x"}, want: "unset --isc.url (SAIL_BASE_URL), --isc.client-id (SAIL_CLIENT_ID) ("},
		{name: "the file from the environment", env: map[string]string{"SAIL_CONFIG_FILE": "/t.yml", "SAIL_CLIENT_ID": "x"}, want: "unset --isc.client-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SAIL_BASE_URL", "SAIL_CLIENT_ID", secretEnv, "SAIL_CONFIG_FILE", "SAIL_STATE_FILE", "SAIL_CLIENT_SECRET_FILE", "SAIL_TOKEN_URL"} {
				t.Setenv(k, tt.env[k])
				if tt.env[k] == "" {
					_ = os.Unsetenv(k)
				}
			}
			args := tt.args
			if tt.env["SAIL_CONFIG_FILE"] == "" {
				args = append([]string{"--config.file=/t.yml"}, args...)
			}
			s := parseArgs(t, args...)
			err := s.check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: %v, want %q", err, tt.want)
			}
		})
	}
}

// --config.check says whether the file can be used, without the secrets a
// pipeline does not have, and exits.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	good, _ := writeConfig(t, "tenants:\n  - name: sandbox\n    url: https://acme-sb.api.identitynow.com\n    client_id: a\n    client_secret_file: /run/secrets/none\n"+
		"  - name: production\n    url: https://acme.api.identitynow.com\n    client_id: b\n    client_secret_env: SAIL_PRODUCTION_SECRET\n    activities.lookback: 2000h\n")
	bad, _ := writeConfig(t, "tenants:\n  - name: production\n    url: https://acme.api.identitynow.com\n    client_id: b\n    client_secret: hunter2\n")
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		want     string
	}{
		{name: "valid", args: []string{"--config.check", "--config.file=" + good}, want: good + ": valid, 2 tenants: sandbox, production (the secrets were not read)"},
		{name: "valid, from the environment", args: []string{"--config.check"}, env: []string{"SAIL_CONFIG_FILE=" + good}, want: "valid, 2 tenants"},
		{name: "warnings", args: []string{"--config.check", "--config.file=" + good}, want: "warning: tenant production: --activities.lookback=2000h0m0s is beyond what ISC keeps"},
		{name: "invalid", args: []string{"--config.check", "--config.file=" + bad}, wantCode: 1,
			want: "error: " + bad + ":5: tenants[0].client_secret: the secret is never written in the configuration file"},
		{name: "no file", args: []string{"--config.check"}, wantCode: 1, want: "--config.check checks --config.file (SAIL_CONFIG_FILE): set it"},
		{name: "missing file", args: []string{"--config.check", "--config.file=/nonexistent/tenants.yml"}, wantCode: 1, want: "reading the configuration file: open /nonexistent/tenants.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runExporter(t, tt.env, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tt.wantCode, tt.want)
			}
			if strings.Contains(out, "hunter2") {
				t.Error("the output shows the secret")
			}
		})
	}
}
