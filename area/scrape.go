package area

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// defaultScrapeTimeout is assumed when a scraper does not say how long it
// waits; it is Prometheus' default.
const defaultScrapeTimeout = 10 * time.Second

// minRefreshBudget keeps a refresh worth starting when the offset eats most
// of a short scrape timeout.
const minRefreshBudget = 100 * time.Millisecond

// RefreshOnScrape wraps the metrics handler for an area refreshed on scrape
// instead of in the background: each scrape first calls refresh within the
// timeout the scraper announces in X-Prometheus-Scrape-Timeout-Seconds minus
// offset, so that the answer arrives in time even when ISC is slow or down.
// A refresh's failure shows in its area's up gauge and is logged by the
// refresh itself.
func RefreshOnScrape(refresh func(context.Context) error, next http.Handler, offset time.Duration, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		timeout := defaultScrapeTimeout
		if h := req.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); h != "" {
			v, err := strconv.ParseFloat(h, 64)
			if err == nil && v > 0 {
				timeout = time.Duration(v * float64(time.Second))
			} else {
				logger.Debug("ignoring a malformed X-Prometheus-Scrape-Timeout-Seconds header", "value", h, "assumed", timeout)
			}
		}
		ctx, cancel := context.WithTimeout(req.Context(), max(timeout-offset, minRefreshBudget))
		_ = refresh(ctx)
		cancel()
		next.ServeHTTP(w, req)
	})
}
