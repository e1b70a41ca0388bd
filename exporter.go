package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/errgroup"

	"github.com/sailpoint-exporter/sailpoint_exporter/activities"
	"github.com/sailpoint-exporter/sailpoint_exporter/aggregations"
	"github.com/sailpoint-exporter/sailpoint_exporter/apimetrics"
	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/inventory"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// exporter is what the process serves: the areas that feed the metrics
// from ISC (or from the demo tenant), the state file they share, and the
// registry they report to.
type exporter struct {
	registry   *prometheus.Registry
	state      *state.File // nil without --state.file
	activities *activities.Refresher
	interval   time.Duration // of the activities; 0: they refresh on scrape
	// inventories are the sources and managed clusters collectors that are on.
	inventories []*inventory.Inventory
	// aggregations is nil when --aggregations.refresh-interval is 0.
	aggregations *aggregations.Refresher
	isc          *client.Client
	endpoints    []string                // of the areas that are on, for the check at start
	background   []func(context.Context) // each area's background loop, joined on shutdown
	demo         *simtenant.Tenant       // nil unless --demo
}

// newExporter builds the exporter; it sends nothing to ISC yet.
func newExporter(s *settings, secret string, logger *slog.Logger) (*exporter, error) {
	cfg := client.Config{
		BaseURL:           s.url,
		TokenURL:          s.tokenURL,
		ClientID:          s.clientID,
		ClientSecret:      secret,
		API:               client.Family(strings.ToLower(s.apiVersion)),
		ActivitiesPath:    s.activitiesPath,
		RequestsPerSecond: s.requestsPerSec,
		Timeout:           s.timeout,
		PageSize:          s.pageSize,
		UserAgent:         exporterName + "/" + version.Version,
		Logger:            logger.With("component", "client"),
	}
	e := &exporter{registry: prometheus.NewRegistry(), interval: s.interval()}
	if s.demo {
		tenant, err := startDemo(&cfg, logger)
		if err != nil {
			return nil, err
		}
		e.demo = tenant
	}
	e.registry.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	api := apimetrics.New(e.registry, logger.With("component", "client"))
	cfg.Observe, cfg.Deprecated, cfg.Unexpected = api.Observe, api.Deprecated, api.Unexpected
	isc, err := client.New(cfg)
	if err != nil {
		e.close()
		return nil, err
	}
	e.registry.MustRegister(apimetrics.NewClockOffset(isc.ClockOffset), apimetrics.NewPaths(isc.Paths))
	e.isc, e.endpoints = isc, []string{client.EndpointList}
	if s.stateFile != "" {
		id := state.Identity{URL: cfg.BaseURL, ClientID: cfg.ClientID}
		if e.state, err = state.Open(s.stateFile, id, e.registry, logger.With("component", "state")); err != nil {
			e.close()
			return nil, err
		}
	}

	areaLogger := logger.With("component", "collector")
	shared := area.NewShared()
	e.registry.MustRegister(shared.Collector())
	e.activities = activities.NewRefresher(isc, activities.Options{
		Overlap:          s.overlap,
		SweepEvery:       s.sweepEvery(),
		PrimeConcurrency: s.primeRanges,
		Lookback:         s.lookback,
		MaxTypes:         s.maxTypes,
		MaxSources:       s.maxSources(),
		State:            e.state,
		Shared:           shared,
		Logger:           areaLogger,
	})
	e.registry.MustRegister(e.activities.Collector())
	if e.interval > 0 {
		e.background = append(e.background, func(ctx context.Context) { e.activities.Run(ctx, e.interval) })
	}
	if s.sources {
		src := inventory.NewSources(isc, inventory.Options{Max: s.maxSources(), Interval: s.sourcesPeriod(), Logger: areaLogger})
		e.registry.MustRegister(src)
		e.inventories = append(e.inventories, src)
		e.endpoints = append(e.endpoints, client.EndpointSources)
		e.background = append(e.background, func(ctx context.Context) { src.Run(ctx, s.sourcesPeriod()) })
	}
	if s.clusters {
		clusters := inventory.NewManagedClusters(isc, inventory.Options{Interval: s.clustersPeriod(), Logger: areaLogger})
		e.registry.MustRegister(clusters)
		e.inventories = append(e.inventories, clusters)
		e.endpoints = append(e.endpoints, client.EndpointManagedClusters)
		e.background = append(e.background, func(ctx context.Context) { clusters.Run(ctx, s.clustersPeriod()) })
	}
	if period := s.aggregationsPeriod(); period > 0 {
		e.aggregations = aggregations.NewRefresher(isc, aggregations.Options{
			Lookback:   s.aggLookback,
			Types:      s.aggregationTypes(),
			MaxSources: s.maxSources(),
			Interval:   period,
			State:      e.state,
			Shared:     shared,
			Logger:     areaLogger,
		})
		e.registry.MustRegister(e.aggregations.Collector())
		e.endpoints = append(e.endpoints, client.EndpointTaskStatus)
		e.background = append(e.background, func(ctx context.Context) { e.aggregations.Run(ctx, period) })
	}
	return e, nil
}

// checkTimeout bounds the check at start: a network that answers says what
// is wrong well within it.
const checkTimeout = 5 * time.Second

// check asks ISC, before serving, for a token and the smallest page of every
// area that is on, without retries, and says what is wrong with each in one
// line: a misspelled URL, a TLS mismatch or a missing scope is said at once,
// not after the retries of a first refresh. It never stops the exporter:
// ISC may come back, and sailpoint_up says meanwhile.
func (e *exporter) check(ctx context.Context, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	for _, p := range e.isc.Check(ctx, e.endpoints...) {
		level := slog.LevelError
		if p.Kind == client.ProblemRateLimited {
			level = slog.LevelWarn
		}
		logger.Log(ctx, level, "check at start: "+p.Advice, "endpoint", p.Endpoint, "path", p.Path, "problem", p.Kind, "err", p.Err)
	}
}

// start runs the background work in g until ctx ends: each area's loop and
// the demo tenant's activity.
func (e *exporter) start(ctx context.Context, g *errgroup.Group) {
	for _, run := range e.background {
		g.Go(func() error { run(ctx); return nil })
	}
	if e.demo != nil {
		g.Go(func() error { e.demo.RunDemo(ctx, time.Second); return nil })
	}
}

// close releases what newExporter started.
func (e *exporter) close() {
	if e.state != nil {
		_ = e.state.Close()
	}
	if e.demo != nil {
		_ = e.demo.Close()
	}
}

// handler serves the metrics, a landing page and the health endpoints.
func (e *exporter) handler(s *settings, logger *slog.Logger) (http.Handler, error) {
	metrics := promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// OpenMetrics when the scraper asks for it, as Prometheus does: the
		// only format that carries the exemplars of the failure counters.
		EnableOpenMetrics: true,
	})
	if e.interval == 0 {
		metrics = area.RefreshOnScrape(e.activities.Refresh, metrics, s.timeoutOffset, logger.With("component", "collector"))
	}
	metrics = limitInFlight(metrics, s.maxRequests)
	mux := http.NewServeMux()
	mux.Handle(s.telemetryPath, metrics)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Healthy.\n"))
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !e.activities.Ready() {
			http.Error(w, "Not ready: the first refresh from ISC has not ended yet.", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("Ready.\n"))
	})
	if s.telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "SailPoint Exporter",
			Description: "Prometheus exporter for the account activities of SailPoint Identity Security Cloud",
			Version:     version.Info(),
			Profiling:   "false", // no pprof handlers are served: no links to them
			Links: []web.LandingLinks{
				{Address: s.telemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health", Description: "200 while the process runs"},
				{Address: "/-/ready", Text: "Readiness", Description: "200 once the first refresh from ISC has ended"},
			},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// limitInFlight answers 503 to a scrape beyond max at once (0: no limit).
// It wraps the refresh on scrape too, so that scrapes piling up behind a
// slow ISC are bounded as well.
func limitInFlight(next http.Handler, max int) http.Handler {
	if max <= 0 {
		return next
	}
	slots := make(chan struct{}, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent scrapes reached (%d), try again later.", max), http.StatusServiceUnavailable)
		}
	})
}
