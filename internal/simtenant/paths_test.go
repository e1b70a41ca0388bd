package simtenant

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// collectionPaths are the collections of part one of the table in the
// package documentation, with one id each serves.
type collectionPath struct {
	name      string // the path segment
	list, one string // Request.Endpoint
	deny      string
	id        string
}

func collectionPaths(h *harness) []collectionPath {
	h.t.Helper()
	first, _ := h.list(q("limit", "1"))
	return []collectionPath{
		{"account-activities", "list", "get", "list", first[0].ID},
		{"sources", "sources", "source", "sources", sourcesCatalog[0].id},
		{"managed-clusters", "managed-clusters", "managed-cluster", "managed-clusters", clustersCatalog[0].id},
	}
}

// lastRequest is the newest entry of the request log.
func lastRequest(h *harness) Request {
	log := h.tenant.Requests()
	return log[len(log)-1]
}

// TestEveryFamilyServesEveryCollection asks each collection under each
// family's path: the same items, the same object by id, and the request
// log names the endpoint and the family.
func TestEveryFamilyServesEveryCollection(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 4})
	h.tenant.SeedHistory(20, time.Hour)
	for _, c := range collectionPaths(h) {
		var want []string
		for _, family := range allFamilies {
			p := apiPath(family, c.name)
			t.Run(p, func(t *testing.T) {
				r := h.get(p, q("limit", "10"))
				var page []struct{ ID string }
				if r.status != 200 || json.Unmarshal(r.body, &page) != nil || len(page) == 0 {
					t.Fatalf("list: %d %.200s", r.status, r.body)
				}
				got := names(page, func(x struct{ ID string }) string { return x.ID })
				if want == nil {
					want = got
				} else if !slices.Equal(got, want) {
					t.Errorf("ids %v, want those of %s: %v", got, apiPath(allFamilies[0], c.name), want)
				}
				if e := lastRequest(h); e.Endpoint != c.list || e.Family != family || e.Status != 200 || e.Experimental {
					t.Errorf("logged %+v", e)
				}
				one := h.get(p+"/"+c.id, nil)
				if one.status != 200 || !strings.Contains(string(one.body), `"id":"`+c.id+`"`) {
					t.Errorf("get: %d %.200s", one.status, one.body)
				}
				if e := lastRequest(h); e.Endpoint != c.one || e.Family != family {
					t.Errorf("get logged %+v", e)
				}
				decodeError(t, h.get(p+"/"+hexN(0xdead), nil), 404, "404 Not found")
				if r := h.do(http.MethodGet, p, nil, ""); r.status != 401 {
					t.Errorf("no token: %d", r.status)
				}
			})
		}
	}
	for _, p := range []string{"/v3/task-status", "/v2024/task-status", "/sources/v2", "/v1/sources", "/sources", "/v2027/sources"} {
		if r := h.get(p, nil); r.status != 404 {
			t.Errorf("%s: %d, want 404", p, r.status)
		}
		if e := lastRequest(h); e.Endpoint != "" || e.Family != "" {
			t.Errorf("%s logged as %+v", p, e)
		}
	}
}

// TestDenyAndFaultsWhateverThePath checks that Deny and the fault queues
// reach an endpoint family under every family's path, and nothing else.
func TestDenyAndFaultsWhateverThePath(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 4})
	h.tenant.SeedHistory(5, time.Hour)
	cols := collectionPaths(h)
	for _, denied := range cols {
		h.tenant.Deny(denied.deny, 403)
		for _, c := range cols {
			for _, family := range allFamilies {
				p := apiPath(family, c.name)
				r := h.get(p, nil)
				switch {
				case c.deny == denied.deny:
					decodeError(t, r, 403, "403 Forbidden")
				case r.status != 200:
					t.Errorf("Deny(%s): %s answered %d", denied.deny, p, r.status)
				}
			}
		}
		h.tenant.Deny(denied.deny, 0)
	}
	// Each queue serves whichever path comes next.
	h.hooks.inject(QueueActivities, failure(500))
	h.hooks.inject(QueueSources, failure(502))
	h.hooks.inject(QueueClusters, failure(503))
	for _, c := range []struct {
		path string
		want int
	}{
		{"/managed-clusters/v1/" + clustersCatalog[1].id, 503},
		{"/beta/sources", 502},
		{"/v2026/account-activities/" + hexN(1), 500},
		{"/v2024/sources", 200},
		{"/account-activities/v1", 200},
		{"/v2025/managed-clusters", 200},
	} {
		if r := h.get(c.path, nil); r.status != c.want {
			t.Errorf("%s: %d, want %d", c.path, r.status, c.want)
		}
	}
}

// TestPerServicePathsOff runs a tenant without the per-service paths, then
// turns them on and off one prefix at a time.
func TestPerServicePathsOff(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 4, PerServiceOff: true})
	h.tenant.SeedHistory(5, time.Hour)
	cols := collectionPaths(h)
	status := func(p string) int { return h.get(p, nil).status }
	for _, c := range cols {
		for _, family := range allFamilies {
			p := apiPath(family, c.name)
			if family != FamilyV1 {
				if s := status(p); s != 200 {
					t.Errorf("%s: %d", p, s)
				}
				continue
			}
			decodeError(t, h.get(p, nil), 404, "404 Not found")
			decodeError(t, h.get(p+"/"+c.id, nil), 404, "404 Not found")
			// Before the token is looked at, and logged with its family.
			if r := h.do(http.MethodGet, p, nil, ""); r.status != 404 {
				t.Errorf("%s without a token: %d", p, r.status)
			}
			if e := lastRequest(h); e.Endpoint != c.list || e.Family != FamilyV1 || e.Status != 404 || e.ClientID != "" {
				t.Errorf("logged %+v", e)
			}
		}
	}
	// Faults wait for a path the tenant publishes.
	h.hooks.inject(QueueSources, failure(500))
	if s := status("/sources/v1"); s != 404 {
		t.Errorf("off path with a fault queued: %d", s)
	}
	if s := status("/v3/sources"); s != 500 {
		t.Errorf("the fault went to %d", s)
	}

	h.tenant.DisablePath("/sources/v1", false)
	if s := status("/sources/v1"); s != 200 {
		t.Errorf("/sources/v1 turned on: %d", s)
	}
	if s := status("/managed-clusters/v1"); s != 404 {
		t.Errorf("/managed-clusters/v1 stays off: %d", s)
	}

	on := newHarness(t, Config{RateLimit: -1})
	on.tenant.DisablePath("/managed-clusters/v1/", true) // a trailing slash is the same prefix
	for p, want := range map[string]int{"/managed-clusters/v1": 404, "/managed-clusters/v1/" + clustersCatalog[0].id: 404,
		"/sources/v1": 200, "/account-activities/v1": 200, "/v3/managed-clusters": 200} {
		if s := on.get(p, nil).status; s != want {
			t.Errorf("one path off: %s answered %d, want %d", p, s, want)
		}
	}
	on.tenant.DisablePath("/v2025", true) // any prefix, a whole family too
	if s := on.get("/v2025/sources", nil).status; s != 404 {
		t.Errorf("/v2025 off: %d", s)
	}
	on.tenant.DisablePath("/managed-clusters/v1", false)
	on.tenant.DisablePath("/v2025", false)
	for _, p := range []string{"/managed-clusters/v1", "/v2025/sources"} {
		if s := on.get(p, nil).status; s != 200 {
			t.Errorf("%s back on: %d", p, s)
		}
	}
}

// TestExperimentalHeader marks a path experimental the way the tenant's
// own table does and checks the 400 without the header.
func TestExperimentalHeader(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	h.tenant.mu.Lock()
	h.tenant.experimental["/v2026/sources"] = true
	h.tenant.mu.Unlock()
	send := func(p, header string) response {
		req := newRequest(t, http.MethodGet, h.base+p, h.token)
		if header != "" {
			req.Header.Set("X-SailPoint-Experimental", header)
		}
		return h.send(req)
	}
	for _, p := range []string{"/v2026/sources", "/v2026/sources/" + sourcesCatalog[0].id} {
		for _, header := range []string{"", "false", "yes"} {
			msg := decodeError(t, send(p, header), 400, "400.1 Bad Request Content")
			if !strings.Contains(msg, "X-SailPoint-Experimental") {
				t.Errorf("%s: message %q does not name the header", p, msg)
			}
			if e := lastRequest(h); e.Experimental {
				t.Errorf("header %q logged as experimental", header)
			}
		}
		for _, header := range []string{"true", "True"} {
			if r := send(p, header); r.status != 200 {
				t.Errorf("%s with the header %q: %d", p, header, r.status)
			}
			if e := lastRequest(h); !e.Experimental || e.Family != FamilyV2026 {
				t.Errorf("logged %+v", e)
			}
		}
	}
	// Other paths take the header or leave it.
	for _, header := range []string{"", "true"} {
		if r := send("/v2025/sources", header); r.status != 200 {
			t.Errorf("/v2025/sources with %q: %d", header, r.status)
		}
	}
	// The token comes first.
	if r := h.do(http.MethodGet, "/v2026/sources", nil, ""); r.status != 401 {
		t.Errorf("no token: %d", r.status)
	}
}

// TestDeprecationHeaders checks that every answer under a deprecated
// prefix carries the headers, errors and faults too, and nothing else does.
func TestDeprecationHeaders(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 2})
	h.client = freshClient()
	h.tenant.SeedHistory(30, time.Hour)
	dep := Deprecation{XDeprecated: "true", Deprecation: "@1767225600", Sunset: "Wed, 30 Sep 2026 00:00:00 GMT"}
	h.tenant.Deprecate("/v3", dep)
	check := func(name string, r response, want Deprecation) {
		t.Helper()
		if r.header == nil {
			t.Fatalf("%s: no answer: %v", name, r.err)
		}
		got := Deprecation{r.header.Get("X-Deprecated"), r.header.Get("Deprecation"), r.header.Get("Sunset")}
		if got != want {
			t.Errorf("%s (%d): headers %+v, want %+v", name, r.status, got, want)
		}
		for k, v := range want.header() {
			if len(r.header[k]) != 1 || r.header[k][0] != v[0] {
				t.Errorf("%s: %s sent as %q", name, k, r.header[k])
			}
		}
	}
	answers := map[string]func() response{
		"list":    func() response { return h.get("/v3/account-activities", q("limit", "2")) },
		"get 404": func() response { return h.get("/v3/account-activities/"+hexN(1), nil) },
		"400":     func() response { return h.get("/v3/sources", q("filters", "nope")) },
		"401":     func() response { return h.do(http.MethodGet, "/v3/managed-clusters", nil, "") },
		"405":     func() response { return h.do(http.MethodPost, "/v3/sources", nil, h.token) },
		"unknown": func() response { return h.get("/v3/nothing", nil) },
		"500 fault": func() response {
			h.hooks.inject(QueueActivities, failure(500))
			return h.get("/v3/account-activities", nil)
		},
		"429 fault": func() response {
			h.hooks.inject(QueueActivities, Fault{Kind: FaultRateLimit, Delay: time.Second})
			return h.get("/v3/account-activities", nil)
		},
		"malformed": func() response {
			h.hooks.inject(QueueActivities, Fault{Kind: FaultMalform})
			return h.get("/v3/account-activities", nil)
		},
		"truncated": func() response {
			h.hooks.inject(QueueActivities, Fault{Kind: FaultTruncate})
			resp, err := h.client.Do(newRequest(t, http.MethodGet, h.base+"/v3/account-activities", h.token))
			if err != nil {
				return response{err: err}
			}
			closeBody(resp)
			return response{status: resp.StatusCode, header: resp.Header}
		},
	}
	for name, call := range answers {
		check(name, call(), dep)
	}
	for _, p := range []string{"/v2025/account-activities", "/sources/v1", "/v2024/managed-clusters", "/v30/sources"} {
		check(p, h.get(p, nil), Deprecation{})
	}
	check("token", h.doToken(), Deprecation{})

	// The longest prefix applies; an empty field is not sent.
	only := Deprecation{Sunset: "Thu, 31 Dec 2026 00:00:00 GMT"}
	h.tenant.Deprecate("/v3/sources/", only)
	check("/v3/sources", h.get("/v3/sources", nil), only)
	check("/v3/sources/{id}", h.get("/v3/sources/"+sourcesCatalog[0].id, nil), only)
	check("/v3/managed-clusters", h.get("/v3/managed-clusters", nil), dep)
	h.tenant.Deprecate("/v3", Deprecation{})
	check("/v3/managed-clusters after", h.get("/v3/managed-clusters", nil), Deprecation{})
	check("/v3/sources after", h.get("/v3/sources", nil), only)
	h.tenant.Deprecate("/v3/sources", Deprecation{})
	check("/v3/sources stopped", h.get("/v3/sources", nil), Deprecation{})

	// A per-service path, and a path the tenant does not publish.
	h.tenant.Deprecate("/account-activities/v1", dep)
	h.tenant.DisablePath("/account-activities/v1", true)
	check("disabled", h.get("/account-activities/v1", nil), dep)
	h.tenant.DisablePath("/account-activities/v1", false)
	check("enabled", h.get("/account-activities/v1", nil), dep)
}
