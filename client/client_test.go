package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

const (
	testClientID     = "test-client"
	testClientSecret = "s3cr3t-value-never-logged"
)

type env struct {
	tenant *simtenant.Tenant
	client *Client
	logs   *bytes.Buffer
	sleeps *fakeSleeper // the client's waits
}

// newEnv starts a simulated tenant on loopback and a client for it, with
// short backoffs. The client's waits (backoffs, Retry-After) are recorded,
// not slept: see newEnvOn for a test that needs time to pass.
func newEnv(t *testing.T, tc simtenant.Config, mutate func(*Config)) *env {
	t.Helper()
	tc.Clients = map[string]string{testClientID: testClientSecret}
	tc.EdgeCases.Off = true
	if tc.RateLimit == 0 {
		tc.RateLimit = -1
	}
	tenant := simtest.New(tc)
	url, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	logs := &bytes.Buffer{}
	cfg := Config{
		BaseURL:           url,
		ClientID:          testClientID,
		ClientSecret:      testClientSecret,
		RequestsPerSecond: 1000,
		MinBackoff:        time.Millisecond,
		MaxBackoff:        5 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(&syncWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tc.Now != nil {
		c.now, c.tokens.now = tc.Now, tc.Now
	}
	sleeps := &fakeSleeper{}
	c.sleep = sleeps.sleep
	return &env{tenant: tenant, client: c, logs: logs, sleeps: sleeps}
}

// newEnvOn is newEnv with the tenant and the client on clk: the client's
// waits move clk by what they would have taken, at once.
func newEnvOn(t *testing.T, clk *fakeclock.Clock, tc simtenant.Config, mutate func(*Config)) *env {
	t.Helper()
	tc.Now = clk.Now
	e := newEnv(t, tc, mutate)
	e.sleeps.clk = clk
	return e
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// scanAll reads everything modified since from and returns the deliveries.
func (e *env) scanAll(t *testing.T, from Cursor) ([]Activity, Cursor) {
	t.Helper()
	var got []Activity
	next := from
	err := e.client.Scan(t.Context(), from, func(p Page) error {
		for _, a := range p.Activities {
			a.Items = append([]Item(nil), a.Items...)
			got = append(got, a)
		}
		next = p.Resume
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return got, next
}

// endpoints lists the endpoint and status of every request the tenant saw.
func (e *env) endpoints() []string {
	var out []string
	for _, r := range e.tenant.Requests() {
		out = append(out, fmt.Sprintf("%s %d", r.Endpoint, r.Status))
	}
	return out
}

func count(log []string, entry string) int {
	n := 0
	for _, l := range log {
		if l == entry {
			n++
		}
	}
	return n
}

func TestTokenIsReplacedBeforeItExpires(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{TokenTTL: 749 * time.Second}, nil)
	e.tenant.SeedHistory(10, time.Hour)
	from := Cursor{Modified: clk.Now().Add(-2 * time.Hour)}

	e.scanAll(t, from)
	clk.Advance(700 * time.Second) // 49 s before expiry: inside the refresh margin
	e.scanAll(t, from)
	clk.Advance(30 * time.Second)
	e.scanAll(t, from)

	log := e.endpoints()
	if got := count(log, "token 200"); got != 2 {
		t.Fatalf("token requests = %d, want 2 (one at start, one before expiry): %v", got, log)
	}
	if got := count(log, "list 401"); got != 0 {
		t.Fatalf("an expired token was sent: %v", log)
	}
}

func TestRevokedTokenIsRenewedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, nil)
	e.tenant.SeedHistory(5, time.Hour)
	from := Cursor{Modified: time.Now().Add(-2 * time.Hour)}
	e.scanAll(t, from)
	e.tenant.ExpireTokens()
	got, _ := e.scanAll(t, from)
	if len(got) != 5 {
		t.Fatalf("got %d activities after renewing the token, want 5", len(got))
	}
	want := []string{"token 200", "list 200", "list 401", "token 200", "list 200"}
	if log := e.endpoints(); fmt.Sprint(log) != fmt.Sprint(want) {
		t.Fatalf("requests = %v, want %v", log, want)
	}

	// A token refused even when fresh is an authorization error, not a loop.
	simtest.Faults(e.tenant).FailNext(2, http.StatusUnauthorized)
	err := e.client.Scan(t.Context(), from, func(Page) error { return nil })
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}

func TestWrongCredentialsFailClearlyWithoutTheSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, func(c *Config) { c.ClientSecret = "wrong-" + testClientSecret })
	err := e.client.Scan(t.Context(), Cursor{Modified: time.Now()}, func(Page) error { return nil })
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var te *TokenError
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a TokenError with status 401", err)
	}
	for _, text := range []string{err.Error(), e.logs.String()} {
		if strings.Contains(text, testClientSecret) {
			t.Fatalf("the client secret leaked: %s", text)
		}
	}
	if got := count(e.endpoints(), "token 401"); got != 1 {
		t.Fatalf("refused credentials were retried: %v", e.endpoints())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	// The tenant logs requests on the clock the client's waits move.
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{}, nil)
	e.tenant.SeedHistory(3, time.Hour)
	simtest.Faults(e.tenant).RateLimitNext(1, time.Second)
	got, _ := e.scanAll(t, Cursor{Modified: clk.Now().Add(-2 * time.Hour)})
	if len(got) != 3 {
		t.Fatalf("got %d activities, want 3", len(got))
	}
	reqs := e.tenant.Requests()
	var limited time.Time
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			limited = r.Time
			continue
		}
		if !limited.IsZero() && r.Time.Sub(limited) < time.Second {
			t.Fatalf("request %s %s sent %v after the 429, before its Retry-After of 1s", r.Endpoint, r.RawQuery, r.Time.Sub(limited))
		}
	}
	if limited.IsZero() {
		t.Fatal("no 429 was served")
	}
	var waited time.Duration
	for _, w := range e.sleeps.slept() {
		waited += w
	}
	if waited < time.Second || waited >= time.Second+e.client.cfg.MaxBackoff {
		t.Fatalf("the client waited %v after a Retry-After of 1s (waits %v)", waited, e.sleeps.slept())
	}

	// A Retry-After beyond the caller's deadline fails at once, sending nothing.
	simtest.Faults(e.tenant).RateLimitNext(1, 30*time.Second)
	ctx, cancel := context.WithDeadline(t.Context(), clk.Now().Add(20*time.Second))
	defer cancel()
	before, waits := len(e.tenant.Requests()), len(e.sleeps.slept())
	err := e.client.Scan(ctx, Cursor{Modified: clk.Now().Add(-2 * time.Hour)}, func(Page) error { return nil })
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if n := len(e.tenant.Requests()) - before; n != 1 {
		t.Fatalf("%d requests sent, want only the one answered 429", n)
	}
	err = e.client.Scan(ctx, Cursor{Modified: clk.Now().Add(-2 * time.Hour)}, func(Page) error { return nil })
	if !errors.Is(err, ErrRateLimited) || len(e.tenant.Requests())-before != 1 {
		t.Fatalf("a request was sent before Retry-After passed (err %v)", err)
	}
	if n := len(e.sleeps.slept()) - waits; n != 0 {
		t.Fatalf("the client waited %d times for a Retry-After past its deadline", n)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		inject  func(*simtenant.Tenant)
		timeout time.Duration // of an attempt; 0: the default
	}{
		{"5xx", func(s *simtenant.Tenant) { simtest.Faults(s).FailNext(2, http.StatusServiceUnavailable) }, 0},
		{"500 then 502", func(s *simtenant.Tenant) { simtest.Faults(s).FailNext(1, 500); simtest.Faults(s).FailNext(1, 502) }, 0},
		{"connection reset", func(s *simtenant.Tenant) { simtest.Faults(s).ResetNext(2) }, 0},
		{"truncated body", func(s *simtenant.Tenant) { simtest.Faults(s).TruncateNext(2) }, 0},
		{"malformed JSON", func(s *simtenant.Tenant) { simtest.Faults(s).MalformNext(2) }, 0},
		// The one case that takes time: the attempt's Timeout, on the wall
		// clock, while the tenant holds the answer until the client gives
		// up. Pages of 50 keep every other attempt far below it, however
		// busy the machine: under -race at a load of 10 on 2 cores, pages
		// of 250 took over 200 ms; pages of 50 take a fifth of that.
		{"slow answer past the timeout", func(s *simtenant.Tenant) { simtest.Faults(s).SlowNext(1, time.Minute) }, 500 * time.Millisecond},
		{"token endpoint down", func(s *simtenant.Tenant) { simtest.Faults(s).FailTokenNext(2, 503) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simtenant.Config{}, func(c *Config) {
				if tt.timeout > 0 {
					c.Timeout, c.PageSize = tt.timeout, 50
				}
				// Each request on a new connection, so a reset reaches the client
				// instead of being absorbed by net/http's retry of idle connections.
				c.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			})
			e.tenant.SeedHistory(300, time.Hour)
			tt.inject(e.tenant)
			got, _ := e.scanAll(t, Cursor{Modified: time.Now().Add(-2 * time.Hour)})
			if len(got) != 300 {
				t.Fatalf("got %d activities, want 300", len(got))
			}
		})
	}
}

func TestPersistentFailureReportsTrackingID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, func(c *Config) { c.MaxRetries = 2 })
	simtest.Faults(e.tenant).FailNext(3, http.StatusInternalServerError)
	err := e.client.Scan(t.Context(), Cursor{Modified: time.Now()}, func(Page) error { return nil })
	var api *APIError
	if !errors.As(err, &api) || api.StatusCode != http.StatusInternalServerError || len(api.TrackingID) != 32 {
		t.Fatalf("err = %v, want an APIError 500 with a trackingId", err)
	}
	if !strings.Contains(err.Error(), api.TrackingID) || !strings.Contains(err.Error(), "500.0 Internal Fault") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("error text %q lacks the trackingId, detail code or attempt count", err)
	}
	if n := count(e.endpoints(), "list 500"); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if w := e.sleeps.slept(); len(w) != 2 {
		t.Fatalf("waits %v, want one before each of the 2 retries", w)
	}

	simtest.Faults(e.tenant).MalformNext(3)
	err = e.client.Scan(t.Context(), Cursor{Modified: time.Now()}, func(Page) error { return nil })
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DecodeError", err)
	}
}

// Retries back off exponentially from MinBackoff to MaxBackoff, each wait
// drawn in the upper half of its step so that exporters do not retry in
// step; the tenant sees nothing from the client in between.
func TestRetriesBackOffExponentially(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{}, func(c *Config) {
		c.MinBackoff, c.MaxBackoff, c.MaxRetries = 500*time.Millisecond, 4*time.Second, 5
	})
	e.tenant.SeedHistory(3, time.Hour)
	simtest.Faults(e.tenant).FailNext(5, http.StatusServiceUnavailable)
	if got, _ := e.scanAll(t, Cursor{Modified: clk.Now().Add(-2 * time.Hour)}); len(got) != 3 {
		t.Fatalf("got %d activities after 5 failures, want 3", len(got))
	}
	steps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	waits := e.sleeps.slept()
	if len(waits) != len(steps) {
		t.Fatalf("waits %v, want %d", waits, len(steps))
	}
	var lists []time.Time
	for _, r := range e.tenant.Requests() {
		if r.Endpoint == "list" {
			lists = append(lists, r.Time)
		}
	}
	if len(lists) != len(steps)+1 {
		t.Fatalf("%d list requests, want %d", len(lists), len(steps)+1)
	}
	for i, step := range steps {
		if waits[i] < step/2 || waits[i] >= step {
			t.Errorf("wait %d: %v, want within [%v, %v)", i+1, waits[i], step/2, step)
		}
		// The tenant logs whole milliseconds.
		if gap := lists[i+1].Sub(lists[i]); gap < waits[i].Truncate(time.Millisecond) {
			t.Errorf("retry %d came %v after the failure, before its wait of %v", i+1, gap, waits[i])
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, nil)
	ids := e.tenant.BulkRefresh(2)
	a, err := e.client.Get(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.tenant.Activity(ids[0])
	if a.ID != ids[0] || a.Type != *want.Type || !a.Modified.Equal(*want.Modified) || len(a.Items) != len(want.Items) || a.Completed.IsZero() {
		t.Fatalf("Get = %+v, want %+v", a, want)
	}
	_, err = e.client.Get(t.Context(), "0123456789abcdef0123456789abcdef")
	var api *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &api) || api.TrackingID == "" {
		t.Fatalf("err = %v, want ErrNotFound with a trackingId", err)
	}
}

func TestEveryActivitiesPath(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/v3/account-activities", "/v2024/account-activities", "/v2025/account-activities", "/v2026/account-activities", "/beta/account-activities", "/account-activities/v1"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simtenant.Config{}, func(c *Config) { c.ActivitiesPath = path })
			e.tenant.SeedHistory(7, time.Hour)
			got, _ := e.scanAll(t, Cursor{Modified: time.Now().Add(-2 * time.Hour)})
			if len(got) != 7 {
				t.Fatalf("got %d activities, want 7", len(got))
			}
			if _, err := e.client.Get(t.Context(), got[0].ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A 503 that says when to come back is retried no sooner; ISC's gateway
// sends Retry-After with some of them.
func TestServiceUnavailableRetryAfter(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lists []time.Time
	clk := fakeclock.New(time.Now())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			_, _ = io.WriteString(w, `{"access_token":"t","token_type":"bearer","expires_in":749}`)
			return
		}
		mu.Lock()
		lists = append(lists, clk.Now())
		first := len(lists) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"detailCode":"503 Service Unavailable","trackingId":"0123456789abcdef0123456789abcdef","messages":[]}`)
			return
		}
		_, _ = io.WriteString(w, `[]`)
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sleeps := &fakeSleeper{clk: clk}
	c.now, c.tokens.now, c.sleep = clk.Now, clk.Now, sleeps.sleep
	if err := c.Scan(t.Context(), Cursor{Modified: clk.Now()}, func(Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lists) != 2 || lists[1].Sub(lists[0]) < time.Second {
		t.Fatalf("%d list requests; the retry came %v after the 503, before its Retry-After of 1s", len(lists), lists[len(lists)-1].Sub(lists[0]))
	}
}

func TestFormatTimestamp(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Time]string{
		time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC):                        "2026-01-02T03:04:05.678Z",
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC):                                  "2026-01-02T03:04:05.000Z",
		time.Date(2026, 1, 2, 3, 4, 5, 678_901_000, time.UTC):                        "2026-01-02T03:04:05.678901Z",
		time.Date(2026, 1, 2, 5, 4, 5, 678_000_000, time.FixedZone("CEST", 2*60*60)): "2026-01-02T03:04:05.678Z",
	} {
		if got := formatTimestamp(in); got != want {
			t.Errorf("formatTimestamp(%v) = %s, want %s", in, got, want)
		}
	}
}
