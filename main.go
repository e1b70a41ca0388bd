// Command sailpoint_exporter exports the account activities of a SailPoint
// Identity Security Cloud tenant as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/collector"
)

const exporterName = "sailpoint_exporter"

// defaultListenAddress: 9100-9999 is fully allocated in Prometheus' list of
// exporter ports, and no known exporter uses 19885.
const defaultListenAddress = ":19885"

func main() {
	var s settings
	kingpin.Flag("isc.url", "API URL of the ISC tenant, e.g. https://acme.api.identitynow.com.").
		Envar("SAIL_BASE_URL").StringVar(&s.url)
	kingpin.Flag("isc.client-id", "Client id of the personal access token or API client (needs scope sp:scopes:all or read access to account activities).").
		Envar("SAIL_CLIENT_ID").StringVar(&s.clientID)
	kingpin.Flag("isc.client-secret-file", "File holding the client secret. Without it the secret is read from the environment variable "+secretEnv+"; it is never a flag value.").
		Envar("SAIL_CLIENT_SECRET_FILE").StringVar(&s.secretFile)
	kingpin.Flag("isc.token-url", "OAuth2 token URL. Default: the ISC URL followed by /oauth/token.").
		Envar("SAIL_TOKEN_URL").StringVar(&s.tokenURL)
	kingpin.Flag("isc.activities-path", "Path of the account activities API: /v3/account-activities, /v2024/account-activities, /v2025/account-activities, /beta/account-activities or /account-activities/v1.").
		Default(client.DefaultActivitiesPath).Envar("SAIL_ACTIVITIES_PATH").StringVar(&s.activitiesPath)
	kingpin.Flag("isc.requests-per-second", "Most requests per second sent to ISC, shared by every request of this exporter (ISC allows 100 per 10 s per client id).").
		Default("5").Envar("SAIL_REQUESTS_PER_SECOND").Float64Var(&s.requestsPerSec)
	kingpin.Flag("isc.timeout", "Timeout of one HTTP request to ISC, body included.").
		Default("30s").Envar("SAIL_TIMEOUT").DurationVar(&s.timeout)
	kingpin.Flag("activities.lookback", "How far back the gauges look, by creation time, and how far back the first pass reads. Completions before the exporter started or older than this are never counted.").
		Default("24h").Envar("SAIL_ACTIVITIES_LOOKBACK").DurationVar(&s.lookback)
	kingpin.Flag("activities.refresh-interval", "How often to read changes from ISC in the background; scrapes read the last result. 0 refreshes on each scrape instead, within the scrape timeout.").
		Default("1m").Envar("SAIL_ACTIVITIES_REFRESH_INTERVAL").DurationVar(&s.refreshInterval)
	kingpin.Flag("activities.page-size", "Activities asked for per request (ISC's maximum is 250).").
		Default("250").Envar("SAIL_ACTIVITIES_PAGE_SIZE").IntVar(&s.pageSize)
	kingpin.Flag("activities.max-types", "Most distinct values of the type label; further types are reported as \"other\" and counted in sailpoint_label_overflow_total.").
		Default("64").Envar("SAIL_ACTIVITIES_MAX_TYPES").IntVar(&s.maxTypes)
	kingpin.Flag("activities.max-sources", "Most distinct values of the source_id label; further sources are reported as \"other\" and counted in sailpoint_label_overflow_total.").
		Default("256").Envar("SAIL_ACTIVITIES_MAX_SOURCES").IntVar(&s.maxSources)
	kingpin.Flag("activities.scrape-timeout-offset", "With --activities.refresh-interval=0, how much of the scrape timeout is left for answering the scrape.").
		Default("500ms").DurationVar(&s.timeoutOffset)
	kingpin.Flag("demo", "Run against a simulated tenant, in-process on loopback, instead of ISC.").
		BoolVar(&s.demo)
	var refreshSet bool
	kingpin.CommandLine.GetFlag("activities.refresh-interval").IsSetByUser(&refreshSet)
	telemetryPath := kingpin.Flag("web.telemetry-path", "Path under which to expose metrics.").
		Default("/metrics").String()
	maxRequests := kingpin.Flag("web.max-requests", "Most concurrent scrapes served; 0 means no limit.").
		Default("40").Int()
	toolkitFlags := kingpinflag.AddFlags(kingpin.CommandLine, defaultListenAddress)
	logConfig := &promslog.Config{}
	flag.AddFlags(kingpin.CommandLine, logConfig)
	kingpin.Version(version.Print(exporterName))
	kingpin.HelpFlag.Short('h')
	kingpin.Parse()

	logger := promslog.New(logConfig)
	if err := s.check(); err != nil {
		kingpin.Fatalf("%v", err)
	}
	var secret string
	if !s.demo {
		var err error
		if secret, err = s.clientSecret(); err != nil {
			kingpin.Fatalf("%v", err)
		}
	}
	logger.Info("Starting "+exporterName, "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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
	if s.demo {
		tenant, err := startDemo(ctx, &cfg, logger)
		if err != nil {
			kingpin.Fatalf("starting the demo tenant: %v", err)
		}
		defer func() { _ = tenant.Close() }()
		if !refreshSet {
			// Let the demo's counters move within seconds, not minutes.
			s.refreshInterval = 10 * time.Second
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	cfg.Observe = collector.NewAPIMetrics(reg).Observe
	isc, err := client.New(cfg)
	if err != nil {
		kingpin.Fatalf("%v", err)
	}
	refresher := collector.NewRefresher(isc, collector.Options{
		Lookback:   s.lookback,
		MaxTypes:   s.maxTypes,
		MaxSources: s.maxSources,
		Logger:     logger.With("component", "collector"),
	})
	reg.MustRegister(refresher)

	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelError),
		MaxRequestsInFlight: *maxRequests,
	})
	if s.refreshInterval == 0 {
		metrics = refresher.RefreshOnScrape(metrics, s.timeoutOffset)
	} else {
		go refresher.Run(ctx, s.refreshInterval, max(5*s.refreshInterval, 5*time.Minute))
	}

	mux := http.NewServeMux()
	mux.Handle(*telemetryPath, metrics)
	if *telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "SailPoint Exporter",
			Description: "Prometheus exporter for the account activities of SailPoint Identity Security Cloud",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *telemetryPath, Text: "Metrics"}},
		})
		if err != nil {
			kingpin.Fatalf("%v", err)
		}
		mux.Handle("/", landing)
	}
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	if err := web.ListenAndServe(server, toolkitFlags, logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("Serving metrics failed", "err", err)
		os.Exit(1)
	}
	logger.Info("Stopped")
}
