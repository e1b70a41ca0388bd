package tenants

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A reload applies what the configuration says now; one that cannot be
// read is refused, the running tenants go on, sailpoint_config_last_reload_successful
// says 0 and the log says why; the next good one says 1 again, with its time.
func TestReloadRefusesABadFileAndKeepsTheRunningOne(t *testing.T) {
	t.Parallel()
	_, urlA := simulated(t, 11, simSecret)
	_, urlB := simulated(t, 12, simSecret)
	reg := prometheus.NewPedanticRegistry()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	set := NewSet(reg, logger, SetOptions{})
	set.Start(t.Context())
	t.Cleanup(set.Stop)

	next := []tenant.Settings{watch("a", urlA, "")}
	var failure error
	var mu sync.Mutex
	load := func() ([]tenant.Settings, []string, error) {
		mu.Lock()
		defer mu.Unlock()
		return next, []string{"a warning of the file"}, failure
	}
	r := NewReloader(load, set, reg, logger)
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return at }
	if _, err := r.Apply("start", next, nil); err != nil {
		t.Fatal(err)
	}
	checkReloadMetrics(t, reg, 1, at)

	mu.Lock()
	next = append(next, watch("b", urlB, ""))
	failure = errors.New(`tenants.yml:7: tenants[1].url: missing`)
	mu.Unlock()
	if _, err := r.Reload("SIGHUP"); err == nil {
		t.Fatal("a bad file was applied")
	}
	checkReloadMetrics(t, reg, 0, at)
	if got := tenantsIn(t, reg); len(got) != 1 || got[0] != "a" {
		t.Errorf("tenants %v after a refused reload, want a alone", got)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="the configuration was not reloaded: the running one stays" trigger=SIGHUP err="tenants.yml:7: tenants[1].url: missing"`) {
		t.Errorf("no error line for the refused reload:\n%s", logs.String())
	}

	mu.Lock()
	failure = nil
	mu.Unlock()
	at = at.Add(time.Minute)
	ch, err := r.Reload("SIGHUP")
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Added) != 1 || ch.Added[0] != "b" || len(ch.Unchanged) != 1 {
		t.Errorf("changes %v", ch)
	}
	checkReloadMetrics(t, reg, 1, at)
	waitReady(t, set)
	if !strings.Contains(logs.String(), `level=WARN msg="a warning of the file"`) {
		t.Errorf("the file's warnings were not logged:\n%s", logs.String())
	}
}

func checkReloadMetrics(t *testing.T, reg prometheus.Gatherer, successful float64, at time.Time) {
	t.Helper()
	got := series(t, reg)
	if v, ok := got["sailpoint_config_last_reload_successful{}"]; !ok || v != successful {
		t.Errorf("sailpoint_config_last_reload_successful %v (present %v), want %v", v, ok, successful)
	}
	if v, want := got["sailpoint_config_last_reload_success_timestamp_seconds{}"], float64(at.Unix()); v != want {
		t.Errorf("sailpoint_config_last_reload_success_timestamp_seconds %v, want %v", v, want)
	}
}

// POST and PUT /-/reload reload: 200 and what changed, or 500 and why;
// any other method is refused without reloading.
func TestReloadEndpoint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	set := NewSet(reg, slog.New(slog.DiscardHandler), SetOptions{})
	set.Start(t.Context())
	t.Cleanup(set.Stop)
	loads := 0
	var failure error
	r := NewReloader(func() ([]tenant.Settings, []string, error) {
		loads++
		return nil, nil, failure
	}, set, reg, slog.New(slog.DiscardHandler))
	h := r.Handler()
	tests := []struct {
		method   string
		failure  error
		code     int
		body     string
		reloaded bool
	}{
		{http.MethodGet, nil, http.StatusMethodNotAllowed, "Only POST or PUT requests allowed.", false},
		{http.MethodPost, nil, http.StatusOK, "Configuration reloaded: added [], removed []", true},
		{http.MethodPut, nil, http.StatusOK, "Configuration reloaded", true},
		{http.MethodPost, errors.New("tenants.yml:3: tenants[0].client_secret: the secret is never written"), http.StatusInternalServerError,
			"failed to reload config: tenants.yml:3: tenants[0].client_secret: the secret is never written", true},
	}
	for _, tt := range tests {
		failure = tt.failure
		before := loads
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/-/reload", nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tt.code || !strings.Contains(string(body), tt.body) || (loads > before) != tt.reloaded {
			t.Errorf("%s: %d %q (reloaded %v), want %d %q (reloaded %v)", tt.method, rec.Code, body, loads > before, tt.code, tt.body, tt.reloaded)
		}
	}
}
