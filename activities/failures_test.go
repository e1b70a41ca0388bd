package activities

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// An outage is said once, with what to check, and its end once.
func TestFailuresAreLoggedOncePerOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fail  func(*simtenant.Tenant)
		level string
		says  []string
	}{
		{"credentials refused", func(tn *simtenant.Tenant) { simtest.Faults(tn).FailTokenNext(3, http.StatusUnauthorized) },
			"ERROR", []string{"ISC refused the exporter's credentials", "SAIL_CLIENT_ID", "SAIL_CLIENT_SECRET", "revoked", "sp:scopes:all"}},
		{"scope missing", func(tn *simtenant.Tenant) { simtest.Faults(tn).FailNext(3, http.StatusForbidden) },
			"ERROR", []string{"HTTP 403", "sp:scopes:all", "trackingId"}},
		{"server errors", func(tn *simtenant.Tenant) { simtest.Faults(tn).FailNext(3, http.StatusBadGateway) },
			"WARN", []string{"refresh from ISC failed", "HTTP 502"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			s := newStack(t, simtenant.Config{Seed: 9, RateLimit: -1}, client.Config{MaxRetries: -1},
				// One request a refresh: the first pass as one scan.
				Options{PrimeConcurrency: 1, Wiring: area.Wiring{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
			s.tenant.SeedHistory(10, time.Hour)
			tt.fail(s.tenant)
			for range 3 {
				if err := s.refresher.Refresh(t.Context()); err == nil {
					t.Fatal("a refresh succeeded while ISC failed")
				}
			}
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatalf("ISC answers again, yet: %v", err)
			}
			var loud, again, recovered []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				switch {
				case strings.Contains(line, "level=DEBUG") && strings.Contains(line, "failed again"):
					again = append(again, line)
				case strings.Contains(line, "level="+tt.level):
					loud = append(loud, line)
				case strings.Contains(line, "succeeded again"):
					recovered = append(recovered, line)
				}
			}
			if len(loud) != 1 {
				t.Fatalf("%d lines at %s, want 1:\n%s", len(loud), tt.level, logs.String())
			}
			for _, w := range tt.says {
				if !strings.Contains(loud[0], w) {
					t.Errorf("the line lacks %q: %s", w, loud[0])
				}
			}
			if len(again) != 2 || len(recovered) != 1 || !strings.Contains(recovered[0], "failed_refreshes=3") {
				t.Fatalf("repeats %d (want 2 at debug), recoveries %v:\n%s", len(again), recovered, logs.String())
			}
		})
	}
}
