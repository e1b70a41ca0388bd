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

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/errgroup"

	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenants"
)

// Server timeouts: a client that sends its request slowly or reads the answer
// slowly cannot hold a connection for long. The write timeout leaves room
// for a scrape that refreshes first (--activities.refresh-interval=0).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 5 * time.Second
)

func main() { os.Exit(run(os.Args[1:])) }

// run parses the command line, logs, builds the exporter and serves it until
// a signal or a failure. It returns the exit code once every goroutine it
// started has ended and every deferred cleanup has run.
func run(args []string) int {
	stampVersion()
	app, s := newApp()
	if _, err := app.Parse(args); err != nil {
		app.Errorf("%s, try --help", err)
		return 1
	}
	if err := s.check(); err != nil {
		app.Errorf("%v", err)
		return 1
	}
	if s.configCheck {
		out, err := checkConfigFile(s.configFile, args)
		if err != nil {
			app.Errorf("%v", err)
			return 1
		}
		_, _ = os.Stdout.WriteString(out)
		return 0
	}
	var (
		list     []tenant.Settings
		warnings []string
		load     tenants.Loader
		err      error
	)
	switch {
	case s.configFile != "":
		load = func() ([]tenant.Settings, []string, error) { return fileTenants(s.configFile, args, true) }
		list, warnings, err = load()
	case s.demo:
		warnings = s.adjust()
	default:
		list, warnings, err = s.commandLineTenant()
	}
	if err != nil {
		app.Errorf("%v", err)
		return 1
	}

	logger := promslog.New(s.log)
	for _, line := range warnings {
		logger.Warn(line)
	}
	logger.Info("Starting "+exporterName, "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// With a configuration file, SIGHUP reloads it; without one it stops the
	// process, as it always did.
	var hup chan os.Signal
	if load != nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	e, err := newExporter(s, list, load, true, logger)
	if err != nil {
		logger.Error("Cannot start", "err", err)
		return 1
	}
	defer e.close()
	handler, err := e.handler(s, logger)
	if err != nil {
		logger.Error("Cannot start", "err", err)
		return 1
	}

	g, ctx := errgroup.WithContext(ctx)
	e.start(ctx, g, hup)
	serve(ctx, g, handler, s, logger)
	if err := g.Wait(); err != nil {
		logger.Error("Stopped on an error", "err", err)
		return 1
	}
	logger.Info("Stopped")
	return 0
}

// serve runs the HTTP server in g until ctx ends.
func serve(ctx context.Context, g *errgroup.Group, handler http.Handler, s *settings, logger *slog.Logger) {
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	g.Go(func() error {
		if err := web.ListenAndServe(server, s.web, logger); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		return server.Shutdown(shutdown)
	})
}
