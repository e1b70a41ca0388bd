package area

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Each scrape first refreshes within the timeout Prometheus announces less
// the offset (the default 10 s when it announces none or a malformed one,
// said at debug level), and at least 100 ms.
func TestRefreshOnScrapeDeadline(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
		logged bool
	}{
		{"", 9500 * time.Millisecond, false},
		{"5", 4500 * time.Millisecond, false},
		{"0.25", 100 * time.Millisecond, false},
		{"abc", 9500 * time.Millisecond, true},
		{"-1", 9500 * time.Millisecond, true},
		{"0", 9500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				var got time.Duration
				served := false
				h := RefreshOnScrape(func(ctx context.Context) error {
					d, _ := ctx.Deadline()
					got = time.Until(d)
					return nil
				}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }), 500*time.Millisecond,
					slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if tt.header != "" {
					req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
				if got != tt.want || !served {
					t.Fatalf("refresh deadline %v (served %v), want %v", got, served, tt.want)
				}
				line := logs.String()
				if tt.logged != (line != "") || tt.logged && (!strings.Contains(line, "level=DEBUG") || !strings.Contains(line, "value="+tt.header)) {
					t.Fatalf("logged %q", line)
				}
			})
		})
	}
}
