package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// The settings of TestOneTenantNeverHarmsAnother: both tenants refresh
// every tenantInterval; the healthy one gives ISC tenantTimeout per request,
// the broken one brokenTimeout, so that a tenant made to wait for the
// broken one would wait seven times as long as its own refreshes take to
// come round: told apart from a busy machine by a wide margin, not by a
// bound on speed.
const (
	tenantInterval = 3 * time.Second
	tenantTimeout  = 3 * time.Second
	brokenTimeout  = 20 * time.Second
	tenantSecret   = "tenant-secret-never-logged"
)

// forTenant are the series of one tenant, keyed without their tenant label
// (as the ground truth keys them).
func forTenant(series map[string]float64, name string) map[string]float64 {
	label := fmt.Sprintf("tenant=%q", name)
	out := map[string]float64{}
	for k, v := range series {
		if !strings.Contains(k, label) {
			continue
		}
		k = strings.NewReplacer(","+label, "", label+",", "", label, "").Replace(k)
		out[k] = v
	}
	return out
}

// twoTenants is one exporter watching a healthy tenant and one that breaks.
type twoTenants struct {
	healthy, broken *simtenant.Tenant
	proxy           *faultProxy // between the exporter and the broken tenant
	url             string      // of /metrics
	logs            *lockedBuffer
}

// startTwoTenants starts two simulated tenants, the broken one behind a
// fault proxy, and one exporter watching both from a configuration file;
// the broken tenant's secret is wrong when wrongSecret.
func startTwoTenants(ctx context.Context, t *testing.T, seed int64, wrongSecret bool) *twoTenants {
	t.Helper()
	r := &twoTenants{}
	var urls []string
	for i := range 2 {
		sim := simtest.New(simtenant.Config{Seed: seed + int64(i), RateLimit: -1, Clients: map[string]string{"tenant-client": tenantSecret}})
		sim.SeedHistory(600, 2*time.Hour)
		u, err := sim.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		if i == 0 {
			r.healthy = sim
			urls = append(urls, u)
			continue
		}
		r.broken = sim
		r.proxy = newFaultProxy(t, strings.TrimPrefix(u, "http://"))
		urls = append(urls, "http://"+r.proxy.addr)
	}
	dir := t.TempDir()
	brokenSecret := "SAIL_HEALTHY_SECRET"
	if wrongSecret {
		brokenSecret = "SAIL_WRONG_SECRET"
	}
	config := fmt.Sprintf(`defaults:
  activities.refresh-interval: %s
  isc.timeout: %s
  collector.sources: false
  collector.managed-clusters: false
  aggregations.refresh-interval: 0
tenants:
  - name: healthy
    url: %s
    client_id: tenant-client
    client_secret_env: SAIL_HEALTHY_SECRET
    state_file: %s
  - name: broken
    url: %s
    client_id: tenant-client
    client_secret_env: %s
    state_file: %s
    isc.timeout: %s
`, tenantInterval, tenantTimeout, urls[0], filepath.Join(dir, "healthy.state"), urls[1], brokenSecret, filepath.Join(dir, "broken.state"), brokenTimeout)
	path := filepath.Join(dir, "tenants.yml")
	writeFile(t, path, config)
	addr, logs, _ := startWithLog(ctx, t, []string{"SAIL_HEALTHY_SECRET=" + tenantSecret, "SAIL_WRONG_SECRET=not-the-secret"}, "--config.file="+path)
	r.url, r.logs = "http://"+addr+"/metrics", logs
	return r
}

// A tenant in an outage, answering 401, sending garbage or answering
// slowly delays neither the other tenant's refreshes nor any scrape: the
// healthy tenant's last success never stands still for half the broken
// tenant's timeout (a refresh that waited on one of its requests would
// stand still for all of it), no scrape takes that long either, the healthy
// tenant's counters equal its ground truth, and the broken tenant's
// sailpoint_up goes to 0 and stays there. How long the healthy tenant's
// successes are apart, how long a scrape takes and when the broken tenant
// is said to be down are figures, logged: on a busy machine they grow.
func TestOneTenantNeverHarmsAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built exporter with two tenants, one broken, for half a minute each way")
	}
	t.Parallel()
	tests := []struct {
		name  string
		wrong bool // the broken tenant's secret is wrong from the start
		// breakIt breaks the tenant once both were read (nil: broken from
		// the start).
		breakIt func(r *twoTenants)
	}{
		{name: "outage", breakIt: func(r *twoTenants) { r.proxy.set(modeBlackhole) }},
		{name: "401", wrong: true},
		{name: "garbage", breakIt: func(r *twoTenants) { simtest.Faults(r.broken).MalformNext(100_000) }},
		{name: "slow", breakIt: func(r *twoTenants) { simtest.Faults(r.broken).SlowNext(100_000, 4*brokenTimeout) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			budget := 3 * time.Minute
			if race.Enabled {
				budget = 6 * time.Minute
			}
			ctx, cancel := context.WithTimeout(t.Context(), budget)
			defer cancel()
			r := startTwoTenants(ctx, t, int64(100+10*i), tt.wrong)
			mark := simtest.Truth(r.healthy).Mark()
			waitSeries(ctx, t, r.url, func(s map[string]float64) bool {
				return s[`sailpoint_up{tenant="healthy"}`] == 1 && (tt.wrong || s[`sailpoint_up{tenant="broken"}`] == 1)
			})

			// The healthy tenant keeps working from now on.
			stream, stopStream := context.WithCancel(ctx)
			var streaming sync.WaitGroup
			streaming.Go(func() {
				for stream.Err() == nil {
					r.healthy.Step()
					sleep(stream, 200*time.Millisecond)
				}
			})
			broke := time.Now()
			if tt.breakIt != nil {
				tt.breakIt(r)
			}
			// Long enough for the watchdog, which says a tenant is down once
			// it has failed or stayed silent for its timeout, with room for a
			// busy machine.
			obs := observe(ctx, t, r.url, brokenTimeout+10*tenantInterval)
			stopStream()
			streaming.Wait()

			// Caught up: a refresh of the healthy tenant that began after
			// it stopped.
			stopped := time.Now()
			waitSeries(ctx, t, r.url, func(s map[string]float64) bool {
				return s[`sailpoint_last_refresh_success_timestamp_seconds{tenant="healthy"}`] > float64(stopped.Add(time.Second).UnixMilli())/1000
			})
			got, err := scrapeSeries(ctx, r.url)
			if err != nil {
				t.Fatal(err)
			}
			truth := truthSeries(r.healthy, mark, time.Time{}, durationBuckets)
			healthy := forTenant(got, "healthy")
			compared, completions := 0, 0.0
			for k, v := range truth {
				if !strings.HasPrefix(k, "sailpoint_account_activities_") && !strings.HasPrefix(k, "sailpoint_account_activity_") {
					continue
				}
				compared++
				if strings.HasPrefix(k, "sailpoint_account_activities_completed_total") {
					completions += v
				}
				if g := healthy[k]; (strings.Contains(k, "_sum{") && abs(g-v) > 1e-6*max(1, v)) || (!strings.Contains(k, "_sum{") && g != v) {
					t.Errorf("healthy tenant: %s = %v, ground truth %v", k, g, v)
				}
			}
			if completions == 0 {
				t.Error("the healthy tenant completed nothing: the comparison means nothing")
			}

			downAfter := obs.brokenDown.Sub(broke)
			t.Logf("%-7s healthy: refreshes at most %v apart, %v completions in %d series exact; /metrics at most %v; broken: sailpoint_up 0 after %v",
				tt.name, obs.maxGap.Round(time.Millisecond), completions, compared, obs.maxLatency.Round(time.Millisecond), downAfter.Round(time.Millisecond))
			// Half the broken tenant's timeout tells waiting on it from a busy
			// machine: a wait lasts the whole timeout, the refreshes come
			// round every 3 s.
			if limit := brokenTimeout / 2; obs.maxGap > limit {
				t.Errorf("the healthy tenant's last success stood still for %v: it waits for the broken tenant, whose requests last %v", obs.maxGap, brokenTimeout)
			}
			if obs.brokenDown.IsZero() {
				t.Error("the broken tenant's sailpoint_up never went to 0")
			}
			if limit := brokenTimeout / 2; obs.maxLatency > limit {
				t.Errorf("/metrics took %v: it waits for the broken tenant, whose requests last %v", obs.maxLatency, brokenTimeout)
			}
			if obs.brokenUpAgain {
				t.Error("the broken tenant's sailpoint_up went back to 1 while it was broken")
			}
		})
	}
}

// observation is what scraping every 100 ms for a while saw.
type observation struct {
	maxGap        time.Duration // longest time the healthy tenant's last success stood still
	maxLatency    time.Duration // of /metrics
	brokenDown    time.Time     // when the broken tenant's sailpoint_up was first seen 0
	brokenUpAgain bool          // 1 again after that
}

func observe(ctx context.Context, t *testing.T, url string, d time.Duration) observation {
	t.Helper()
	var o observation
	end := time.Now().Add(d)
	var last float64
	lastChange := time.Now()
	for time.Now().Before(end) && ctx.Err() == nil {
		start := time.Now()
		s, err := scrapeSeries(ctx, url)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		o.maxLatency = max(o.maxLatency, took)
		if v := s[`sailpoint_last_refresh_success_timestamp_seconds{tenant="healthy"}`]; v != last {
			last, lastChange = v, time.Now()
		}
		o.maxGap = max(o.maxGap, time.Since(lastChange))
		up, ok := s[`sailpoint_up{tenant="broken"}`]
		switch {
		case ok && up == 0 && o.brokenDown.IsZero():
			o.brokenDown = time.Now()
		case up == 1 && !o.brokenDown.IsZero():
			o.brokenUpAgain = true
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return o
}

// Reload without a restart, on SIGHUP and POST /-/reload: a tenant added
// starts, one removed stops and its series go, the unchanged one runs on
// untouched (its counters never reset, the process's pid is the same); a
// bad file is refused, the running tenants go on, and
// sailpoint_config_last_reload_successful says 0 until a good one.
func TestReloadAddsAndRemovesTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built exporter")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var urls []string
	var sims []*simtenant.Tenant
	for i := range 3 {
		sim := simtest.New(simtenant.Config{Seed: int64(200 + i), RateLimit: -1, Clients: map[string]string{"tenant-client": tenantSecret}})
		sim.SeedHistory(300, time.Hour)
		u, err := sim.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		urls, sims = append(urls, u), append(sims, sim)
	}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	writeFile(t, secretFile, tenantSecret+"\n")
	if err := os.Chmod(secretFile, 0o600); err != nil {
		t.Fatal(err)
	}
	entry := func(name, url string) string {
		return fmt.Sprintf("  - name: %s\n    url: %s\n    client_id: tenant-client\n    client_secret_file: %s\n    state_file: %s\n",
			name, url, secretFile, filepath.Join(dir, name+".state"))
	}
	head := "defaults:\n  activities.refresh-interval: 1s\n  collector.sources: false\n  collector.managed-clusters: false\n  aggregations.refresh-interval: 0\ntenants:\n"
	path := filepath.Join(dir, "tenants.yml")
	writeFile(t, path, head+entry("sandbox", urls[0])+entry("production", urls[1]))

	bin := buildExporter(ctx, t)
	addr := freeAddr(ctx, t)
	cmd := exec.CommandContext(ctx, bin, "--config.file="+path, "--web.listen-address="+addr)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("exporter log:\n%s", tail([]byte(logs.String()), 6000))
		}
	})
	metrics := "http://" + addr + "/metrics"
	waitSeries(ctx, t, metrics, func(s map[string]float64) bool {
		return s[`sailpoint_up{tenant="sandbox"}`] == 1 && s[`sailpoint_up{tenant="production"}`] == 1 && s[`sailpoint_config_last_reload_successful{}`] == 1
	})
	for range 30 {
		sims[0].Step()
	}
	var counted float64
	waitSeries(ctx, t, metrics, func(s map[string]float64) bool {
		counted = completedOf(s, "sandbox")
		return counted > 0
	})

	// SIGHUP: production goes, staging comes, sandbox runs on.
	writeFile(t, path, head+entry("sandbox", urls[0])+entry("staging", urls[2]))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSeries(ctx, t, metrics, func(s map[string]float64) bool {
		_, production := s[`sailpoint_up{tenant="production"}`]
		return s[`sailpoint_up{tenant="staging"}`] == 1 && !production
	})
	s, err := scrapeSeries(ctx, metrics)
	if err != nil {
		t.Fatal(err)
	}
	for k := range s {
		if strings.Contains(k, `tenant="production"`) {
			t.Errorf("a series of the removed tenant: %s", k)
		}
	}
	if got := completedOf(s, "sandbox"); got < counted {
		t.Errorf("sandbox's completions went from %v to %v: the reload reset an unchanged tenant", counted, got)
	}
	if strings.Count(logs.String(), `msg="primed from ISC" tenant=sandbox`) != 1 {
		t.Errorf("sandbox primed again: it was restarted:\n%s", logs.String())
	}

	// A bad file: refused, everything runs on, the metric says 0.
	writeFile(t, path, head+entry("sandbox", urls[0])+"  - name: Production\n    url: "+urls[1]+"\n")
	code, body := postReload(t, addr)
	if code != http.StatusInternalServerError || !strings.Contains(body, `tenants.yml:12: tenants[1] (Production).name: "Production" is not a tenant name`) {
		t.Errorf("POST /-/reload of a bad file: %d %q", code, body)
	}
	s, err = scrapeSeries(ctx, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if s[`sailpoint_config_last_reload_successful{}`] != 0 || s[`sailpoint_up{tenant="staging"}`] != 1 || s[`sailpoint_up{tenant="sandbox"}`] != 1 {
		t.Errorf("after a refused reload: successful %v, staging up %v, sandbox up %v",
			s[`sailpoint_config_last_reload_successful{}`], s[`sailpoint_up{tenant="staging"}`], s[`sailpoint_up{tenant="sandbox"}`])
	}
	if !strings.Contains(logs.String(), `level=ERROR`) || !strings.Contains(logs.String(), "the configuration was not reloaded: the running one stays") {
		t.Errorf("no error line for the refused reload")
	}

	// The file mended: POST reloads it, 200.
	writeFile(t, path, head+entry("sandbox", urls[0])+entry("staging", urls[2])+entry("production", urls[1]))
	before := time.Now()
	if code, body := postReload(t, addr); code != http.StatusOK || !strings.Contains(body, "added [production]") {
		t.Errorf("POST /-/reload: %d %q", code, body)
	}
	waitSeries(ctx, t, metrics, func(s map[string]float64) bool {
		return s[`sailpoint_config_last_reload_successful{}`] == 1 &&
			s[`sailpoint_config_last_reload_success_timestamp_seconds{}`] >= float64(before.Unix()) &&
			s[`sailpoint_up{tenant="production"}`] == 1
	})
	if strings.Contains(logs.String(), tenantSecret) {
		t.Error("the secret is in the log")
	}
}

// completedOf is the sum of a tenant's completed activities.
func completedOf(s map[string]float64, name string) float64 {
	sum := 0.0
	for k, v := range forTenant(s, name) {
		if strings.HasPrefix(k, "sailpoint_account_activities_completed_total{") {
			sum += v
		}
	}
	return sum
}

// postReload asks the exporter at addr to reload, and returns its answer.
func postReload(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
