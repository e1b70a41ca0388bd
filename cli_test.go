package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// asMain, set to 1 in the environment of this test binary, makes it the
// exporter: TestMain runs the command's run with the arguments instead of
// the tests. The tests of the command line start the exporter that way, a
// process of its own with its own exit code, without linking it again for
// every run of the tests (a go build of the command takes seconds).
const asMain = "SAILPOINT_EXPORTER_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// exporterCommand is the exporter, this test binary run as the command,
// with args and no environment but env.
func exporterCommand(ctx context.Context, t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = append([]string{asMain + "=1"}, env...)
	return cmd
}

// runExporter starts the exporter with args and env (nothing inherited but
// PATH and HOME) and returns its exit code and output once it ends.
func runExporter(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exporterCommand(ctx, t, append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...), args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return code, string(out)
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     []string
	}{
		{name: "nothing set", wantCode: 1, want: []string{"set --isc.url or SAIL_BASE_URL"}},
		{name: "no secret", env: []string{"SAIL_BASE_URL=https://acme.api.identitynow.com", "SAIL_CLIENT_ID=x"}, wantCode: 1,
			want: []string{"set SAIL_CLIENT_SECRET or --isc.client-secret-file"}},
		{name: "plain http", args: []string{"--isc.url=http://acme.api.identitynow.com", "--isc.client-id=x"}, wantCode: 1, want: []string{"use https"}},
		{name: "demo with a tenant", env: []string{"SAIL_BASE_URL=https://acme.api.identitynow.com"}, args: []string{"--demo"}, wantCode: 1, want: []string{"--demo runs a simulated tenant"}},
		{name: "help", args: []string{"--help"}, want: []string{
			"--isc.url", "SAIL_BASE_URL", "--isc.client-id", "--isc.client-secret-file", "SAIL_CLIENT_SECRET", "--isc.token-url",
			"--isc.activities-path", "--isc.requests-per-second", "--isc.timeout", "--activities.lookback",
			"--activities.refresh-interval", "--activities.page-size", "--activities.max-types", "--sources.max", "SAIL_SOURCES_MAX",
			"--[no-]collector.sources", "--[no-]collector.managed-clusters", "--sources.refresh-interval", "SAIL_SOURCES_REFRESH_INTERVAL",
			"--managed-clusters.refresh-interval", "SAIL_MANAGED_CLUSTERS_REFRESH_INTERVAL",
			"demo", "--web.listen-address", "--web.config.file", "--web.telemetry-path", "--log.level", "--log.format", "version",
		}},
		{name: "version", args: []string{"--version"}, want: []string{"sailpoint_exporter, version"}},
		{name: "user info in the URL", args: []string{"--isc.url=https://id:secret@acme.api.identitynow.com", "--isc.client-id=x"}, wantCode: 1,
			want: []string{"--isc.url must not hold a user or password", "use https://acme.api.identitynow.com"}},
		{name: "a query in the URL", args: []string{"--isc.url=https://acme.api.identitynow.com/?tenant=acme", "--isc.client-id=x"}, wantCode: 1,
			want: []string{"--isc.url must not have a query (?tenant=acme)"}},
		{name: "a fragment in the URL", args: []string{"--isc.url=https://acme.api.identitynow.com#v3", "--isc.client-id=x"}, wantCode: 1,
			want: []string{"--isc.url must not have a fragment (#v3)"}},
		{name: "an unknown API version", args: []string{"--isc.url=https://acme.api.identitynow.com", "--isc.client-id=x", "--isc.api-version=v4"}, wantCode: 1,
			want: []string{"--isc.api-version: unknown API version \"v4\": one of v1, v3, v2024, v2025, v2026, beta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runExporter(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d:\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.wantCode != 0 && strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Fatalf("a usage error should be one line:\n%s", out)
			}
		})
	}
}

// The client secret reaches neither the log, at debug level, nor /metrics,
// nor the landing page, even when ISC refuses it.
func TestSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	const secret = "Sup3r-s3cret-V4lue"
	tenant := simtest.New(simtenant.Config{Clients: map[string]string{"leak-test": "another-secret"}})
	tenantURL, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tenant.Close() }()

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exporterCommand(ctx, t, []string{"SAIL_CLIENT_SECRET=" + secret}, "--isc.url="+tenantURL, "--isc.client-id=leak-test", "--log.level=debug",
		"--web.listen-address="+addr, "--activities.refresh-interval=1s")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var pages []string
	deadline := time.Now().Add(15 * time.Second)
	refusals := regexp.MustCompile(`sailpoint_api_requests_total\{code="401",endpoint="token"\} ([0-9]+)`)
	refused := func() int {
		m := refusals.FindStringSubmatch(strings.Join(pages, ""))
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	// Three refused refreshes, so that "logged once" means something.
	for time.Now().Before(deadline) && refused() < 3 {
		time.Sleep(200 * time.Millisecond)
		pages = pages[:0]
		for _, path := range []string{"/metrics", "/"} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			pages = append(pages, string(body))
		}
	}
	all := strings.Join(pages, "")
	if !strings.Contains(all, "sailpoint_up 0") || !strings.Contains(all, `code="401",endpoint="token"`) {
		t.Fatalf("the refused token never showed in /metrics:\n%s\nlogs:\n%s", all, logs.String())
	}
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	// Said once, with what to check, however many refreshes failed.
	if n := strings.Count(logs.String(), "ISC refused the exporter's credentials"); n != 1 {
		t.Fatalf("the refused credentials were logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(all+logs.String(), secret) {
		t.Fatalf("the client secret leaked:\n%s\n%s", logs.String(), all)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// A state file whose directory cannot be written stops the exporter at once,
// with one line that says why, before it sends anything to ISC.
func TestUnwritableStateDirectoryRefusesToStart(t *testing.T) {
	t.Parallel()
	code, out := runExporter(t, []string{"SAIL_CLIENT_SECRET=x"},
		"--isc.url=http://127.0.0.1:1", "--isc.client-id=x", "--state.file=/proc/sailpoint/state", "--web.listen-address=127.0.0.1:0")
	if code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, out)
	}
	var errs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "the state file's directory /proc/sailpoint cannot be written") {
		t.Fatalf("want one error line about the state file's directory:\n%s", out)
	}
}

// Settings that work but not as given are said once at start: a lookback
// beyond what ISC keeps is capped, a URL path is kept as a prefix.
func TestSettingsSaidAtStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exporterCommand(ctx, t, []string{"SAIL_CLIENT_SECRET=x"}, "--isc.url=http://127.0.0.1:1/prefix", "--isc.client-id=x", "--activities.lookback=87600h",
		"--aggregations.lookback=8760h", "--web.listen-address=127.0.0.1:0", "--no-collector.sources", "--no-collector.managed-clusters")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := []string{
		`--activities.lookback=87600h0m0s is beyond what ISC keeps of account activities (60 days): using 1440h0m0s`,
		`--aggregations.lookback=8760h0m0s is beyond what ISC keeps of task status (90 days): using 2160h0m0s`,
		`--isc.url has a path (/prefix): it is kept as a prefix of every API path`,
	}
	for !strings.Contains(logs.String(), "check at start") && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	for _, w := range want {
		if n := strings.Count(logs.String(), w); n != 1 {
			t.Errorf("said %d times, want once: %s\n%s", n, w, logs.String())
		}
	}
}
