package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/sailpoint-exporter/sailpoint_exporter/aggregations"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenants"
)

const exporterName = "sailpoint_exporter"

// defaultListenAddress: 9100-9999 is fully allocated in Prometheus' list of
// exporter ports, and no known exporter uses 19885.
const defaultListenAddress = ":19885"

// demoRefreshInterval lets the demo's counters move within seconds, unless
// the user sets --activities.refresh-interval.
const demoRefreshInterval = 10 * time.Second

// settings are the command line: the ISC connection, the counting, and how
// the exporter serves its metrics.
type settings struct {
	url             string
	clientID        string
	secretFile      string
	tokenURL        string
	apiVersion      string
	activitiesPath  string
	requestsPerSec  float64
	timeout         time.Duration
	lookback        time.Duration
	refreshInterval optionalDuration
	pageSize        int
	maxTypes        int
	timeoutOffset   time.Duration
	overlap         time.Duration
	sweepInterval   time.Duration
	primeRanges     int
	stateFile       string
	demo            bool
	demoTenants     int
	configFile      string
	configCheck     bool

	sources          bool
	clusters         bool
	sourcesInterval  optionalDuration
	clustersInterval optionalDuration
	maxSourcesFlag   optionalInt

	aggInterval optionalDuration
	aggLookback time.Duration
	aggTypes    string

	// Deprecated names, still read: see deprecations.
	oldMaxSources optionalInt

	telemetryPath string
	maxRequests   int
	web           *web.FlagConfig
	log           *promslog.Config
}

// newApp declares the command line in app and returns where it lands.
func newApp() (*kingpin.Application, *settings) {
	app := kingpin.New(exporterName, "Prometheus exporter for the account activities of SailPoint Identity Security Cloud (ISC).")
	s := &settings{log: &promslog.Config{}}
	app.Flag("isc.url", "API URL of the ISC tenant, e.g. https://acme.api.identitynow.com.").
		Envar("SAIL_BASE_URL").StringVar(&s.url)
	app.Flag("isc.client-id", "Client id of the personal access token or API client (it needs the scope "+client.ActivitiesScope+").").
		Envar("SAIL_CLIENT_ID").StringVar(&s.clientID)
	app.Flag("isc.client-secret-file", "File holding the client secret. Without it the secret is read from the environment variable "+secretEnv+"; it is never a flag value.").
		Envar("SAIL_CLIENT_SECRET_FILE").StringVar(&s.secretFile)
	app.Flag("isc.token-url", "OAuth2 token URL. Default: the ISC URL followed by /oauth/token.").
		Envar("SAIL_TOKEN_URL").StringVar(&s.tokenURL)
	app.Flag("isc.api-version", "Version of ISC's API every call follows: v1 (the per-service paths, /account-activities/v1, /sources/v1, /managed-clusters/v1, /task-status/v1), or a yearly collection: v3, v2024, v2025, v2026, beta. A per-service path that answers 404 falls back to the v2025 collection's, once.").
		Default(string(client.DefaultFamily)).Envar("SAIL_API_VERSION").StringVar(&s.apiVersion)
	app.Flag("isc.activities-path", "Path of the account activities API, overriding --isc.api-version for them alone, e.g. /v3/account-activities. Empty: the version's.").
		Envar("SAIL_ACTIVITIES_PATH").StringVar(&s.activitiesPath)
	app.Flag("isc.requests-per-second", "Most requests per second sent to ISC, shared by every request of this exporter (ISC allows 100 per 10 s per client id).").
		Default("5").Envar("SAIL_REQUESTS_PER_SECOND").Float64Var(&s.requestsPerSec)
	app.Flag("isc.timeout", "Timeout of one HTTP request to ISC, body included; also how long ISC may fail or stay silent before sailpoint_up goes to 0.").
		Default("30s").Envar("SAIL_TIMEOUT").DurationVar(&s.timeout)
	app.Flag("activities.lookback", "How far back the gauges look, by creation time, and how far back the first pass reads. Completions before the exporter started or older than this are never counted.").
		Default("24h").Envar("SAIL_ACTIVITIES_LOOKBACK").DurationVar(&s.lookback)
	app.Flag("activities.refresh-interval", "How often to read changes from ISC in the background; scrapes read the last result. 0 refreshes on each scrape instead, within the scrape timeout. Default 1m, 10s with --demo.").
		PlaceHolder("1m").Envar("SAIL_ACTIVITIES_REFRESH_INTERVAL").SetValue(&s.refreshInterval)
	app.Flag("activities.overlap", "How far before where the last refresh ended each refresh reads again, so that changes ISC makes visible late are still counted; records read again are not counted twice. 0 turns it off.").
		Default("5m").Envar("SAIL_ACTIVITIES_OVERLAP").DurationVar(&s.overlap)
	app.Flag("activities.overlap-sweep-interval", "How often a refresh reads the whole --activities.overlap again. The refreshes between read again only the tail that the lateness ISC showed needs: twice the largest of the last hour, at least 10s. 0 reads the whole overlap at every refresh.").
		Default("5m").Envar("SAIL_ACTIVITIES_OVERLAP_SWEEP_INTERVAL").DurationVar(&s.sweepInterval)
	app.Flag("activities.prime-concurrency", "Most ranges of the lookback the first pass reads side by side, so that it runs at --isc.requests-per-second rather than at the pace of ISC's answers; never more than the requests per second. 1 reads the lookback as one scan.").
		Default("8").Envar("SAIL_ACTIVITIES_PRIME_CONCURRENCY").IntVar(&s.primeRanges)
	app.Flag("activities.page-size", "Activities asked for per request (ISC's maximum is 250).").
		Default("250").Envar("SAIL_ACTIVITIES_PAGE_SIZE").IntVar(&s.pageSize)
	app.Flag("activities.max-types", "Most distinct values of the type label; further types are reported as \"other\" and counted in sailpoint_label_overflow_total.").
		Default("64").Envar("SAIL_ACTIVITIES_MAX_TYPES").IntVar(&s.maxTypes)
	app.Flag("sources.max", "Most sources the metrics name, in every area: distinct values of the source_id label of the activity items and of the source metrics (the first ones by id); further sources are reported as \"other\" and counted in sailpoint_label_overflow_total. Default 256.").
		PlaceHolder("256").Envar("SAIL_SOURCES_MAX").SetValue(&s.maxSourcesFlag)
	app.Flag("activities.max-sources", "Deprecated name of --sources.max.").
		Hidden().Envar("SAIL_ACTIVITIES_MAX_SOURCES").SetValue(&s.oldMaxSources)
	app.Flag("activities.scrape-timeout-offset", "With --activities.refresh-interval=0, how much of the scrape timeout is left for answering the scrape.").
		Default("500ms").Envar("SAIL_ACTIVITIES_SCRAPE_TIMEOUT_OFFSET").DurationVar(&s.timeoutOffset)
	app.Flag("collector.sources", "List the sources (GET /sources/v1, scope "+client.SourcesScope+") for their names and health.").
		Default("true").Envar("SAIL_COLLECTOR_SOURCES").BoolVar(&s.sources)
	app.Flag("collector.managed-clusters", "List the managed (virtual appliance) clusters (GET /managed-clusters/v1, scope "+client.ManagedClustersScope+", user level ORG_ADMIN) for their status.").
		Default("true").Envar("SAIL_COLLECTOR_MANAGED_CLUSTERS").BoolVar(&s.clusters)
	app.Flag("sources.refresh-interval", "How often to list the sources in the background. Default 5m, 10s with --demo.").
		PlaceHolder("5m").Envar("SAIL_SOURCES_REFRESH_INTERVAL").SetValue(&s.sourcesInterval)
	app.Flag("managed-clusters.refresh-interval", "How often to list the managed clusters in the background. Default 5m, 10s with --demo.").
		PlaceHolder("5m").Envar("SAIL_MANAGED_CLUSTERS_REFRESH_INTERVAL").SetValue(&s.clustersInterval)
	app.Flag("aggregations.refresh-interval", "How often to read ISC's task status for the source aggregations (GET /task-status/v1, scope "+client.TaskStatusScope+"); 0 turns the aggregation metrics off. Default 5m, 10s with --demo.").
		PlaceHolder("5m").Envar("SAIL_AGGREGATIONS_REFRESH_INTERVAL").SetValue(&s.aggInterval)
	app.Flag("aggregations.lookback", "How far back the last-completion gauges look, by creation time, and the first pass reads (with every task still running, whatever its age); at most 90 days, what ISC keeps.").
		Default("168h").Envar("SAIL_AGGREGATIONS_LOOKBACK").DurationVar(&s.aggLookback)
	app.Flag("aggregations.types", "Task types to watch, comma-separated: one list request each per refresh.").
		Default(strings.Join(aggregations.DefaultTypes, ",")).Envar("SAIL_AGGREGATIONS_TYPES").StringVar(&s.aggTypes)
	app.Flag("state.file", "File in which to keep what the counters need to survive a restart (a persistent volume in Kubernetes); written atomically after every refresh. Empty: counters restart from zero and completions while the exporter is down are not counted.").
		Envar("SAIL_STATE_FILE").StringVar(&s.stateFile)
	app.Flag("demo", "Run against a simulated tenant, in-process on loopback, instead of ISC.").
		BoolVar(&s.demo)
	app.Flag("demo.tenants", "With --demo, how many simulated tenants to run: 1 as one ISC tenant (no tenant label); 2 or more named sandbox, production, tenant-3, …, as with a configuration file, each with the state file <--state.file>.<name>.").
		Default("1").IntVar(&s.demoTenants)
	app.Flag("config.file", "YAML file listing the tenants to watch, each with its URL, client id, where its secret is, its state file and its own settings (see the README). Without it, the one tenant of --isc.url. Reloaded on SIGHUP and POST /-/reload.").
		Envar("SAIL_CONFIG_FILE").StringVar(&s.configFile)
	app.Flag("config.check", "Check --config.file (without reading the secrets) and exit: 0 if it can be used.").
		BoolVar(&s.configCheck)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").
		Default("/metrics").StringVar(&s.telemetryPath)
	app.Flag("web.max-requests", "Most concurrent scrapes served; 0 means no limit.").
		Default("40").IntVar(&s.maxRequests)
	s.web = kingpinflag.AddFlags(app, defaultListenAddress)
	flag.AddFlags(app, s.log)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	return app, s
}

// stampVersion gives a binary built without the Makefile's -ldflags (go run,
// go build, go install) the version the Go toolchain stamped from the
// module (its tag, or a pseudo-version of the commit), so that
// sailpoint_exporter_build_info and the log say which code runs.
func stampVersion() {
	if version.Version != "" {
		return
	}
	version.Version = "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version.Version = bi.Main.Version
	}
}

// interval is the background refresh period: the flag's, or the default of
// the mode.
func (s *settings) interval() time.Duration {
	switch {
	case s.refreshInterval.set:
		return s.refreshInterval.d
	case s.demo:
		return demoRefreshInterval
	}
	return time.Minute
}

// aggregationsPeriod is the period of the aggregations: the flag's (0 turns
// them off), or the default of the mode.
func (s *settings) aggregationsPeriod() time.Duration {
	switch {
	case s.aggInterval.set:
		return s.aggInterval.d
	case s.demo:
		return demoAggregationsInterval
	}
	return defaultAggregationsInterval
}

// Default period of the aggregations: an hourly aggregation's end is seen
// within five minutes, at three requests a refresh.
const (
	defaultAggregationsInterval = 5 * time.Minute
	demoAggregationsInterval    = 10 * time.Second
)

// aggregationTypes are the task types to watch.
func (s *settings) aggregationTypes() []string {
	var out []string
	for _, t := range strings.Split(s.aggTypes, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Default period of the sources and managed clusters collectors: what they
// report changes rarely, and each listing costs a request per 250.
const (
	defaultSourcesInterval = 5 * time.Minute
	demoSourcesInterval    = 10 * time.Second
)

// sourcesPeriod is the period of the sources collector: the flag's, or the
// default of the mode.
func (s *settings) sourcesPeriod() time.Duration {
	switch {
	case s.sourcesInterval.set:
		return s.sourcesInterval.d
	case s.demo:
		return demoSourcesInterval
	}
	return defaultSourcesInterval
}

// clustersPeriod is the period of the managed clusters collector: its flag's;
// else --sources.refresh-interval's, which set both before the clusters had
// a flag of their own; else the default of the mode.
func (s *settings) clustersPeriod() time.Duration {
	if s.clustersInterval.set {
		return s.clustersInterval.d
	}
	return s.sourcesPeriod()
}

// defaultMaxSources is --sources.max's default.
const defaultMaxSources = 256

// maxSources is --sources.max, or its deprecated name's value.
func (s *settings) maxSources() int {
	switch {
	case s.maxSourcesFlag.set:
		return s.maxSourcesFlag.n
	case s.oldMaxSources.set:
		return s.oldMaxSources.n
	}
	return defaultMaxSources
}

// maxPrimeConcurrency bounds --activities.prime-concurrency: more ranges
// than ISC's 10 requests a second can use at its latency only add the
// cost of their last pages.
const maxPrimeConcurrency = 32

// sweepEvery is --activities.overlap-sweep-interval as the refresher takes
// it: 0, every refresh, is negative there.
func (s *settings) sweepEvery() time.Duration {
	if s.sweepInterval == 0 {
		return -1
	}
	return s.sweepInterval
}

// Retention of ISC, which bounds what a lookback can read: account
// activities are kept at most 60 days (production), task status 90.
const (
	maxActivitiesLookback = 60 * 24 * time.Hour
)

// adjust caps the lookbacks beyond what ISC keeps, and returns the lines to
// log, once at start, for settings that work but not as given: those
// lookbacks, old names, a URL with a path.
func (s *settings) adjust() []string {
	var out []string
	if u, err := url.Parse(s.url); err == nil && strings.Trim(u.Path, "/") != "" {
		out = append(out, fmt.Sprintf("--isc.url has a path (%s): it is kept as a prefix of every API path; ISC's API URL has none (https://TENANT.api.identitynow.com)", u.Path))
	}
	if s.lookback > maxActivitiesLookback {
		out = append(out, fmt.Sprintf("--activities.lookback=%s is beyond what ISC keeps of account activities (60 days): using %s", s.lookback, maxActivitiesLookback))
		s.lookback = maxActivitiesLookback
	}
	if s.aggLookback > aggregations.MaxLookback {
		out = append(out, fmt.Sprintf("--aggregations.lookback=%s is beyond what ISC keeps of task status (90 days): using %s", s.aggLookback, aggregations.MaxLookback))
		s.aggLookback = aggregations.MaxLookback
	}
	return append(out, s.deprecations()...)
}

// deprecations are the lines to log, once at start, for settings given
// under an old name or meaning: they still work.
func (s *settings) deprecations() []string {
	var out []string
	if s.oldMaxSources.set {
		line := "--activities.max-sources (SAIL_ACTIVITIES_MAX_SOURCES) is deprecated: it caps the source_id label of every area; use --sources.max (SAIL_SOURCES_MAX)"
		if s.maxSourcesFlag.set {
			line += "; --sources.max is set too and wins"
		}
		out = append(out, line)
	}
	if s.sourcesInterval.set && !s.clustersInterval.set && s.clusters {
		out = append(out, "--sources.refresh-interval also sets the managed clusters' period, as it did before they had a flag of their own; set --managed-clusters.refresh-interval (SAIL_MANAGED_CLUSTERS_REFRESH_INTERVAL) to keep that when this fallback goes away")
	}
	return out
}

// optionalDuration is a duration flag that knows whether it was given, on
// the command line or in the environment.
type optionalDuration struct {
	d   time.Duration
	set bool
}

func (o *optionalDuration) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	o.d, o.set = d, true
	return nil
}

func (o *optionalDuration) String() string { return o.d.String() }

// optionalInt is an integer flag that knows whether it was given.
type optionalInt struct {
	n   int
	set bool
}

func (o *optionalInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	o.n, o.set = n, true
	return nil
}

func (o *optionalInt) String() string { return strconv.Itoa(o.n) }

// secretEnv is the variable SailPoint's SDKs and CLI read the secret from.
const secretEnv = "SAIL_CLIENT_SECRET"

// check returns the first problem with s as one sentence saying what to set.
func (s *settings) check() error {
	if err := s.checkProcess(); err != nil {
		return err
	}
	if s.configFile != "" {
		return s.refuseWithConfigFile()
	}
	return s.checkTenant()
}

// checkProcess checks the settings of the process, whatever its tenants.
func (s *settings) checkProcess() error {
	switch {
	case s.timeoutOffset < 0:
		return errors.New("--activities.scrape-timeout-offset must not be negative")
	case !strings.HasPrefix(s.telemetryPath, "/"):
		return errors.New("--web.telemetry-path must start with /")
	case s.demoTenants < 1 || s.demoTenants > maxDemoTenants:
		return fmt.Errorf("--demo.tenants must be between 1 and %d", maxDemoTenants)
	case s.demoTenants > 1 && !s.demo:
		return errors.New("--demo.tenants needs --demo")
	case s.configCheck && s.configFile == "":
		return errors.New("--config.check checks --config.file (SAIL_CONFIG_FILE): set it")
	}
	return nil
}

// checkTenant checks the settings of one tenant.
func (s *settings) checkTenant() error {
	switch {
	case s.requestsPerSec <= 0:
		return errors.New("--isc.requests-per-second must be above 0")
	case s.timeout <= 0:
		return errors.New("--isc.timeout must be above 0")
	case s.lookback <= 0:
		return errors.New("--activities.lookback must be above 0, e.g. 24h")
	case s.refreshInterval.d < 0:
		return errors.New("--activities.refresh-interval must be 0 (refresh on scrape) or a duration such as 1m")
	case s.pageSize < 1 || s.pageSize > client.MaxPageSize:
		return fmt.Errorf("--activities.page-size must be between 1 and %d", client.MaxPageSize)
	case s.maxTypes < 1:
		return errors.New("--activities.max-types must be at least 1")
	case s.maxSources() < 1:
		return errors.New("--sources.max must be at least 1")
	case s.overlap < 0 || s.overlap >= s.lookback:
		return errors.New("--activities.overlap must be at least 0 and shorter than --activities.lookback")
	case s.sweepInterval < 0:
		return errors.New("--activities.overlap-sweep-interval must be 0 (the whole overlap at every refresh) or a duration such as 5m")
	case s.primeRanges < 1 || s.primeRanges > maxPrimeConcurrency:
		return fmt.Errorf("--activities.prime-concurrency must be between 1 (one scan) and %d", maxPrimeConcurrency)
	case s.sourcesInterval.set && s.sourcesInterval.d <= 0:
		return errors.New("--sources.refresh-interval must be above 0, e.g. 5m")
	case s.clustersInterval.set && s.clustersInterval.d <= 0:
		return errors.New("--managed-clusters.refresh-interval must be above 0, e.g. 5m")
	case s.aggInterval.set && s.aggInterval.d < 0:
		return errors.New("--aggregations.refresh-interval must be 0 (off) or a duration such as 5m")
	case s.aggLookback <= 0:
		return errors.New("--aggregations.lookback must be above 0, e.g. 168h")
	case len(s.aggregationTypes()) == 0:
		return errors.New("--aggregations.types must name at least one task type, e.g. CLOUD_ACCOUNT_AGGREGATION")
	}
	if _, err := client.ParseFamily(s.apiVersion); err != nil {
		return fmt.Errorf("--isc.api-version: %w", err)
	}
	if s.demo {
		if s.url != "" || s.clientID != "" || s.secretFile != "" || s.tokenURL != "" || os.Getenv(secretEnv) != "" {
			return errors.New("--demo runs a simulated tenant: unset --isc.url, --isc.client-id, --isc.client-secret-file, --isc.token-url and SAIL_BASE_URL, SAIL_CLIENT_ID, SAIL_CLIENT_SECRET, or drop --demo")
		}
		return nil
	}
	if s.url == "" {
		return errors.New("set --isc.url or SAIL_BASE_URL to your tenant's API URL, e.g. https://acme.api.identitynow.com, or run with --demo")
	}
	if err := checkURL("--isc.url", s.url); err != nil {
		return err
	}
	if s.tokenURL != "" {
		if err := checkURL("--isc.token-url", s.tokenURL); err != nil {
			return err
		}
	}
	if s.clientID == "" {
		return errors.New("set --isc.client-id or SAIL_CLIENT_ID to the client id of a personal access token or API client")
	}
	return nil
}

// checkURL refuses anything but https, except on loopback where a test or a
// local proxy may speak plain http: a bearer token must not cross a network
// in clear text.
func checkURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL such as https://acme.api.identitynow.com", flag, raw)
	}
	switch {
	case u.User != nil:
		return fmt.Errorf("%s must not hold a user or password (the client id and secret go in SAIL_CLIENT_ID and SAIL_CLIENT_SECRET): use https://%s", flag, u.Host)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("%s must not have a query (?%s): use https://%s", flag, u.RawQuery, u.Host)
	case u.Fragment != "":
		return fmt.Errorf("%s must not have a fragment (#%s): use https://%s", flag, u.Fragment, u.Host)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s uses plain http to %s: use https (plain http is only accepted on loopback)", flag, u.Hostname())
	}
	return fmt.Errorf("%s %q must start with https://", flag, raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientSecret reads the secret from the file, else from SAIL_CLIENT_SECRET.
// It is never a flag value, so it shows in no process list. warning is set
// when the file can be read by others than its owner.
func (s *settings) clientSecret() (secret, warning string, err error) {
	env := os.Getenv(secretEnv)
	if s.secretFile != "" {
		if env != "" {
			return "", "", fmt.Errorf("set either --isc.client-secret-file or %s, not both", secretEnv)
		}
		secret, warning, err := tenants.ReadSecretFile(s.secretFile)
		if err != nil {
			return "", "", fmt.Errorf("--isc.client-secret-file: %w", err)
		}
		return secret, warning, nil
	}
	if env == "" {
		return "", "", fmt.Errorf("set %s or --isc.client-secret-file to the client secret of the token", secretEnv)
	}
	return env, "", nil
}
