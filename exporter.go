package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/errgroup"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/collector"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// exporter is what the process serves: the refresher that feeds the activity
// metrics from ISC (or from the demo tenant), and the registry it reports to.
type exporter struct {
	refresher *collector.Refresher
	registry  *prometheus.Registry
	interval  time.Duration
	demo      *simtenant.Tenant // nil unless --demo
	// inventories are the sources and managed clusters collectors that are
	// on, listed every inventoryInterval.
	inventories       []*collector.Inventory
	inventoryInterval time.Duration
}

// newExporter builds the exporter; it sends nothing to ISC yet.
func newExporter(s *settings, secret string, logger *slog.Logger) (*exporter, error) {
	cfg := client.Config{
		BaseURL:           s.url,
		TokenURL:          s.tokenURL,
		ClientID:          s.clientID,
		ClientSecret:      secret,
		ActivitiesPath:    s.activitiesPath,
		RequestsPerSecond: s.requestsPerSec,
		Timeout:           s.timeout,
		PageSize:          s.pageSize,
		UserAgent:         exporterName + "/" + version.Version,
		Logger:            logger.With("component", "client"),
	}
	e := &exporter{registry: prometheus.NewRegistry(), interval: s.interval(), inventoryInterval: s.inventoryInterval()}
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
	cfg.Observe = collector.NewAPIMetrics(e.registry).Observe
	isc, err := client.New(cfg)
	if err != nil {
		e.close()
		return nil, err
	}
	e.registry.MustRegister(collector.NewClockOffset(isc.ClockOffset))
	opts := collector.Options{
		Overlap:    s.overlap,
		Lookback:   s.lookback,
		MaxTypes:   s.maxTypes,
		MaxSources: s.maxSources,
		Logger:     logger.With("component", "collector"),
	}
	if s.stateFile != "" {
		id := collector.StateIdentity{URL: cfg.BaseURL, ClientID: cfg.ClientID, Lookback: s.lookback}
		if opts.State, err = collector.OpenStateFile(s.stateFile, id, e.registry, logger.With("component", "state")); err != nil {
			e.close()
			return nil, err
		}
	}
	e.refresher = collector.NewRefresher(isc, opts)
	if err := e.refresher.Restore(); err != nil {
		e.close()
		return nil, err
	}
	e.registry.MustRegister(e.refresher.Collector())
	invLogger := logger.With("component", "collector")
	if s.sources {
		e.inventories = append(e.inventories, collector.NewSources(isc, collector.InventoryOptions{Max: s.maxSources, Logger: invLogger}))
	}
	if s.clusters {
		e.inventories = append(e.inventories, collector.NewManagedClusters(isc, collector.InventoryOptions{Logger: invLogger}))
	}
	for _, inv := range e.inventories {
		e.registry.MustRegister(inv)
	}
	return e, nil
}

// start runs the background work in g until ctx ends: the refresh loop
// (unless refreshes happen on scrape), the sources and managed clusters
// collectors, and the demo tenant's activity.
func (e *exporter) start(ctx context.Context, g *errgroup.Group) {
	if e.interval > 0 {
		g.Go(func() error { e.refresher.Run(ctx, e.interval); return nil })
	}
	for _, inv := range e.inventories {
		g.Go(func() error { inv.Run(ctx, e.inventoryInterval); return nil })
	}
	if e.demo != nil {
		g.Go(func() error { e.demo.RunDemo(ctx, time.Second); return nil })
	}
}

// close releases what newExporter started.
func (e *exporter) close() {
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
		metrics = collector.RefreshOnScrape(e.refresher.Refresh, metrics, s.timeoutOffset, logger.With("component", "collector"))
	}
	metrics = limitInFlight(metrics, s.maxRequests)
	mux := http.NewServeMux()
	mux.Handle(s.telemetryPath, metrics)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Healthy.\n"))
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !e.refresher.Ready() {
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
