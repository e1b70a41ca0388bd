package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/errgroup"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenants"
)

// exporter is what the process serves: the tenants that feed the metrics
// from ISC (or from the demo's simulated tenants), the reloader of their
// configuration file, and the registry they all report to.
type exporter struct {
	registry *prometheus.Registry
	tenants  *tenants.Set
	reloader *tenants.Reloader   // nil without --config.file
	demos    []*simtenant.Tenant // with --demo
}

// newExporter builds the exporter and the tenants of list (with --demo,
// the simulated ones it starts); start runs them, checking each first when
// check is set. load re-reads the configuration file on a reload; nil
// without one.
func newExporter(s *settings, list []tenant.Settings, load tenants.Loader, check bool, logger *slog.Logger) (*exporter, error) {
	e := &exporter{registry: prometheus.NewRegistry()}
	e.registry.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	if s.demo {
		sims, demoList, err := startDemos(s, logger)
		if err != nil {
			return nil, err
		}
		e.demos, list = sims, demoList
	}
	e.tenants = tenants.NewSet(e.registry, logger, tenants.SetOptions{Check: check})
	var err error
	if load != nil {
		e.reloader = tenants.NewReloader(load, e.tenants, e.registry, logger.With("component", "config"))
		_, err = e.reloader.Apply("start", list, nil)
	} else {
		_, err = e.tenants.Apply(list)
	}
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// start runs the tenants until ctx ends or close, and the background work in
// g until ctx ends: the demo tenants' activity, and the reloads on SIGHUP.
func (e *exporter) start(ctx context.Context, g *errgroup.Group, hup <-chan os.Signal) {
	e.tenants.Start(ctx)
	for _, sim := range e.demos {
		g.Go(func() error { sim.RunDemo(ctx, time.Second); return nil })
	}
	if e.reloader != nil && hup != nil {
		g.Go(func() error { e.reloader.Run(ctx, hup); return nil })
	}
}

// close stops the tenants, waits for their loops and releases what
// newExporter started.
func (e *exporter) close() {
	if e.tenants != nil {
		e.tenants.Stop()
	}
	for _, sim := range e.demos {
		_ = sim.Close()
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
	// Only the tenants whose activities refresh on scrape refresh, all at
	// once; with none, the scrape reads the snapshots at once.
	metrics = area.RefreshOnScrape(e.tenants.RefreshOnScrape, metrics, s.timeoutOffset, logger.With("component", "collector"))
	metrics = limitInFlight(metrics, s.maxRequests)
	mux := http.NewServeMux()
	mux.Handle(s.telemetryPath, metrics)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Healthy.\n"))
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if waiting := e.tenants.NotReady(); len(waiting) > 0 {
			msg := "Not ready: the first refresh from ISC has not ended yet."
			if waiting[0] != "" {
				msg = "Not ready: the first refresh from ISC has not ended yet for the tenants " + strings.Join(waiting, ", ") + "."
			}
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("Ready.\n"))
	})
	if e.reloader != nil {
		mux.Handle("/-/reload", e.reloader.Handler())
	}
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
