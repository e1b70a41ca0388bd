package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// The sources and managed clusters collectors: on by default, off with
// --no-…, from the environment too; each its own interval, 5m, 10s in the
// demo, never 0; --sources.refresh-interval alone still sets both, as it did
// before the clusters had a flag of their own.
func TestCollectorFlags(t *testing.T) {
	tests := []struct {
		name               string
		env                map[string]string
		args               []string
		sources, clusters  bool
		interval           time.Duration
		clustersInterval   time.Duration // 0: as interval
		deprecated         string
		checkErrorContains string
	}{
		{name: "default", sources: true, clusters: true, interval: 5 * time.Minute},
		{name: "demo", args: []string{"--demo"}, sources: true, clusters: true, interval: 10 * time.Second},
		{name: "off", args: []string{"--no-collector.sources", "--no-collector.managed-clusters"}, interval: 5 * time.Minute},
		{name: "off from the environment", env: map[string]string{"SAIL_COLLECTOR_SOURCES": "false", "SAIL_COLLECTOR_MANAGED_CLUSTERS": "false"}, interval: 5 * time.Minute},
		{name: "interval", args: []string{"--demo", "--sources.refresh-interval=90s"}, sources: true, clusters: true, interval: 90 * time.Second,
			deprecated: "--sources.refresh-interval also sets the managed clusters' period"},
		{name: "interval from the environment", env: map[string]string{"SAIL_SOURCES_REFRESH_INTERVAL": "15m"}, sources: true, clusters: true, interval: 15 * time.Minute,
			deprecated: "--sources.refresh-interval also sets the managed clusters' period"},
		{name: "each its own interval", args: []string{"--sources.refresh-interval=90s", "--managed-clusters.refresh-interval=10m"}, sources: true, clusters: true,
			interval: 90 * time.Second, clustersInterval: 10 * time.Minute},
		{name: "clusters' interval from the environment", env: map[string]string{"SAIL_MANAGED_CLUSTERS_REFRESH_INTERVAL": "2m"}, sources: true, clusters: true,
			interval: 5 * time.Minute, clustersInterval: 2 * time.Minute},
		{name: "zero interval", args: []string{"--sources.refresh-interval=0"}, sources: true, clusters: true, checkErrorContains: "--sources.refresh-interval must be above 0"},
		{name: "zero clusters' interval", args: []string{"--managed-clusters.refresh-interval=0"}, sources: true, clusters: true, checkErrorContains: "--managed-clusters.refresh-interval must be above 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SAIL_COLLECTOR_SOURCES", "SAIL_COLLECTOR_MANAGED_CLUSTERS", "SAIL_SOURCES_REFRESH_INTERVAL", "SAIL_MANAGED_CLUSTERS_REFRESH_INTERVAL", secretEnv} {
				t.Setenv(k, tt.env[k])
				if tt.env[k] == "" {
					_ = os.Unsetenv(k)
				}
			}
			s := parseArgs(t, append([]string{"--isc.url=https://acme.api.identitynow.com", "--isc.client-id=id"}, tt.args...)...)
			if s.demo {
				s.url, s.clientID = "", ""
			}
			if s.sources != tt.sources || s.clusters != tt.clusters {
				t.Errorf("sources %v clusters %v, want %v %v", s.sources, s.clusters, tt.sources, tt.clusters)
			}
			err := s.check()
			if tt.checkErrorContains != "" {
				if err == nil || !strings.Contains(err.Error(), tt.checkErrorContains) {
					t.Fatalf("check: %v, want %q", err, tt.checkErrorContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.sourcesPeriod(); got != tt.interval {
				t.Errorf("sources' interval %v, want %v", got, tt.interval)
			}
			want := tt.clustersInterval
			if want == 0 {
				want = tt.interval
			}
			if got := s.clustersPeriod(); got != want {
				t.Errorf("clusters' interval %v, want %v", got, want)
			}
			lines := strings.Join(s.deprecations(), "\n")
			if (tt.deprecated == "") != (lines == "") || !strings.Contains(lines, tt.deprecated) {
				t.Errorf("deprecation lines %q, want one containing %q", lines, tt.deprecated)
			}
		})
	}
}

// syncBuffer is a log destination written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoExporter builds the exporter of --demo plus args, logging at debug
// level into the returned buffer, with a state file.
func demoExporter(t *testing.T, args ...string) (*exporter, *settings, *syncBuffer, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	app, s := newApp()
	// The simulated tenant answers as fast as it is asked: at the default
	// of 10 requests a second a first pass took seconds.
	if _, err := app.Parse(append([]string{"--demo", "--state.file=" + state, "--isc.requests-per-second=1000"}, args...)); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	e, err := newExporter(s, nil, nil, false, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e, s, logs, state
}

func scrapeWith(t *testing.T, h http.Handler, accept string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

const openMetrics = "application/openmetrics-text;version=1.0.0"

// The key pairs, certificates, keystores, queue names, Redis hosts and
// client ids that GET /v3/managed-clusters carries reach neither /metrics
// (text or OpenMetrics), nor the logs at debug level, nor the state file,
// also when a listing fails.
func TestClusterSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	e, s, logs, state := demoExporter(t)
	h, err := e.handler(s, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.first().Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	simtest.Faults(e.demos[0]).FailClustersNext(1, http.StatusInternalServerError)
	for range 2 { // a failed listing (one retry) and a good one
		for _, inv := range e.first().Inventories() {
			_ = inv.Refresh(t.Context())
		}
	}
	text, om := scrapeWith(t, h, ""), scrapeWith(t, h, openMetrics)
	if !strings.Contains(text, "sailpoint_managed_clusters_up 1") || !strings.Contains(om, "sailpoint_managed_cluster_info{") {
		t.Fatalf("the clusters were not listed:\n%s", text)
	}
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	secrets := e.demos[0].ClusterSecrets()
	if len(secrets) < 10 {
		t.Fatalf("only %d secrets to look for", len(secrets))
	}
	for where, out := range map[string]string{"/metrics": text, "/metrics (OpenMetrics)": om, "the logs": logs.String(), "the state file": string(raw)} {
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s holds the cluster secret %q", where, secret)
			}
		}
	}
}

// OpenMetrics when asked for it, with the failure counters' exemplars; the
// text format otherwise, without them.
func TestOpenMetricsWhenAsked(t *testing.T) {
	t.Parallel()
	e, s, _, _ := demoExporter(t)
	h, err := e.handler(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.first().Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 120 { // two minutes of the demo: failures
		e.demos[0].Step()
	}
	if err := e.first().Activities().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	om := scrapeWith(t, h, openMetrics)
	if !strings.HasSuffix(om, "# EOF\n") || !strings.Contains(om, `provisioning_status="FAILED"`) || !strings.Contains(om, ` # {activity_id="`) {
		t.Fatalf("no OpenMetrics with exemplars:\n%s", om)
	}
	if text := scrapeWith(t, h, ""); strings.Contains(text, "# EOF") || strings.Contains(text, "activity_id") {
		t.Fatalf("the text format has OpenMetrics parts:\n%s", text)
	}
}

// The collectors run in the errgroup with the rest and end with it.
func TestCollectorsRunAndStop(t *testing.T) {
	t.Parallel()
	e, _, _, _ := demoExporter(t, "--sources.refresh-interval=20ms")
	if len(e.first().Inventories()) != 2 {
		t.Fatalf("%d collectors, want sources and managed clusters", len(e.first().Inventories()))
	}
	ctx, cancel := context.WithCancel(t.Context())
	g, gctx := errgroup.WithContext(ctx)
	e.start(gctx, g, nil)
	listed := func() bool {
		mfs, err := e.registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			switch mf.GetName() {
			case "sailpoint_sources_last_success_timestamp_seconds", "sailpoint_managed_clusters_last_success_timestamp_seconds":
				n++
			}
		}
		return n == 2
	}
	deadline := time.Now().Add(10 * time.Second)
	for !listed() {
		if time.Now().After(deadline) {
			t.Fatal("the collectors did not list within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the goroutines did not end")
	}

	off, _, _, _ := demoExporter(t, "--no-collector.sources", "--no-collector.managed-clusters")
	if len(off.first().Inventories()) != 0 {
		t.Fatalf("%d collectors with both off", len(off.first().Inventories()))
	}
	mfs, err := off.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "sailpoint_source") || strings.HasPrefix(mf.GetName(), "sailpoint_managed_cluster") {
			t.Errorf("%s served with the collectors off", mf.GetName())
		}
	}
}

// first is the exporter's first tenant: the only one of a command line.
func (e *exporter) first() *tenant.Tenant { return e.tenants.Tenants()[0] }
