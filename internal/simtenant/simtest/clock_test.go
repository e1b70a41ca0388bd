package simtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// TestDateHeaderAndClockOffset runs tenants whose clock is ahead, exact
// and behind, and checks that every answer's Date and everything the
// tenant writes follow the tenant's clock, not the host's.
func TestDateHeaderAndClockOffset(t *testing.T) {
	for _, offset := range []time.Duration{0, 2 * time.Minute, -2 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			h := newHarness(t, simtenant.Config{ClockOffset: offset, RateLimit: -1, TokenTTL: time.Minute, Seed: 1})
			h.client = freshClient() // a reset or truncated answer must not be retried
			tenantNow := func() time.Time { return h.clock.Now().Add(offset) }
			wantDate := func() string { return tenantNow().UTC().Format(http.TimeFormat) }

			h.tenant.SeedHistory(5, time.Hour)
			first, _ := h.list(q("limit", "1"))
			answers := map[string]func() response{
				"list":         func() response { return h.get("/v3/account-activities", nil) },
				"get":          func() response { return h.get("/v3/account-activities/"+first[0].ID, nil) },
				"get 404":      func() response { return h.get("/v3/account-activities/"+hexN(9), nil) },
				"400":          func() response { return h.get("/v3/account-activities", q("limit", "x")) },
				"401":          func() response { return h.do("GET", "/v3/account-activities", nil, "") },
				"unknown path": func() response { return h.get("/v3/nothing", nil) },
				"token 405":    func() response { return h.do("GET", "/oauth/token", nil, "") },
				"sources":      func() response { return h.get("/v3/sources", nil) },
				"source":       func() response { return h.get("/v3/sources/"+h.tenant.Sources()[0].ID, nil) },
				"clusters":     func() response { return h.get("/v3/managed-clusters", q("filters", "bad")) },
				"cluster":      func() response { return h.get("/v3/managed-clusters/"+h.tenant.Clusters()[0].ID, nil) },
				"429 fault": func() response {
					h.faults.RateLimitNext(1, time.Second)
					return h.get("/v3/account-activities", nil)
				},
				"500 fault": func() response {
					h.faults.FailNext(1, 500)
					return h.get("/v3/account-activities", nil)
				},
				"truncated": func() response {
					h.faults.TruncateNext(1)
					return h.get("/v3/account-activities", nil)
				},
			}
			for name, call := range answers {
				h.clock.Advance(1500 * time.Millisecond) // Date has whole seconds; move it each time
				r := call()
				if r.header == nil {
					t.Fatalf("%s: no answer: %v", name, r.err)
				}
				if got := r.header.Get("Date"); got != wantDate() {
					t.Errorf("%s: Date %q, want %q", name, got, wantDate())
				}
			}
			tok := h.doToken()
			if got := tok.header.Get("Date"); got != wantDate() {
				t.Errorf("token: Date %q, want %q", got, wantDate())
			}

			// What the tenant writes is on its clock.
			for n, i := stored(h.tenant), 0; stored(h.tenant) == n; i++ {
				if i == 50 {
					t.Fatal("50 Steps started nothing")
				}
				h.tenant.Step() // a Step starts 0-4 activities
			}
			h.clock.Advance(time.Second)
			h.tenant.Modify(first[0].ID, func(*simtenant.Activity) {})
			a, _ := h.tenant.Activity(first[0].ID)
			if want := tenantNow().Truncate(time.Millisecond); !a.Modified.Equal(want) {
				t.Errorf("Modify stamped %v, want %v", a.Modified, want)
			}
			log := h.tenant.Requests()
			if last := log[len(log)-1]; !last.Time.Equal(tenantNow().Add(-time.Second).Truncate(time.Millisecond)) {
				t.Errorf("request log time %v, tenant clock was %v", last.Time, tenantNow().Add(-time.Second))
			}
			all := snapshot(h.tenant)
			created := all[len(all)-1].Created // the newest, made by Step
			if want := tenantNow().Add(-time.Second).Truncate(time.Millisecond); !created.Equal(want) {
				t.Errorf("Step created at %v, want %v", created, want)
			}
			if n := len(h.truth.Current(created).Activities); n == 0 {
				t.Errorf("Current(since) on the tenant's clock misses what Step created")
			}
			if n := len(h.truth.Current(created.Add(time.Millisecond)).Activities); n != 0 {
				t.Errorf("Current after the newest activity has %d groups", n)
			}

			// Token expiry runs on the tenant's clock too.
			h.token = h.fetchToken("sim-client-id", "sim-client-secret")
			h.clock.Advance(time.Minute - time.Millisecond)
			if r := h.get("/v3/account-activities", q("limit", "1")); r.status != 200 {
				t.Errorf("token before expiry: %d", r.status)
			}
			h.clock.Advance(time.Millisecond)
			if r := h.get("/v3/account-activities", q("limit", "1")); r.status != 401 {
				t.Errorf("token after expiry: %d", r.status)
			}
		})
	}
}
