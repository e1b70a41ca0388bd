package tenants

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The example parses into what it says, settings in order with
// their lines.
func TestParseTheExample(t *testing.T) {
	t.Parallel()
	f, err := Parse("tenants.yml", []byte(`defaults:
  isc.requests-per-second: 5
  aggregations.types: [CLOUD_ACCOUNT_AGGREGATION, SOURCE_AGGREGATION]
tenants:
  - name: sandbox
    url: https://acme-sb.api.identitynow.com
    client_id: 0123abcd
    client_secret_file: /etc/sailpoint/sandbox/secret
    state_file: /var/lib/sailpoint_exporter/sandbox.state
  - name: production
    url: https://acme.api.identitynow.com
    client_id: 4567efab
    client_secret_env: SAIL_PRODUCTION_SECRET
    token_url: https://acme.identitynow.com/oauth/token
    activities.refresh-interval: 30s
`))
	if err != nil {
		t.Fatal(err)
	}
	wantDefaults := []Setting{
		{Key: "isc.requests-per-second", Value: "5", Line: 2},
		{Key: "aggregations.types", Value: "CLOUD_ACCOUNT_AGGREGATION,SOURCE_AGGREGATION", Line: 3},
	}
	if !reflect.DeepEqual(f.Defaults, wantDefaults) {
		t.Errorf("defaults %+v, want %+v", f.Defaults, wantDefaults)
	}
	if len(f.Tenants) != 2 {
		t.Fatalf("%d tenants, want 2", len(f.Tenants))
	}
	sb, prod := f.Tenants[0], f.Tenants[1]
	if sb.Name != "sandbox" || sb.URL != "https://acme-sb.api.identitynow.com" || sb.ClientID != "0123abcd" ||
		sb.ClientSecretFile != "/etc/sailpoint/sandbox/secret" || sb.StateFile != "/var/lib/sailpoint_exporter/sandbox.state" ||
		sb.Line != 5 || len(sb.Settings) != 0 {
		t.Errorf("sandbox %+v", sb)
	}
	if prod.Name != "production" || prod.ClientSecretEnv != "SAIL_PRODUCTION_SECRET" || prod.TokenURL != "https://acme.identitynow.com/oauth/token" ||
		prod.StateFile != "" || prod.Line != 10 || prod.FieldLine("client_secret_env") != 13 {
		t.Errorf("production %+v", prod)
	}
	if want := []Setting{{Key: "activities.refresh-interval", Value: "30s", Line: 15}}; !reflect.DeepEqual(prod.Settings, want) {
		t.Errorf("production's settings %+v, want %+v", prod.Settings, want)
	}
	if got := prod.SecretFrom(); got != "environment variable SAIL_PRODUCTION_SECRET" {
		t.Errorf("secret from %q", got)
	}
}

// A file that cannot be used is refused with its line and field, and a
// sentence that says what to write instead.
func TestParseRefusesWithLineAndField(t *testing.T) {
	t.Parallel()
	const one = "tenants:\n  - name: production\n    url: https://acme.api.identitynow.com\n    client_id: id\n"
	tests := []struct {
		name, file string
		want       string // the whole error's start: path:line: field: …
		contains   string
	}{
		{"inline secret", one + "    client_secret: hunter2\n",
			"t.yml:5: tenants[0].client_secret: the secret is never written in the configuration file", "client_secret_file"},
		{"no secret at all", one,
			"t.yml:2: tenants[0] (production): says nowhere where its client secret is", "client_secret_env"},
		{"both secrets", one + "    client_secret_file: /s\n    client_secret_env: S\n",
			"t.yml:6: tenants[0] (production): sets both client_secret_file and client_secret_env", ""},
		{"bad variable name", one + "    client_secret_env: 'MY-SECRET'\n",
			"t.yml:5: tenants[0] (production).client_secret_env: \"MY-SECRET\" is not the name of an environment variable", ""},
		{"upper-case name", "tenants:\n  - name: Production\n    url: u\n    client_id: c\n    client_secret_env: S\n",
			"t.yml:2: tenants[0] (Production).name: \"Production\" is not a tenant name", "lower-case"},
		{"name too long", "tenants:\n  - name: " + strings.Repeat("a", 64) + "\n    url: u\n    client_id: c\n    client_secret_env: S\n",
			"t.yml:2: tenants[0] (" + strings.Repeat("a", 64) + ").name:", "at most 63"},
		{"no name", "tenants:\n  - url: u\n    client_id: c\n    client_secret_env: S\n",
			"t.yml:2: tenants[0].name: missing", ""},
		{"no url", "tenants:\n  - name: a\n    client_id: c\n    client_secret_env: S\n",
			"t.yml:2: tenants[0] (a).url: missing", ""},
		{"no client id", "tenants:\n  - name: a\n    url: u\n    client_secret_env: S\n",
			"t.yml:2: tenants[0] (a).client_id: missing", ""},
		{"empty url", "tenants:\n  - name: a\n    url: ''\n    client_id: c\n    client_secret_env: S\n",
			"t.yml:3: tenants[0].url: must be a non-empty string", ""},
		{"name twice", one + "    client_secret_env: S\n  - name: production\n    url: u\n    client_id: c\n    client_secret_env: T\n",
			"t.yml:6: tenants[1].name: \"production\" is the name of the tenant at line 2 too", "unique"},
		{"state file twice", "tenants:\n  - name: a\n    url: u\n    client_id: c\n    client_secret_env: S\n    state_file: /x\n" +
			"  - name: b\n    url: u\n    client_id: c\n    client_secret_env: S\n    state_file: /x\n",
			"t.yml:11: tenants[1].state_file: /x is the state file of the tenant at line 6 too", "its own"},
		{"key twice", one + "    client_secret_env: S\n    url: https://other\n",
			"t.yml:6: tenants[0].url: given twice (first at line 3)", ""},
		{"unknown field", one + "    client_secret_env: S\n    clientid: c\n",
			"t.yml:6: tenants[0].clientid: unknown field", "client_id"},
		{"unknown top-level key", "tenant:\n  - name: a\n",
			"t.yml:1: tenant: unknown key", "defaults and tenants"},
		{"no tenants", "defaults:\n  isc.timeout: 10s\n",
			"t.yml:1: tenants: no tenants", ""},
		{"empty tenant list", "tenants: []\n",
			"t.yml:1: tenants: no tenants", ""},
		{"tenants not a list", "tenants:\n  production: {}\n",
			"t.yml:2: tenants: must be a list", ""},
		{"a tenant not a mapping", "tenants:\n  - production\n",
			"t.yml:2: tenants[0]: each tenant is a mapping", ""},
		{"setting without a value", one + "    client_secret_env: S\n    activities.lookback:\n",
			"t.yml:6: tenants[0].activities.lookback: has no value", ""},
		{"setting as a mapping", "defaults:\n  isc.timeout:\n    seconds: 10\ntenants: []\n",
			"t.yml:3: defaults.isc.timeout: must be a value", ""},
		{"default without a dot", "defaults:\n  timeout: 10s\ntenants: []\n",
			"t.yml:2: defaults.timeout: unknown setting", "activities.refresh-interval"},
		{"not YAML", "tenants: [\n", "t.yml:1: not valid YAML: did not find expected node content", ""},
		{"a tab", "tenants:\n\t- name: a\n", "t.yml:2: not valid YAML: found character that cannot start any token", ""},
		{"empty file", "", "t.yml: the file is empty", "under tenants:"},
		{"a list at the top", "- name: a\n", "t.yml:1: the file must be a mapping", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("t.yml", []byte(tt.file))
			if err == nil {
				t.Fatal("parsed")
			}
			if !strings.HasPrefix(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error\n  %v\nwant it to start with\n  %s\nand contain %q", err, tt.want, tt.contains)
			}
			var fe *Error
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%T is not an *Error wrapping ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the error shows the secret")
			}
		})
	}
}

// The secret: a file's content without the whitespace around it, with the
// warning when others can read it; an environment variable's value; never
// an empty one.
func TestSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := write("private", "  s3cret\n\n", 0o600)
	shared := write("shared", "s3cret\n", 0o644)
	empty := write("empty", " \n", 0o600)
	t.Setenv("SAIL_TEST_SECRET", "from-env\n")
	t.Setenv("SAIL_TEST_EMPTY", "")
	tests := []struct {
		name                  string
		entry                 Entry
		want, warning, errMsg string
	}{
		{name: "file, trimmed", entry: Entry{ClientSecretFile: private}, want: "s3cret"},
		{name: "file others can read", entry: Entry{ClientSecretFile: shared}, want: "s3cret", warning: "can be read by others than its owner (mode -rw-r--r--): chmod 600 it"},
		{name: "empty file", entry: Entry{ClientSecretFile: empty}, errMsg: "is empty"},
		{name: "missing file", entry: Entry{ClientSecretFile: filepath.Join(dir, "nope")}, errMsg: "reading the client secret file"},
		{name: "environment", entry: Entry{Name: "p", ClientSecretEnv: "SAIL_TEST_SECRET"}, want: "from-env"},
		{name: "empty variable", entry: Entry{Name: "p", ClientSecretEnv: "SAIL_TEST_EMPTY"}, errMsg: "SAIL_TEST_EMPTY, which holds the client secret of tenant p, is not set or empty"},
		{name: "unset variable", entry: Entry{Name: "p", ClientSecretEnv: "SAIL_TEST_UNSET"}, errMsg: "is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warning, err := tt.entry.Secret()
			if tt.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
					t.Fatalf("error %v, want %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !strings.Contains(warning, tt.warning) || (tt.warning == "") != (warning == "") {
				t.Errorf("secret %q warning %q, want %q %q", got, warning, tt.want, tt.warning)
			}
		})
	}
}
