package inventory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/sailpoint-exporter/sailpoint_exporter/activities"
	"github.com/sailpoint-exporter/sailpoint_exporter/apimetrics"
	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// lockedBuffer collects log lines written from several goroutines.
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

// invStack is a simulated tenant on a fake clock, the client over real HTTP
// on loopback (optionally through a rewriting proxy), and the two inventory
// collectors beside the activity Refresher in one pedantic registry.
type invStack struct {
	tenant    *simtenant.Tenant
	clock     *fakeclock.Clock
	isc       *client.Client
	sources   *Inventory
	clusters  *Inventory
	refresher *activities.Refresher
	registry  *prometheus.Registry
	logs      *lockedBuffer
}

// rewrite, when set, may replace the body of a 200 answer to path.
type rewrite struct {
	path string
	body func(n int, body []byte) []byte
}

func newInvStack(t *testing.T, max int, rw *rewrite) *invStack {
	t.Helper()
	clk := fakeclock.New(time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC))
	tenant := simtest.New(simtenant.Config{Clients: map[string]string{simClientID: simClientSecret}, Seed: 11, RateLimit: -1, Now: clk.Now})
	base, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	if rw != nil {
		target, _ := url.Parse(base)
		proxy := httputil.NewSingleHostReverseProxy(target)
		var mu sync.Mutex
		n := 0
		proxy.ModifyResponse = func(resp *http.Response) error {
			if resp.Request.URL.Path != rw.path || resp.StatusCode != http.StatusOK {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			mu.Lock()
			n++
			b = rw.body(n, b)
			mu.Unlock()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		}
		srv := httptest.NewServer(proxy)
		t.Cleanup(srv.Close)
		base = srv.URL
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewPedanticRegistry()
	isc, err := client.New(client.Config{
		BaseURL: base, ClientID: simClientID, ClientSecret: simClientSecret,
		RequestsPerSecond: 500, MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Observe: apimetrics.New(reg, nil, nil).Observe, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &invStack{tenant: tenant, clock: clk, isc: isc, registry: reg, logs: logs}
	opts := Options{Max: max, Logger: logger, Now: clk.Now}
	s.sources = NewSources(isc, opts)
	s.clusters = NewManagedClusters(isc, Options{Logger: logger, Now: clk.Now})
	s.refresher = activities.NewRefresher(isc, activities.Options{Wiring: area.Wiring{Logger: logger, Now: clk.Now}})
	reg.MustRegister(s.sources, s.clusters, s.refresher.Collector())
	return s
}

// outage steps the tenant's health schedule until one source is unhealthy:
// the first outage starts 20-40 s after the first Step.
func (s *invStack) outage(t *testing.T) simtenant.SourceState {
	t.Helper()
	s.tenant.Step()
	s.clock.Advance(41 * time.Second)
	s.tenant.Step()
	for _, src := range s.tenant.Sources() {
		if !src.Healthy {
			return src
		}
	}
	t.Fatal("no source became unhealthy")
	return simtenant.SourceState{}
}

const (
	helpSourceInfo    = "# HELP sailpoint_source_info Information about a source, value 1: its name, connector, type, whether it is authoritative and its virtual appliance cluster (cached from the last listing).\n# TYPE sailpoint_source_info gauge\n"
	helpSourceHealthy = "# HELP sailpoint_source_healthy 1 if ISC says the source is healthy, 0 if not; absent when ISC does not say (cached from the last listing).\n# TYPE sailpoint_source_healthy gauge\n"
	helpSourceStatus  = "# HELP sailpoint_source_status The source's health status as ISC states it (SOURCE_STATE_*), value 1 for the current one (cached from the last listing).\n# TYPE sailpoint_source_status gauge\n"
	helpSourceChecked = "# HELP sailpoint_source_last_health_check_timestamp_seconds When ISC last checked the source's health (its since), as a Unix time (cached from the last listing).\n# TYPE sailpoint_source_last_health_check_timestamp_seconds gauge\n"
	helpSourcesUp     = "# HELP sailpoint_sources_up 1 if the last listing of sources from ISC succeeded, 0 if it failed; the source metrics then keep their last known values.\n# TYPE sailpoint_sources_up gauge\n"
	helpSourcesLast   = "# HELP sailpoint_sources_last_success_timestamp_seconds Unix time at which sources were last listed from ISC.\n# TYPE sailpoint_sources_last_success_timestamp_seconds gauge\n"
	helpClusterInfo   = "# HELP sailpoint_managed_cluster_info Information about a managed cluster (a group of virtual appliances), value 1: its name and type (cached from the last listing).\n# TYPE sailpoint_managed_cluster_info gauge\n"
	helpClusterStatus = "# HELP sailpoint_managed_cluster_status The managed cluster's status as ISC states it (CONFIGURING, FAILED, NO_CLIENTS, NORMAL, WARNING), value 1 for the current one (cached from the last listing).\n# TYPE sailpoint_managed_cluster_status gauge\n"
	helpClusterOper   = "# HELP sailpoint_managed_cluster_operational 1 if ISC says the managed cluster is operational, 0 if not; absent when ISC does not say (cached from the last listing).\n# TYPE sailpoint_managed_cluster_operational gauge\n"
	helpClustersUp    = "# HELP sailpoint_managed_clusters_up 1 if the last listing of managed clusters from ISC succeeded, 0 if it failed; the cluster metrics then keep their last known values.\n# TYPE sailpoint_managed_clusters_up gauge\n"
	helpClustersLast  = "# HELP sailpoint_managed_clusters_last_success_timestamp_seconds Unix time at which managed clusters were last listed from ISC.\n# TYPE sailpoint_managed_clusters_last_success_timestamp_seconds gauge\n"
)

var sourceFamilies = []string{"sailpoint_source_info", "sailpoint_source_healthy", "sailpoint_source_status",
	"sailpoint_source_last_health_check_timestamp_seconds", "sailpoint_sources_up", "sailpoint_sources_last_success_timestamp_seconds"}

var clusterFamilies = []string{"sailpoint_managed_cluster_info", "sailpoint_managed_cluster_status", "sailpoint_managed_cluster_operational",
	"sailpoint_managed_clusters_up", "sailpoint_managed_clusters_last_success_timestamp_seconds"}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64) }

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wantSources is the exposition the ground truth calls for: the first max
// sources by id, with up and the last success at lastSuccess (zero: none).
func wantSources(truth []simtenant.SourceState, max int, up int, lastSuccess time.Time) string {
	slices.SortFunc(truth, func(a, b simtenant.SourceState) int { return strings.Compare(a.ID, b.ID) })
	truth = truth[:min(max, len(truth))]
	var info, healthy, status, checked strings.Builder
	for _, s := range truth {
		cluster := s.ClusterID
		if cluster == "" {
			cluster = "none"
		}
		fmt.Fprintf(&info, "sailpoint_source_info{authoritative=%q,cluster_id=%q,connector=%q,source_id=%q,source_name=%q,type=%q} 1\n",
			strconv.FormatBool(s.Authoritative), cluster, s.Connector, s.ID, s.Name, s.Type)
		fmt.Fprintf(&healthy, "sailpoint_source_healthy{source_id=%q} %d\n", s.ID, b01(s.Healthy))
		fmt.Fprintf(&status, "sailpoint_source_status{source_id=%q,status=%q} 1\n", s.ID, s.Status)
		fmt.Fprintf(&checked, "sailpoint_source_last_health_check_timestamp_seconds{source_id=%q} %s\n", s.ID, unix(s.Since))
	}
	out := helpSourceInfo + info.String() + helpSourceHealthy + healthy.String() + helpSourceStatus + status.String() +
		helpSourceChecked + checked.String() + helpSourcesUp + fmt.Sprintf("sailpoint_sources_up %d\n", up)
	if !lastSuccess.IsZero() {
		out += helpSourcesLast + "sailpoint_sources_last_success_timestamp_seconds " + unix(lastSuccess) + "\n"
	}
	if len(truth) == 0 {
		out = helpSourcesUp + fmt.Sprintf("sailpoint_sources_up %d\n", up)
	}
	return out
}

func wantClusters(truth []simtenant.ClusterState, up int, lastSuccess time.Time) string {
	slices.SortFunc(truth, func(a, b simtenant.ClusterState) int { return strings.Compare(a.ID, b.ID) })
	var info, status, oper strings.Builder
	for _, c := range truth {
		fmt.Fprintf(&info, "sailpoint_managed_cluster_info{cluster_id=%q,cluster_name=%q,type=%q} 1\n", c.ID, c.Name, c.Type)
		fmt.Fprintf(&status, "sailpoint_managed_cluster_status{cluster_id=%q,status=%q} 1\n", c.ID, c.Status)
		fmt.Fprintf(&oper, "sailpoint_managed_cluster_operational{cluster_id=%q} %d\n", c.ID, b01(c.Operational))
	}
	out := helpClustersUp + fmt.Sprintf("sailpoint_managed_clusters_up %d\n", up)
	if !lastSuccess.IsZero() {
		out += helpClustersLast + "sailpoint_managed_clusters_last_success_timestamp_seconds " + unix(lastSuccess) + "\n"
	}
	if len(truth) > 0 {
		out += helpClusterInfo + info.String() + helpClusterStatus + status.String() + helpClusterOper + oper.String()
	}
	return out
}

// contains checks that the text exposition of c has line.
func contains(t *testing.T, c prometheus.Collector, line string, names ...string) {
	t.Helper()
	b, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, names...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), line) {
		t.Errorf("no line %q in\n%s", line, b)
	}
}

func compare(t *testing.T, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestSourcesMetricsEqualGroundTruth(t *testing.T) {
	t.Parallel()
	s := newInvStack(t, 0, nil)
	// Before the first listing: down, nothing else.
	compare(t, s.sources, wantSources(nil, 0, 0, time.Time{}), sourceFamilies...)

	down := s.outage(t)
	if err := s.sources.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	listed := s.clock.Now()
	compare(t, s.sources, wantSources(s.tenant.Sources(), 256, 1, listed), sourceFamilies...)
	// One literal line, so that the test does not only agree with itself.
	contains(t, s.sources, fmt.Sprintf("sailpoint_source_healthy{source_id=%q} 0\n", down.ID), sourceFamilies...)

	// The source recovers (outages last 90-240 s): the next listing says so.
	s.clock.Advance(241 * time.Second)
	s.tenant.Step()
	s.clock.Advance(time.Second)
	if err := s.sources.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	truth := s.tenant.Sources()
	for _, src := range truth {
		if src.ID == down.ID && (!src.Healthy || src.Status != simtenant.SourceHealthy) {
			t.Fatalf("the source did not recover: %+v", src)
		}
	}
	compare(t, s.sources, wantSources(truth, 256, 1, s.clock.Now()), sourceFamilies...)

	if problems, err := testutil.CollectAndLint(s.sources); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if _, err := s.registry.Gather(); err != nil {
		t.Errorf("pedantic registry: %v", err)
	}
}

func TestManagedClustersMetricsEqualGroundTruth(t *testing.T) {
	t.Parallel()
	s := newInvStack(t, 0, nil)
	compare(t, s.clusters, wantClusters(nil, 0, time.Time{}), clusterFamilies...)
	// The first cluster warning starts 3-5 minutes after the first Step.
	s.tenant.Step()
	s.clock.Advance(5*time.Minute + time.Second)
	s.tenant.Step()
	truth := s.tenant.Clusters()
	warning := slices.IndexFunc(truth, func(c simtenant.ClusterState) bool { return c.Status == simtenant.ClusterWarning })
	if warning < 0 {
		t.Fatalf("no cluster in WARNING: %+v", truth)
	}
	if err := s.clusters.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	compare(t, s.clusters, wantClusters(truth, 1, s.clock.Now()), clusterFamilies...)
	contains(t, s.clusters, fmt.Sprintf("sailpoint_managed_cluster_status{cluster_id=%q,status=\"WARNING\"} 1\n", truth[warning].ID), clusterFamilies...)
	if problems, err := testutil.CollectAndLint(s.clusters); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// The metrics cover the first sources by id, and the cap is logged once.
func TestSourcesCap(t *testing.T) {
	t.Parallel()
	s := newInvStack(t, 3, nil)
	for range 2 {
		if err := s.sources.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	compare(t, s.sources, wantSources(s.tenant.Sources(), 3, 1, s.clock.Now()), sourceFamilies...)
	if n := strings.Count(s.logs.String(), "ISC lists more sources than --sources.max allows"); n != 1 {
		t.Errorf("the cap was logged %d times, want once:\n%s", n, s.logs.String())
	}
}

// Each failure keeps the last listing's metrics, sets the collector's own
// gauge to 0, logs one line saying what to do however often it repeats, and
// leaves the activity metrics alone; the next good listing recovers.
func TestInventoryFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		clusters bool
		fail     func(s *invStack)
		heal     func(s *invStack) // the refresh after it succeeds
		log      []string          // in the one line logged
		level    string
	}{
		{name: "sources 403", fail: func(s *invStack) { s.tenant.Deny("sources", http.StatusForbidden) },
			heal: func(s *invStack) { s.tenant.Deny("sources", 0) }, level: "ERROR",
			log: []string{"ISC refused to list sources (HTTP 403)", "idn:sources:read", "ORG_ADMIN, SOURCE_ADMIN, SOURCE_SUBADMIN or ROLE_SUBADMIN", "activity metrics are not affected", "--no-collector.sources"}},
		{name: "sources 404", fail: func(s *invStack) { s.tenant.Deny("sources", http.StatusNotFound) },
			heal: func(s *invStack) { s.tenant.Deny("sources", 0) }, level: "ERROR",
			log: []string{"ISC has no sources list at the path the exporter uses on this tenant (HTTP 404", "/v2025/sources"}},
		{name: "sources 5xx", fail: func(s *invStack) { simtest.Faults(s.tenant).FailSourcesNext(3*3, http.StatusServiceUnavailable) },
			heal: func(*invStack) {}, level: "INFO",
			log: []string{"listing sources from ISC failed", "HTTP 503"}},
		{name: "clusters 403", clusters: true, fail: func(s *invStack) { s.tenant.Deny("managed-clusters", http.StatusForbidden) },
			heal: func(s *invStack) { s.tenant.Deny("managed-clusters", 0) }, level: "ERROR",
			log: []string{"ISC refused to list managed clusters (HTTP 403)", "idn:remote-client:read", "ORG_ADMIN", "not to API clients", "--no-collector.managed-clusters"}},
		{name: "clusters 404", clusters: true, fail: func(s *invStack) { s.tenant.Deny("managed-clusters", http.StatusNotFound) },
			heal: func(s *invStack) { s.tenant.Deny("managed-clusters", 0) }, level: "ERROR",
			log: []string{"ISC has no managed clusters list at the path the exporter uses on this tenant (HTTP 404", "/v2025/managed-clusters"}},
		{name: "clusters 5xx", clusters: true, fail: func(s *invStack) { simtest.Faults(s.tenant).FailClustersNext(3*3, http.StatusInternalServerError) },
			heal: func(*invStack) {}, level: "INFO", log: []string{"listing managed clusters from ISC failed", "HTTP 500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newInvStack(t, 0, nil)
			inv, families, want := s.sources, sourceFamilies, func(up int, last time.Time) string {
				return wantSources(s.tenant.Sources(), 256, up, last)
			}
			if tc.clusters {
				inv, families, want = s.clusters, clusterFamilies, func(up int, last time.Time) string {
					return wantClusters(s.tenant.Clusters(), up, last)
				}
			}
			if err := inv.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			good := s.clock.Now()
			tc.fail(s)
			for range 3 {
				s.clock.Advance(time.Second)
				if err := inv.Refresh(t.Context()); err == nil {
					t.Fatal("the refresh succeeded")
				}
			}
			compare(t, inv, want(0, good), families...)
			var lines []string
			for _, l := range strings.Split(s.logs.String(), "\n") {
				// The tenant's fake clock is months from the host's: the
				// client says so once, which is not the failure's line.
				if strings.Contains(l, "level="+tc.level) && !strings.Contains(l, "ISC's clock and this host's differ") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d lines at %s for 3 failures, want 1:\n%s", len(lines), tc.level, s.logs.String())
			}
			for _, w := range tc.log {
				if !strings.Contains(lines[0], w) {
					t.Errorf("the line lacks %q: %s", w, lines[0])
				}
			}
			// The activities are refreshed as ever.
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatalf("activity refresh: %v", err)
			}
			compare(t, s.refresher.Collector(), "# HELP sailpoint_up 1 if the last refresh from ISC got every answer it asked for, 0 if it failed; the other metrics then keep their last known values.\n# TYPE sailpoint_up gauge\nsailpoint_up 1\n", "sailpoint_up")

			// 3 refreshes × (1 + 2 retries) answers queued for 5xx: used up.
			tc.heal(s)
			if err := inv.Refresh(t.Context()); err != nil {
				t.Fatalf("after healing: %v", err)
			}
			compare(t, inv, want(1, s.clock.Now()), families...)
			if !strings.Contains(s.logs.String(), "from ISC works again") || !strings.Contains(s.logs.String(), "failed_listings=3") {
				t.Errorf("the recovery was not logged:\n%s", s.logs.String())
			}
		})
	}
}

// A page that is not JSON, however often it comes, is a failure like any
// other: the last listing is kept, and the next good page recovers.
func TestInventoryMalformedPage(t *testing.T) {
	t.Parallel()
	var bad bool
	var mu sync.Mutex
	s := newInvStack(t, 0, &rewrite{path: "/sources/v1", body: func(_ int, b []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		if bad {
			return b[:len(b)/2]
		}
		return b
	}})
	if err := s.sources.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	good := s.clock.Now()
	mu.Lock()
	bad = true
	mu.Unlock()
	s.clock.Advance(time.Second)
	err := s.sources.Refresh(t.Context())
	if err == nil || !strings.Contains(err.Error(), "malformed JSON") {
		t.Fatalf("err = %v, want a malformed page", err)
	}
	compare(t, s.sources, wantSources(s.tenant.Sources(), 256, 0, good), sourceFamilies...)
	if !strings.Contains(s.logs.String(), "listing sources from ISC failed") {
		t.Errorf("not logged:\n%s", s.logs.String())
	}
	mu.Lock()
	bad = false
	mu.Unlock()
	if err := s.sources.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	compare(t, s.sources, wantSources(s.tenant.Sources(), 256, 1, s.clock.Now()), sourceFamilies...)
}

// What ISC may send that is still a list: long strings are cut to 128 bytes
// at a rune boundary, ids that read the same once cut are one source, empty
// strings are "none", unknown statuses are kept, and what ISC does not say
// (healthy, since, operational) is no sample rather than a guess.
func TestInventoryOddValues(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	cut := strings.Repeat("é", 64)   // 128
	id := strings.Repeat("a", 130)
	s := newInvStack(t, 0, &rewrite{path: "/sources/v1", body: func(int, []byte) []byte {
		return fmt.Appendf(nil, `[
			{"id":%q,"name":%q,"type":"","connector":null,"status":"SOURCE_STATE_QUANTUM","healthy":true,"since":"2026-03-09T07:59:00.123456789Z"},
			{"id":%q,"name":"the same id once cut"},
			{"id":"b","name":"B","status":"SOURCE_STATE_HEALTHY","cluster":{"type":"CLUSTER","id":"c1","name":"C1"},"authoritative":true}]`,
			id, long, id+"b")
	}})
	if err := s.sources.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	cutID := strings.Repeat("a", 128)
	compare(t, s.sources, helpSourceInfo+
		fmt.Sprintf("sailpoint_source_info{authoritative=\"false\",cluster_id=\"none\",connector=\"none\",source_id=%q,source_name=%q,type=\"none\"} 1\n", cutID, cut)+
		"sailpoint_source_info{authoritative=\"true\",cluster_id=\"c1\",connector=\"none\",source_id=\"b\",source_name=\"B\",type=\"none\"} 1\n"+
		helpSourceHealthy+fmt.Sprintf("sailpoint_source_healthy{source_id=%q} 1\n", cutID)+
		helpSourceStatus+fmt.Sprintf("sailpoint_source_status{source_id=%q,status=\"SOURCE_STATE_QUANTUM\"} 1\n", cutID)+
		"sailpoint_source_status{source_id=\"b\",status=\"SOURCE_STATE_HEALTHY\"} 1\n"+
		helpSourceChecked+fmt.Sprintf("sailpoint_source_last_health_check_timestamp_seconds{source_id=%q} 1.773043140123e+09\n", cutID),
		"sailpoint_source_info", "sailpoint_source_healthy", "sailpoint_source_status", "sailpoint_source_last_health_check_timestamp_seconds")
	if _, err := s.registry.Gather(); err != nil {
		t.Errorf("pedantic registry: %v", err)
	}
}

// Run lists at once and then every interval, and returns when its context
// ends.
func TestInventoryRun(t *testing.T) {
	t.Parallel()
	s := newInvStack(t, 0, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.clusters.Run(ctx, 10*time.Millisecond); close(done) }()
	listings := func() int {
		n := 0
		for _, r := range s.tenant.Requests() {
			if r.Endpoint == "managed-clusters" {
				n++
			}
		}
		return n
	}
	waitUntil(t, 10*time.Second, "three listings", func() bool { return listings() >= 3 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	compare(t, s.clusters, wantClusters(s.tenant.Clusters(), 1, s.clock.Now()), clusterFamilies...)
}

const (
	simClientID     = "inv-client"
	simClientSecret = "inv-secret"
)

// waitUntil polls cond every few milliseconds for at most d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
