package simtenant

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{RateLimit: 3, RateWindow: 10 * time.Second, Clients: map[string]string{"sim-client-id": "sim-client-secret", "other": "pw"}})
	other := h.fetchToken("other", "pw")
	for i := 0; i < 5; i++ {
		h.fetchToken("sim-client-id", "sim-client-secret") // token requests are not counted
	}
	for i := 0; i < 3; i++ {
		if r := h.get("/v3/account-activities", nil); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
		h.clock.Advance(time.Second)
	}
	check429 := func(wantRetry string) {
		t.Helper()
		r := h.get("/v3/account-activities", nil)
		if r.status != 429 {
			t.Fatalf("status %d, want 429", r.status)
		}
		if got := r.header.Get("Retry-After"); got != wantRetry {
			t.Errorf("Retry-After %q, want %q", got, wantRetry)
		}
		var m map[string]string
		if json.Unmarshal(r.body, &m) != nil || m["message"] != " Rate Limit Exceeded " {
			t.Errorf("429 body %s", r.body)
		}
	}
	// The first request was at t0; it leaves the window at t0+10s.
	check429("7")
	h.clock.Advance(4500 * time.Millisecond)
	check429("3") // 2.5s rounded up
	if r := h.do("GET", "/v3/account-activities/"+hexN(1), nil, other); r.status != 404 {
		t.Errorf("other client should have its own budget: %d", r.status)
	}
	h.clock.Advance(2500 * time.Millisecond)
	if r := h.get("/v3/account-activities", nil); r.status != 200 {
		t.Errorf("after the window moved: %d", r.status)
	}
	check429("1")

	sub := newHarness(t, Config{RateLimit: 1, RateWindow: 300 * time.Millisecond})
	sub.get("/v3/account-activities", nil)
	if r := sub.get("/v3/account-activities", nil); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("sub-second window: %d Retry-After %q, want at least 1", r.status, r.header.Get("Retry-After"))
	}

	off := newHarness(t, Config{RateLimit: -1})
	for i := 0; i < 150; i++ {
		if r := off.get("/v3/account-activities", nil); r.status != 200 {
			t.Fatalf("disabled limiter refused request %d", i)
		}
	}
	def := newHarness(t, Config{})
	for i := 0; i < 100; i++ {
		if r := def.get("/v3/account-activities", nil); r.status != 200 {
			t.Fatalf("default limiter refused request %d", i)
		}
	}
	if r := def.get("/v3/account-activities", nil); r.status != 429 {
		t.Errorf("default limit should be 100: %d", r.status)
	}
}

// freshClient opens a new connection per request: Go's transport silently
// retries an idempotent request whose reused connection was reset, which
// would hide the fault under test.
func freshClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}
