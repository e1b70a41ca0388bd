package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// startWithLog starts the built exporter and returns its address once it
// listens, and its log so far and to come. The check at start runs before
// the exporter listens, so whatever it says is in the log by then: the log
// is read through a pipe, so "Listening on", which the exporter writes once
// it listens, is waited for too (a connection can be accepted before the
// copy of the lines before it reaches the buffer, on a loaded machine).
func startWithLog(ctx context.Context, t *testing.T, env []string, args ...string) (addr string, logs *lockedBuffer, took time.Duration) {
	t.Helper()
	bin := buildExporter(ctx, t)
	addr = freeAddr(ctx, t)
	cmd := exec.CommandContext(ctx, bin, append(args, "--web.listen-address="+addr)...)
	cmd.Env = env
	logs = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	start := time.Now()
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
	for ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			took := time.Since(start)
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if strings.Contains(logs.String(), "Listening on") {
					return addr, logs, took
				}
			}
			t.Fatalf("the exporter listens on %s but its log does not say so:\n%s", addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the exporter did not listen on %s:\n%s", addr, logs.String())
	return "", nil, 0
}

// Before it serves, the exporter asks ISC once for a token and the smallest
// page, and says exactly what is wrong in one line; from its first scrape
// on, sailpoint_up is 0, not absent.
func TestCheckAtStartSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the built exporter; run it without -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tenant := simtenant.New(simtenant.Config{Seed: 81, RateLimit: -1, Clients: map[string]string{"check-client": "check-secret"}})
	tenant.SeedHistory(50, time.Hour)
	tenantURL, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	closed := freeAddr(ctx, t) // nothing listens there
	good := []string{"SAIL_CLIENT_SECRET=check-secret"}
	for _, tc := range []struct {
		name    string
		env     []string
		args    []string
		setup   func()
		says    []string
		upIsOff bool
	}{
		{name: "TLS to a plain HTTP port", env: good, args: []string{"--isc.url=https://" + strings.TrimPrefix(tenantURL, "http://")},
			says: []string{"problem=tls", "does not speak TLS on that port"}, upIsOff: true},
		{name: "a name that does not resolve", env: good, args: []string{"--isc.url=https://sailpoint-exporter-check.invalid"},
			says: []string{"problem=dns", "sailpoint-exporter-check.invalid does not resolve"}, upIsOff: true},
		{name: "nothing listens", env: good, args: []string{"--isc.url=http://" + closed},
			says: []string{"problem=refused", "refused the connection"}, upIsOff: true},
		{name: "wrong secret", env: []string{"SAIL_CLIENT_SECRET=not-the-secret"}, args: []string{"--isc.url=" + tenantURL},
			says: []string{"problem=credentials", "endpoint=token", "ISC refused the client id and secret (HTTP 401)", "SAIL_CLIENT_SECRET"}, upIsOff: true},
		{name: "scope missing", env: good, args: []string{"--isc.url=" + tenantURL}, setup: func() { tenant.Deny("list", http.StatusForbidden) },
			says: []string{"problem=forbidden", "HTTP 403", "sp:scopes:all"}, upIsOff: true},
		{name: "a path ISC does not have", env: good, args: []string{"--isc.url=" + tenantURL, "--isc.activities-path=/v3/account-activitiez"},
			says: []string{"problem=not-found", "ISC has no /v3/account-activitiez (HTTP 404)", "/account-activities/v1, /v3/account-activities"}, upIsOff: true},
		{name: "rate limited", env: good, args: []string{"--isc.url=" + tenantURL}, setup: func() { simtest.Faults(tenant).RateLimitNext(1, time.Second) },
			says: []string{"level=WARN", "problem=rate-limited", "HTTP 429"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
				defer tenant.Deny("list", 0)
			}
			args := append([]string{"--isc.client-id=check-client", "--no-collector.sources", "--no-collector.managed-clusters",
				"--aggregations.refresh-interval=0"}, tc.args...)
			addr, logs, took := startWithLog(ctx, t, tc.env, args...)
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "check at start") {
					if line != "" {
						t.Fatalf("more than one line:\n%s", logs.String())
					}
					line = l
				}
			}
			for _, w := range tc.says {
				if !strings.Contains(line, w) {
					t.Errorf("the line lacks %q: %q", w, line)
				}
			}
			s, err := scrapeSeries(ctx, "http://"+addr+"/metrics")
			if err != nil {
				t.Fatal(err)
			}
			up, ok := s[seriesKey("sailpoint_up", nil)]
			if !ok || tc.upIsOff && up != 0 {
				t.Errorf("first scrape: sailpoint_up %v (served %v), want 0", up, ok)
			}
			t.Logf("%-28s said before serving, %v after start", tc.name, took.Round(10*time.Millisecond))
		})
	}
}

// A second exporter on the state file of a running one refuses to start,
// naming the file and the holder; the first one's writes go on.
func TestOneExporterPerStateFile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the built exporter; run it without -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	statePath := filepath.Join(t.TempDir(), "state")
	args := []string{"--demo", "--state.file=" + statePath, "--activities.refresh-interval=200ms"}
	addr, _, _ := startWithLog(ctx, t, nil, args...)
	written := func() float64 {
		s, err := scrapeSeries(ctx, "http://"+addr+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if f := s[seriesKey("sailpoint_state_writes_total", map[string]string{"result": "failure"})]; f != 0 {
			t.Fatalf("the first exporter's writes failed %v times", f)
		}
		return s[seriesKey("sailpoint_state_writes_total", map[string]string{"result": "success"})]
	}
	waitSeries(ctx, t, "http://"+addr+"/metrics", func(s map[string]float64) bool {
		return s[seriesKey("sailpoint_state_writes_total", map[string]string{"result": "success"})] > 0
	})
	before := written()

	second := exec.CommandContext(ctx, buildExporter(ctx, t), append(args, "--web.listen-address="+freeAddr(ctx, t))...)
	out, err := second.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("the second exporter: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, statePath) || !strings.Contains(text, "in use by another exporter process") || !strings.Contains(text, "held by pid ") ||
		!strings.Contains(text, "run one exporter per state file") || strings.Count(strings.TrimSpace(text), "level=ERROR") != 1 {
		t.Fatalf("the second exporter said:\n%s", text)
	}
	waitSeries(ctx, t, "http://"+addr+"/metrics", func(s map[string]float64) bool {
		return s[seriesKey("sailpoint_state_writes_total", map[string]string{"result": "success"})] > before+2
	})
	written()
}

// A state volume full from the start: ISC is read, nothing can be persisted,
// so nothing is published. sailpoint_refresh_held_back says it and the last
// success timestamp never appears, which is what the staleness alert reads.
// The volume is a 64 KiB tmpfs, filled, in a mount namespace of the test's
// own (unshare): a real ENOSPC, no root needed where user namespaces are.
func TestFullStateVolume(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the built exporter; run it without -short")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) for a tmpfs of the test's own")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	volume := filepath.Join(dir, "volume")
	if err := os.Mkdir(volume, 0o700); err != nil {
		t.Fatal(err)
	}
	probe := exec.CommandContext(ctx, "unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs "+volume)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("this machine allows no mount namespace of the test's own: %v %s", err, out)
	}
	bin := buildExporter(ctx, t)
	addr := freeAddr(ctx, t)
	script := fmt.Sprintf("mount -t tmpfs -o size=64k tmpfs %[1]s && (dd if=/dev/zero of=%[1]s/filler bs=4k 2>/dev/null; true) && exec %[2]s --demo --state.file=%[1]s/state --activities.refresh-interval=1s --web.listen-address=%[3]s",
		volume, bin, addr)
	cmd := exec.CommandContext(ctx, "unshare", "-rm", "sh", "-c", script)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr + "/metrics"
	var s map[string]float64
	waitSeries(ctx, t, url, func(got map[string]float64) bool {
		s = got
		return got[seriesKey("sailpoint_refresh_held_back", nil)] == 1 && got[seriesKey("sailpoint_state_writes_total", map[string]string{"result": "failure"})] >= 3
	})
	_, success := s[seriesKey("sailpoint_last_refresh_success_timestamp_seconds", nil)]
	if s[seriesKey("sailpoint_refresh_held_back", nil)] != 1 || success || s[seriesKey("sailpoint_up", nil)] != 1 {
		t.Fatalf("held back %v, last success served %v, up %v; want 1, false, 1:\n%s", s[seriesKey("sailpoint_refresh_held_back", nil)], success, s[seriesKey("sailpoint_up", nil)], logs.String())
	}
	for k := range s {
		if strings.HasPrefix(k, "sailpoint_account_activities_completed_total") {
			t.Fatalf("%s served although nothing could be persisted", k)
		}
	}
	if !strings.Contains(logs.String(), "no space left on device") || strings.Count(logs.String(), "cannot write the state file: ") != 1 {
		t.Fatalf("the full volume was not said once:\n%s", logs.String())
	}
}

// An outgoing proxy from the environment carries every request, token
// included (HTTPS_PROXY), and NO_PROXY takes a host out of it.
func TestThroughAnOutgoingProxy(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the built exporter; run it without -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tenant := simtenant.New(simtenant.Config{Seed: 82, RateLimit: -1, Clients: map[string]string{"proxy-client": "proxy-secret"}})
	tenant.SeedHistory(100, time.Hour)
	tenantURL, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	// The tenant behind TLS for a name no resolver knows: only the proxy
	// can reach it.
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "tenant.invalid")
	target, _ := url.Parse(tenantURL)
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	front.StartTLS()
	t.Cleanup(front.Close)
	frontAddr := strings.TrimPrefix(front.URL, "https://")

	var connects atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "tenant.invalid:443" {
			http.Error(w, "only CONNECT tenant.invalid:443", http.StatusForbidden)
			return
		}
		connects.Add(1)
		up, err := net.Dial("tcp", frontAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			_ = up.Close()
			return
		}
		go func() { _, _ = io.Copy(up, buf); _ = up.Close() }()
		_, _ = io.Copy(conn, up)
		_ = conn.Close()
	}))
	t.Cleanup(proxy.Close)

	env := []string{"SAIL_CLIENT_SECRET=proxy-secret", "HTTPS_PROXY=" + proxy.URL, "SSL_CERT_FILE=" + certFile}
	args := []string{"--isc.url=https://tenant.invalid", "--isc.client-id=proxy-client", "--no-collector.sources", "--no-collector.managed-clusters", "--aggregations.refresh-interval=0"}
	addr, logs, _ := startWithLog(ctx, t, env, args...)
	waitSeries(ctx, t, "http://"+addr+"/metrics", func(s map[string]float64) bool {
		return s[seriesKey("sailpoint_up", nil)] == 1 && s[seriesKey("sailpoint_tracked_activities", nil)] == 100
	})
	if connects.Load() == 0 || strings.Contains(logs.String(), "check at start") {
		t.Fatalf("%d CONNECTs through the proxy; log:\n%s", connects.Load(), logs.String())
	}

	// NO_PROXY: the exporter goes direct, and the name does not resolve.
	_, logs, _ = startWithLog(ctx, t, append(env, "NO_PROXY=tenant.invalid"), args...)
	if !strings.Contains(logs.String(), "problem=dns") {
		t.Fatalf("with NO_PROXY the exporter should go direct and fail to resolve:\n%s", logs.String())
	}
}
