package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenants"
)

// tenantSettings are the settings of one tenant from s, the command line
// (with a configuration file's defaults and the tenant's own settings
// applied to it).
func (s *settings) tenantSettings(name, secret, secretFrom string) tenant.Settings {
	return tenant.Settings{
		Name:                 name,
		URL:                  s.url,
		TokenURL:             s.tokenURL,
		ClientID:             s.clientID,
		Secret:               secret,
		SecretFrom:           secretFrom,
		APIVersion:           s.apiVersion,
		ActivitiesPath:       s.activitiesPath,
		RequestsPerSecond:    s.requestsPerSec,
		Timeout:              s.timeout,
		PageSize:             s.pageSize,
		StateFile:            s.stateFile,
		UserAgent:            exporterName + "/" + version.Version,
		ActivitiesInterval:   s.interval(),
		Lookback:             s.lookback,
		Overlap:              s.overlap,
		SweepEvery:           s.sweepEvery(),
		PrimeConcurrency:     s.primeRanges,
		MaxTypes:             s.maxTypes,
		MaxSources:           s.maxSources(),
		Sources:              s.sources,
		SourcesInterval:      s.sourcesPeriod(),
		Clusters:             s.clusters,
		ClustersInterval:     s.clustersPeriod(),
		AggregationsInterval: s.aggregationsPeriod(),
		AggregationsLookback: s.aggLookback,
		AggregationTypes:     s.aggregationTypes(),
	}
}

// commandLineTenant is the one tenant of a command line without a
// configuration file: no tenant label, as before there were tenants. The
// warnings are the lines to log at start.
func (s *settings) commandLineTenant() (list []tenant.Settings, warnings []string, err error) {
	secret, warning, err := s.clientSecret()
	if err != nil {
		return nil, nil, err
	}
	from := "environment variable " + secretEnv
	if s.secretFile != "" {
		from = "file " + s.secretFile
	}
	if warning != "" {
		warnings = append(warnings, warning)
	}
	warnings = append(warnings, s.adjust()...)
	return []tenant.Settings{s.tenantSettings("", secret, from)}, warnings, nil
}

// tenantPrefixes are the flag groups a configuration file may set per
// tenant, under defaults: or a tenant.
var tenantPrefixes = []string{"isc.", "activities.", "aggregations.", "collector.", "sources.", "managed-clusters."}

// notPerTenant says why a flag of those groups is not a setting of the file.
var notPerTenant = map[string]string{
	"isc.url":                          "is the tenant's url field",
	"isc.client-id":                    "is the tenant's client_id field",
	"isc.client-secret-file":           "is the tenant's client_secret_file field (or client_secret_env)",
	"isc.token-url":                    "is the tenant's token_url field",
	"activities.scrape-timeout-offset": "is the process's: give it on the command line",
}

// fileTenants reads the configuration file at path into each tenant's
// settings: the command line args (and the environment) give every
// setting's default, the file's defaults: override them, a tenant's own
// settings override both. readSecrets false skips reading the secrets, for
// --config.check in a pipeline that has none. The warnings are the lines to
// log.
func fileTenants(path string, args []string, readSecrets bool) (list []tenant.Settings, warnings []string, err error) {
	f, err := tenants.Load(path)
	if err != nil {
		return nil, nil, err
	}
	for i, e := range f.Tenants {
		app, s := newApp()
		if _, err := app.Parse(args); err != nil {
			return nil, nil, err
		}
		for _, setting := range append(append([]tenants.Setting(nil), f.Defaults...), e.Settings...) {
			if err := setFlag(app, setting); err != nil {
				field := fmt.Sprintf("tenants[%d].%s", i, setting.Key)
				if slices.Contains(f.Defaults, setting) {
					field = "defaults." + setting.Key
				}
				return nil, nil, &tenants.Error{Path: path, Line: setting.Line, Field: field, Msg: err.Error()}
			}
		}
		s.url, s.clientID, s.tokenURL, s.stateFile = e.URL, e.ClientID, e.TokenURL, e.StateFile
		where := func(err error) error {
			return &tenants.Error{Path: path, Line: e.Line, Field: fmt.Sprintf("tenants[%d] (%s)", i, e.Name), Msg: err.Error()}
		}
		if err := s.checkTenant(); err != nil {
			return nil, nil, where(err)
		}
		for _, line := range s.adjust() {
			warnings = append(warnings, "tenant "+e.Name+": "+line)
		}
		var secret string
		if readSecrets {
			var warning string
			if secret, warning, err = e.Secret(); err != nil {
				return nil, nil, where(err)
			}
			if warning != "" {
				warnings = append(warnings, "tenant "+e.Name+": "+warning)
			}
		}
		list = append(list, s.tenantSettings(e.Name, secret, e.SecretFrom()))
	}
	return list, warnings, nil
}

// setFlag gives the flag named by the setting's key its value, as the
// command line would.
func setFlag(app *kingpin.Application, s tenants.Setting) error {
	if why, ok := notPerTenant[s.Key]; ok {
		return errors.New("not a per-tenant setting: it " + why)
	}
	perTenant := false
	for _, p := range tenantPrefixes {
		perTenant = perTenant || strings.HasPrefix(s.Key, p)
	}
	for _, f := range app.Model().Flags {
		if f.Name != s.Key {
			continue
		}
		if !perTenant {
			return fmt.Errorf("not a per-tenant setting: --%s is the process's, give it on the command line", s.Key)
		}
		if err := f.Value.Set(s.Value); err != nil {
			return fmt.Errorf("%q is not a value of --%s: %w", s.Value, s.Key, err)
		}
		return nil
	}
	return fmt.Errorf("unknown setting: the settings are the per-tenant flags' names (%s…), see --help", strings.Join(tenantPrefixes, "…, "))
}

// checkConfigFile is --config.check: it says whether the file can be used,
// and what it runs, without reading the secrets (a pipeline that checks the
// file rarely has them) and without starting.
func checkConfigFile(path string, args []string) (string, error) {
	list, warnings, err := fileTenants(path, args, false)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, w := range warnings {
		b.WriteString("warning: " + w + "\n")
	}
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = t.Name
	}
	fmt.Fprintf(&b, "%s: valid, %d tenants: %s (the secrets were not read)\n", path, len(list), strings.Join(names, ", "))
	return b.String(), nil
}

// refuseWithConfigFile is the check of a command line that has a
// configuration file: the settings of one tenant, given on the command line
// too, are refused, since which one would win is not obvious.
func (s *settings) refuseWithConfigFile() error {
	var given []string
	for _, x := range []struct{ value, name string }{
		{s.url, "--isc.url (SAIL_BASE_URL)"},
		{s.clientID, "--isc.client-id (SAIL_CLIENT_ID)"},
		{s.secretFile, "--isc.client-secret-file (SAIL_CLIENT_SECRET_FILE)"},
		{os.Getenv(secretEnv), secretEnv},
		{s.tokenURL, "--isc.token-url (SAIL_TOKEN_URL)"},
		{s.stateFile, "--state.file (SAIL_STATE_FILE)"},
	} {
		if x.value != "" {
			given = append(given, x.name)
		}
	}
	if s.demo {
		given = append(given, "--demo")
	}
	if len(given) > 0 {
		return fmt.Errorf("--config.file lists the tenants, each with its URL, client id, secret and state file: unset %s (each tenant's entry in the file says it)", strings.Join(given, ", "))
	}
	return nil
}
