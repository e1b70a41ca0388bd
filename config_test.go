package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// parseArgs parses a command line as main does.
func parseArgs(t *testing.T, args ...string) *settings {
	t.Helper()
	app, s := newApp()
	if _, err := app.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return s
}

func validSettings(t *testing.T) settings {
	t.Helper()
	return *parseArgs(t, "--isc.url=https://acme.api.identitynow.com", "--isc.client-id=id")
}

func TestSettingsCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*settings)
		want   string // "" for valid
	}{
		{"valid", func(*settings) {}, ""},
		{"refresh on scrape", func(s *settings) { s.refreshInterval = optionalDuration{0, true} }, ""},
		{"no url", func(s *settings) { s.url = "" }, "set --isc.url or SAIL_BASE_URL"},
		{"relative url", func(s *settings) { s.url = "acme.api.identitynow.com" }, "is not an absolute URL"},
		{"plain http to a tenant", func(s *settings) { s.url = "http://acme.api.identitynow.com" }, "use https"},
		{"plain http on loopback", func(s *settings) { s.url = "http://127.0.0.1:8080" }, ""},
		{"plain http on localhost", func(s *settings) { s.url = "http://localhost:8080" }, ""},
		{"plain http on IPv6 loopback", func(s *settings) { s.url = "http://[::1]:8080" }, ""},
		{"plain http token URL", func(s *settings) { s.tokenURL = "http://login.example.com/oauth/token" }, "--isc.token-url uses plain http"},
		{"ftp", func(s *settings) { s.url = "ftp://acme.api.identitynow.com" }, "must start with https://"},
		{"no client id", func(s *settings) { s.clientID = "" }, "set --isc.client-id or SAIL_CLIENT_ID"},
		{"page size above ISC's maximum", func(s *settings) { s.pageSize = 251 }, "between 1 and 250"},
		{"no rate", func(s *settings) { s.requestsPerSec = 0 }, "--isc.requests-per-second"},
		{"negative refresh interval", func(s *settings) { s.refreshInterval = optionalDuration{-time.Second, true} }, "--activities.refresh-interval"},
		{"relative telemetry path", func(s *settings) { s.telemetryPath = "metrics" }, "--web.telemetry-path"},
		{"no lookback", func(s *settings) { s.lookback = 0 }, "--activities.lookback"},
		{"demo with a tenant URL", func(s *settings) { s.demo = true }, "--demo runs a simulated tenant"},
		{"demo alone", func(s *settings) { s.url, s.clientID, s.demo = "", "", true }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(secretEnv, "")
			s := validSettings(t)
			tt.change(&s)
			err := s.check()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}
}

// The background refresh period: 1m, 10s in the demo, and whatever the flag
// or its environment variable says, 0 included.
func TestRefreshInterval(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want time.Duration
	}{
		{"default", "", nil, time.Minute},
		{"demo", "", []string{"--demo"}, 10 * time.Second},
		{"flag", "", []string{"--activities.refresh-interval=30s"}, 30 * time.Second},
		{"flag in the demo", "", []string{"--demo", "--activities.refresh-interval=1m"}, time.Minute},
		{"environment in the demo", "2m", []string{"--demo"}, 2 * time.Minute},
		{"refresh on scrape in the demo", "", []string{"--demo", "--activities.refresh-interval=0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SAIL_ACTIVITIES_REFRESH_INTERVAL", tt.env)
			if tt.env == "" {
				_ = os.Unsetenv("SAIL_ACTIVITIES_REFRESH_INTERVAL")
			}
			if got := parseArgs(t, tt.args...).interval(); got != tt.want {
				t.Fatalf("interval %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClientSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, env, want, wantErr, wantWarning string
	}{
		{name: "file", file: file, want: "from-file"},
		{name: "file others can read", file: open, want: "from-file", wantWarning: "can be read by others than its owner (mode -rw-r--r--): chmod 600 it"},
		{name: "environment", env: "from-env", want: "from-env"},
		{name: "both", file: file, env: "from-env", wantErr: "not both"},
		{name: "neither", wantErr: "set SAIL_CLIENT_SECRET or --isc.client-secret-file"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "--isc.client-secret-file: reading the client secret file"},
		{name: "empty file", file: empty, wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(secretEnv, tt.env)
			s := settings{secretFile: tt.file}
			got, warning, err := s.clientSecret()
			if !strings.Contains(warning, tt.wantWarning) || (tt.wantWarning == "") != (warning == "") {
				t.Fatalf("warning %q, want %q", warning, tt.wantWarning)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// README's flags table lists exactly the flags of the command line, with
// their environment variables.
func TestREADMEFlagsTableIsTheCommandLine(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `--(?:\\[no-\\])?([a-z0-9.-]+)` \\|([^|]*)\\|")
	listed := map[string]string{}
	section := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "## ") {
			section = line == "## Flags"
		}
		if m := row.FindStringSubmatch(line); section && m != nil {
			listed[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
		}
	}
	app, _ := newApp()
	for _, f := range app.Model().Flags {
		if f.Name == "help" || f.Name == "help-long" || f.Name == "help-man" || f.Name == "completion-bash" || f.Name == "completion-script-bash" || f.Name == "completion-script-zsh" {
			continue
		}
		env, ok := listed[f.Name]
		switch {
		case !ok:
			t.Errorf("--%s is not in README's flags table", f.Name)
		case env != f.Envar:
			t.Errorf("--%s: README says environment %q, the flag reads %q", f.Name, env, f.Envar)
		}
		delete(listed, f.Name)
	}
	for name := range listed {
		t.Errorf("README lists --%s, which the command line does not have", name)
	}
}

// --sources.max caps the source_id label of every area; its old name,
// --activities.max-sources, still works from the command line and the
// environment, and says once that it is deprecated.
func TestSourcesMaxAndItsOldName(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		want       int
		deprecated string
	}{
		{name: "default", want: 256},
		{name: "new flag", args: []string{"--sources.max=10"}, want: 10},
		{name: "new variable", env: map[string]string{"SAIL_SOURCES_MAX": "11"}, want: 11},
		{name: "old flag", args: []string{"--activities.max-sources=12"}, want: 12, deprecated: "--activities.max-sources (SAIL_ACTIVITIES_MAX_SOURCES) is deprecated"},
		{name: "old variable", env: map[string]string{"SAIL_ACTIVITIES_MAX_SOURCES": "13"}, want: 13, deprecated: "use --sources.max (SAIL_SOURCES_MAX)"},
		{name: "both: the new one wins", args: []string{"--activities.max-sources=12", "--sources.max=14"}, want: 14, deprecated: "--sources.max is set too and wins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SAIL_SOURCES_MAX", "SAIL_ACTIVITIES_MAX_SOURCES"} {
				t.Setenv(k, tt.env[k])
				if tt.env[k] == "" {
					_ = os.Unsetenv(k)
				}
			}
			s := parseArgs(t, append([]string{"--isc.url=https://acme.api.identitynow.com", "--isc.client-id=id"}, tt.args...)...)
			if got := s.maxSources(); got != tt.want {
				t.Errorf("max sources %d, want %d", got, tt.want)
			}
			lines := s.deprecations()
			if tt.deprecated == "" && len(lines) != 0 || tt.deprecated != "" && (len(lines) != 1 || !strings.Contains(lines[0], tt.deprecated)) {
				t.Errorf("deprecation lines %q, want one containing %q", lines, tt.deprecated)
			}
			if err := s.check(); err != nil {
				t.Fatal(err)
			}
		})
	}
	s := parseArgs(t, "--isc.url=https://acme.api.identitynow.com", "--isc.client-id=id", "--sources.max=0")
	if err := s.check(); err == nil || !strings.Contains(err.Error(), "--sources.max must be at least 1") {
		t.Fatalf("--sources.max=0: %v", err)
	}
}
