package collector

import (
	"context"
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

// RefreshOnScrape wraps the metrics handler for the mode without background
// refresh: each scrape first refreshes incrementally, within the timeout the
// scraper announces in X-Prometheus-Scrape-Timeout-Seconds minus offset, so
// that the answer arrives in time even when ISC is slow or down.
func (r *Refresher) RefreshOnScrape(next http.Handler, offset time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		timeout := defaultScrapeTimeout
		if v, err := strconv.ParseFloat(req.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && v > 0 {
			timeout = time.Duration(v * float64(time.Second))
		}
		ctx, cancel := context.WithTimeout(req.Context(), max(timeout-offset, minRefreshBudget))
		_ = r.Refresh(ctx) // a failure shows as sailpoint_up 0 and is logged
		cancel()
		next.ServeHTTP(w, req)
	})
}
