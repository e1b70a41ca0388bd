package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// BenchmarkTwentyTenantsOnTheBinary runs the built exporter with twenty
// tenants, each with 10,000 activities in its window and two days of
// aggregations, at the default rate limit (5 requests/s per tenant) and a
// 10 s refresh interval, every tenant changing every second, and measures:
// how long until every tenant was read in full, the resident memory, the
// time and size of /metrics over real HTTP, and each tenant's refresh lag
// (how old its last successful refresh is when looked at, every second for
// a minute). Run it with -benchtime 1x: one run is a whole scenario.
func BenchmarkTwentyTenantsOnTheBinary(b *testing.B) {
	const (
		tenants    = 20
		activities = 10_000
		interval   = 10 * time.Second
		steady     = time.Minute
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := b.TempDir()
	bin := filepath.Join(dir, "sailpoint_exporter")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var sims []*simtenant.Tenant
	config := fmt.Sprintf("defaults:\n  activities.refresh-interval: %s\n  sources.refresh-interval: 1m\n  managed-clusters.refresh-interval: 1m\n  aggregations.refresh-interval: 1m\ntenants:\n", interval)
	for i := range tenants {
		sim := simtest.New(simtenant.Config{Seed: int64(500 + i), RateLimit: -1, Clients: map[string]string{"bench-client": "bench-secret"}})
		sim.SeedHistory(activities, 20*time.Hour)
		sim.SeedTaskHistory(48 * time.Hour)
		url, err := sim.Start()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sim.Close() })
		sims = append(sims, sim)
		config += fmt.Sprintf("  - name: customer-%02d\n    url: %s\n    client_id: bench-client\n    client_secret_env: SAIL_BENCH_SECRET\n    state_file: %s\n",
			i+1, url, filepath.Join(dir, fmt.Sprintf("customer-%02d.state", i+1)))
	}
	path := filepath.Join(dir, "tenants.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		b.Fatal(err)
	}

	for b.Loop() {
		addr := benchFreeAddr(b)
		cmd := exec.CommandContext(ctx, bin, "--config.file="+path, "--web.listen-address="+addr)
		cmd.Env = []string{"SAIL_BENCH_SECRET=bench-secret"}
		logs := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		metrics := "http://" + addr + "/metrics"
		ready := func() bool {
			resp, err := http.Get("http://" + addr + "/-/ready")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		for !ready() {
			if ctx.Err() != nil {
				b.Fatalf("never ready:\n%s", tail([]byte(logs.String()), 4000))
			}
			time.Sleep(50 * time.Millisecond)
		}
		primed := time.Since(start)

		stream, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, sim := range sims {
			wg.Go(func() {
				for stream.Err() == nil {
					sim.Step()
					sleep(stream, time.Second)
				}
			})
		}
		var took []time.Duration
		var size, series int
		var rss float64
		lag := map[string]time.Duration{}
		end := time.Now().Add(steady)
		for time.Now().Before(end) {
			t0 := time.Now()
			body, err := httpGet(ctx, metrics)
			took = append(took, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			s, err := parseSeries(body)
			if err != nil {
				b.Fatal(err)
			}
			size, series = len(body), strings.Count(string(body), "\nsailpoint_")
			rss = max(rss, s[seriesKey("process_resident_memory_bytes", nil)])
			now := float64(time.Now().UnixMilli()) / 1000
			for i := range tenants {
				name := fmt.Sprintf("customer-%02d", i+1)
				last := s[seriesKey("sailpoint_last_refresh_success_timestamp_seconds", map[string]string{"tenant": name})]
				lag[name] = max(lag[name], time.Duration((now-last)*float64(time.Second)))
			}
			sleep(ctx, time.Second)
		}
		stop()
		wg.Wait()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		slices.Sort(took)
		lags := make([]time.Duration, 0, len(lag))
		for _, l := range lag {
			lags = append(lags, l)
		}
		slices.Sort(lags)
		b.ReportMetric(primed.Seconds(), "s_to_ready")
		b.ReportMetric(rss/1e6, "MB_rss")
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms_metrics_p50")
		b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "ms_metrics_max")
		b.ReportMetric(float64(size), "bytes_metrics")
		b.ReportMetric(lags[len(lags)/2].Seconds(), "s_lag_median_tenant")
		b.ReportMetric(lags[len(lags)-1].Seconds(), "s_lag_worst_tenant")
		b.ReportMetric(float64(series), "series")
		if strings.Contains(logs.String(), "level=ERROR") {
			b.Errorf("errors logged:\n%s", tail([]byte(logs.String()), 4000))
		}
	}
}

func benchFreeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
