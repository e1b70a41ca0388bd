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
	var secret, warning string
	if !s.demo {
		var err error
		if secret, warning, err = s.clientSecret(); err != nil {
			app.Errorf("%v", err)
			return 1
		}
	}

	logger := promslog.New(s.log)
	if warning != "" {
		logger.Warn(warning)
	}
	for _, line := range s.adjust() {
		logger.Warn(line)
	}
	logger.Info("Starting "+exporterName, "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := newExporter(s, secret, logger)
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

	e.check(ctx, logger.With("component", "client"))
	g, ctx := errgroup.WithContext(ctx)
	e.start(ctx, g)
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
