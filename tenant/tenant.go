// Package tenant is one ISC tenant watched by the exporter: its client (one
// token, one rate limiter), its state file, its areas (the account
// activities, the sources and managed clusters, the aggregations) and their
// background loops, and the registry they report to, every series carrying
// the tenant's name when it has one. Nothing of one tenant is shared with
// another: an outage, a refused token or a slow answer of one never delays
// another's refreshes.
package tenant

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/activities"
	"github.com/sailpoint-exporter/sailpoint_exporter/aggregations"
	"github.com/sailpoint-exporter/sailpoint_exporter/apimetrics"
	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/inventory"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Label is the label that names a tenant on every one of its series.
const Label = "tenant"

// Settings are what one tenant is watched with: where ISC is, how hard to
// use it, and each area's settings. Equal Settings mean an unchanged tenant
// (a reload leaves it running).
type Settings struct {
	// Name is the tenant label's value; "" for the single tenant of a
	// command line without a configuration file: no tenant label then.
	Name string

	URL, TokenURL, ClientID string
	// Secret is the client secret; SecretFrom says where it was read, for
	// the logs (never the secret itself).
	Secret, SecretFrom string
	APIVersion         string
	ActivitiesPath     string
	RequestsPerSecond  float64
	Timeout            time.Duration
	PageSize           int
	StateFile          string
	UserAgent          string

	// ActivitiesInterval is the activities' background period; 0 refreshes
	// them on scrape instead.
	ActivitiesInterval time.Duration
	Lookback, Overlap  time.Duration
	// SweepEvery is how often the whole Overlap is read again; negative:
	// every refresh (activities.Options.SweepEvery).
	SweepEvery time.Duration
	// PrimeConcurrency is how many ranges of the lookback the first pass
	// reads side by side, at most.
	PrimeConcurrency int
	MaxTypes         int
	MaxSources       int

	Sources          bool
	SourcesInterval  time.Duration
	Clusters         bool
	ClustersInterval time.Duration

	// AggregationsInterval 0 turns the aggregations off.
	AggregationsInterval time.Duration
	AggregationsLookback time.Duration
	AggregationTypes     []string
}

// Equal reports whether s and o are the same settings.
func (s Settings) Equal(o Settings) bool { return reflect.DeepEqual(s, o) }

// EqualButSecret reports whether s and o differ at most in the secret: a
// rotation, which the running tenant takes without a restart.
func (s Settings) EqualButSecret(o Settings) bool {
	s.Secret, s.SecretFrom, o.Secret, o.SecretFrom = "", "", "", ""
	return s.Equal(o)
}

// Tenant is one watched tenant: built by New, run by Run, released by Close.
type Tenant struct {
	settings   Settings
	logger     *slog.Logger
	collectors area.Collectors // every series of the tenant, as one collector
	isc        *client.Client
	state      *state.File // nil without a state file

	activities   *activities.Refresher
	inventories  []*inventory.Inventory
	aggregations *aggregations.Refresher // nil when off
	endpoints    []string                // of the areas that are on, for the check at start
	background   []func(context.Context) // each area's loop
}

// New builds the tenant; it sends nothing to ISC yet. Collector serves its
// series, each carrying the tenant's name when it has one: as a constant
// label of every description, so that gathering twenty tenants costs what
// gathering their series costs, no relabelling on the way.
func New(s Settings, logger *slog.Logger) (*Tenant, error) {
	var labels prometheus.Labels
	if s.Name != "" {
		logger = logger.With(Label, s.Name)
		labels = prometheus.Labels{Label: s.Name}
	}
	t := &Tenant{settings: s, logger: logger}
	reg := (*recorder)(&t.collectors)
	api := apimetrics.New(reg, labels, logger.With("component", "client"))
	isc, err := client.New(client.Config{
		BaseURL:           s.URL,
		TokenURL:          s.TokenURL,
		ClientID:          s.ClientID,
		ClientSecret:      s.Secret,
		API:               client.Family(strings.ToLower(s.APIVersion)),
		ActivitiesPath:    s.ActivitiesPath,
		RequestsPerSecond: s.RequestsPerSecond,
		Timeout:           s.Timeout,
		PageSize:          s.PageSize,
		UserAgent:         s.UserAgent,
		Logger:            logger.With("component", "client"),
		Observe:           api.Observe,
		Deprecated:        api.Deprecated,
		Unexpected:        api.Unexpected,
	})
	if err != nil {
		return nil, err
	}
	t.isc = isc
	reg.MustRegister(apimetrics.NewClockOffset(isc.ClockOffset, labels), apimetrics.NewPaths(isc.Paths, labels))
	if s.StateFile != "" {
		id := state.Identity{URL: s.URL, ClientID: s.ClientID}
		if t.state, err = state.Open(s.StateFile, id, reg, labels, logger.With("component", "state")); err != nil {
			return nil, err
		}
	}

	areaLogger := logger.With("component", "collector")
	shared := area.NewShared(labels)
	reg.MustRegister(shared.Collector())
	// What every area that counts is plugged into: the tenant's state file,
	// shared families, labels and logger.
	wiring := area.Wiring{State: t.state, Shared: shared, ConstLabels: labels, Logger: areaLogger}
	t.activities = activities.NewRefresher(isc, activities.Options{
		Overlap:          s.Overlap,
		SweepEvery:       s.SweepEvery,
		PrimeConcurrency: s.PrimeConcurrency,
		Lookback:         s.Lookback,
		MaxTypes:         s.MaxTypes,
		MaxSources:       s.MaxSources,
		// ISC failing or silent for as long as one request may take: the
		// tenant is down, said within its timeout and an interval.
		StallAfter: s.Timeout,
		Wiring:     wiring,
	})
	reg.MustRegister(t.activities.Collector())
	t.endpoints = []string{client.EndpointList}
	if s.ActivitiesInterval > 0 {
		t.background = append(t.background, func(ctx context.Context) { t.activities.Run(ctx, s.ActivitiesInterval) })
	}
	if s.Sources {
		src := inventory.NewSources(isc, inventory.Options{Max: s.MaxSources, Interval: s.SourcesInterval, ConstLabels: labels, Logger: areaLogger})
		reg.MustRegister(src)
		t.inventories = append(t.inventories, src)
		t.endpoints = append(t.endpoints, client.EndpointSources)
		t.background = append(t.background, func(ctx context.Context) { src.Run(ctx, s.SourcesInterval) })
	}
	if s.Clusters {
		clusters := inventory.NewManagedClusters(isc, inventory.Options{Interval: s.ClustersInterval, ConstLabels: labels, Logger: areaLogger})
		reg.MustRegister(clusters)
		t.inventories = append(t.inventories, clusters)
		t.endpoints = append(t.endpoints, client.EndpointManagedClusters)
		t.background = append(t.background, func(ctx context.Context) { clusters.Run(ctx, s.ClustersInterval) })
	}
	if s.AggregationsInterval > 0 {
		t.aggregations = aggregations.NewRefresher(isc, aggregations.Options{
			Lookback:   s.AggregationsLookback,
			Types:      s.AggregationTypes,
			MaxSources: s.MaxSources,
			Interval:   s.AggregationsInterval,
			Wiring:     wiring,
		})
		reg.MustRegister(t.aggregations.Collector())
		t.endpoints = append(t.endpoints, client.EndpointTaskStatus)
		t.background = append(t.background, func(ctx context.Context) { t.aggregations.Run(ctx, s.AggregationsInterval) })
	}
	return t, nil
}

// recorder is the registerer the areas register with: it keeps what they
// register in the tenant's collectors, which the process registry takes,
// checks and drops as one.
type recorder area.Collectors

func (r *recorder) Register(c prometheus.Collector) error {
	*r = append(*r, c)
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) { *r = append(*r, cs...) }

// Unregister drops nothing: a tenant's series come and go together, with
// the tenant.
func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// Settings are the tenant's settings.
func (t *Tenant) Settings() Settings { return t.settings }

// Collector serves every series of the tenant; the process registry
// registers it when the tenant starts and unregisters it when it goes.
func (t *Tenant) Collector() prometheus.Collector { return t.collectors }

// Name is the tenant's name, "" for the single tenant of a command line.
func (t *Tenant) Name() string { return t.settings.Name }

// Activities, Inventories and Aggregations are the tenant's areas (nil or
// empty when off).
func (t *Tenant) Activities() *activities.Refresher     { return t.activities }
func (t *Tenant) Inventories() []*inventory.Inventory   { return t.inventories }
func (t *Tenant) Aggregations() *aggregations.Refresher { return t.aggregations }

// OnScrape reports whether the activities refresh on scrape.
func (t *Tenant) OnScrape() bool { return t.settings.ActivitiesInterval == 0 }

// Ready reports whether the activities' first refresh has ended.
func (t *Tenant) Ready() bool { return t.activities.Ready() }

// CheckTimeout bounds the check at start: a network that answers says what
// is wrong well within it.
const CheckTimeout = 5 * time.Second

// Check asks ISC for a token and the smallest page of every area that is on,
// without retries, and says what is wrong with each in one line: a
// misspelled URL, a TLS mismatch or a missing scope is said at once, not
// after the retries of a first refresh. It never stops the tenant: ISC may
// come back, and sailpoint_up says meanwhile.
func (t *Tenant) Check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	logger := t.logger.With("component", "client")
	for _, p := range t.isc.Check(ctx, t.endpoints...) {
		level := slog.LevelError
		if p.Kind == client.ProblemRateLimited {
			level = slog.LevelWarn
		}
		logger.Log(ctx, level, "check at start: "+p.Advice, "endpoint", p.Endpoint, "path", p.Path, "problem", p.Kind, "err", p.Err)
	}
}

// Run runs every area's background loop until ctx ends, and returns once
// they all have.
func (t *Tenant) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, run := range t.background {
		wg.Go(func() { run(ctx) })
	}
	wg.Wait()
}

// UpdateSecret makes the tenant's client use a rotated secret from its next
// token on; the areas go on untouched.
func (t *Tenant) UpdateSecret(s Settings) {
	t.isc.UpdateSecret(s.Secret)
	t.settings.Secret, t.settings.SecretFrom = s.Secret, s.SecretFrom
}

// Close releases the state file's lock. Run must have returned.
func (t *Tenant) Close() error {
	if t.state != nil {
		return t.state.Close()
	}
	return nil
}
