package client

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/apispec"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// everyCall makes each call the exporter makes: a scan and a get of the
// account activities, the sources, the managed clusters, and the task
// status by type, running, and by id.
func everyCall(t *testing.T, c *Client) {
	t.Helper()
	ctx := t.Context()
	var id string
	if err := c.Scan(ctx, Cursor{Modified: time.Now().Add(-2 * time.Hour)}, func(p Page) error {
		if id == "" && len(p.Activities) > 0 {
			id = p.Activities[0].ID
		}
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if _, err := c.Get(ctx, id); err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	if _, err := c.ListSources(ctx); err != nil {
		t.Fatalf("sources: %v", err)
	}
	if _, err := c.ListManagedClusters(ctx); err != nil {
		t.Fatalf("managed clusters: %v", err)
	}
	var taskID string
	for _, q := range []TaskQuery{{Type: "CLOUD_ACCOUNT_AGGREGATION"}, {Type: "CLOUD_GROUP_AGGREGATION", Running: true}} {
		if err := c.ListTasks(ctx, q, func(p TaskPage) (bool, error) {
			if taskID == "" && len(p.Tasks) > 0 {
				taskID = p.Tasks[0].ID
			}
			return false, nil
		}); err != nil {
			t.Fatalf("task status %+v: %v", q, err)
		}
	}
	if err := c.ListTasks(ctx, TaskQuery{IDs: []string{taskID}}, func(TaskPage) (bool, error) { return true, nil }); err != nil {
		t.Fatalf("task status by id: %v", err)
	}
}

func seeded(tc simtenant.Config) simtenant.Config {
	tc.Seed = 91
	return tc
}

// With no setting every call goes to the per-service paths; with a yearly
// collection every call goes to it, or, where it lacks the service (v3 and
// v2024 have no task status), to the nearest newer one that has it.
func TestEveryCallFollowsTheAPIVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		api  Family
		want map[string]string // endpoint → family
	}{
		{"", map[string]string{"list": "v1", "get": "v1", "sources": "v1", "managed-clusters": "v1", "task-status": "v1"}},
		{FamilyV3, map[string]string{"list": "v3", "get": "v3", "sources": "v3", "managed-clusters": "v3", "task-status": "v2025"}},
		{FamilyV2024, map[string]string{"list": "v2024", "get": "v2024", "sources": "v2024", "managed-clusters": "v2024", "task-status": "v2025"}},
		{FamilyV2025, map[string]string{"list": "v2025", "get": "v2025", "sources": "v2025", "managed-clusters": "v2025", "task-status": "v2025"}},
		{FamilyV2026, map[string]string{"list": "v2026", "get": "v2026", "sources": "v2026", "managed-clusters": "v2026", "task-status": "v2026"}},
		{FamilyBeta, map[string]string{"list": "beta", "get": "beta", "sources": "beta", "managed-clusters": "beta", "task-status": "beta"}},
	} {
		t.Run(string(tc.api), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, seeded(simtenant.Config{}), func(c *Config) { c.API = tc.api })
			e.tenant.SeedHistory(300, time.Hour)
			e.tenant.SeedTaskHistory(3 * time.Hour)
			everyCall(t, e.client)
			got := map[string]string{}
			for _, r := range e.tenant.Requests() {
				if r.Endpoint == "" || r.Endpoint == "token" {
					continue
				}
				if prev, ok := got[r.Endpoint]; ok && prev != r.Family {
					t.Errorf("%s went to %s and to %s", r.Endpoint, prev, r.Family)
				}
				got[r.Endpoint] = r.Family
				// Experimental exactly where SailPoint marks it: v2026's task status.
				if want := r.Endpoint == "task-status" && r.Family == "v2026"; r.Experimental != want {
					t.Errorf("%s %s: X-SailPoint-Experimental sent %v, want %v", r.Family, r.Path, r.Experimental, want)
				}
				if r.Status != http.StatusOK {
					t.Errorf("%s %s?%s answered %d", r.Family, r.Path, r.RawQuery, r.Status)
				}
			}
			for endpoint, family := range tc.want {
				if got[endpoint] != family {
					t.Errorf("%s went to %q, want %q", endpoint, got[endpoint], family)
				}
			}
		})
	}
}

// On a tenant that does not serve the per-service paths yet, each endpoint
// falls back, once, to the v2025 collection's path: one log line each, and
// Paths says where its requests go now.
func TestPerServicePathsFallBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, seeded(simtenant.Config{PerServiceOff: true}), nil)
	e.tenant.SeedHistory(300, time.Hour)
	e.tenant.SeedTaskHistory(3 * time.Hour)
	everyCall(t, e.client)
	everyCall(t, e.client) // a second time: no more 404s
	notFound := map[string]int{}
	for _, r := range e.tenant.Requests() {
		if r.Status == http.StatusNotFound {
			notFound[r.Endpoint]++
		}
	}
	for _, endpoint := range []string{"list", "sources", "managed-clusters", "task-status"} {
		if notFound[endpoint] != 1 {
			t.Errorf("%s: %d answers 404, want the 1 that made it fall back", endpoint, notFound[endpoint])
		}
		if n := strings.Count(e.logs.String(), "endpoint="+endpoint+" path="); n != 1 {
			t.Errorf("%s: the fallback was said %d times, want once:\n%s", endpoint, n, e.logs.String())
		}
	}
	want := []PathInUse{{"list", "/v2025/account-activities"}, {"get", "/v2025/account-activities/{id}"}, {"sources", "/v2025/sources"},
		{"managed-clusters", "/v2025/managed-clusters"}, {"task-status", "/v2025/task-status"}}
	if got := e.client.Paths(); !slices.Equal(got, want) {
		t.Fatalf("paths in use %v, want %v", got, want)
	}
	// A path the user chose does not move.
	chosen := newEnv(t, seeded(simtenant.Config{PerServiceOff: true}), func(c *Config) { c.ActivitiesPath = "/account-activities/v1" })
	if err := chosen.client.Scan(t.Context(), Cursor{Modified: time.Now().Add(-time.Hour)}, func(Page) error { return nil }); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("a chosen path that answers 404: %v, want the 404", err)
	}
}

// Every answer that carries a deprecation header is reported with its
// endpoint, path and the headers' values.
func TestDeprecatedAnswersAreReported(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []Deprecation
	)
	e := newEnv(t, seeded(simtenant.Config{}), func(c *Config) {
		c.API = FamilyV3
		c.Deprecated = func(d Deprecation) { mu.Lock(); got = append(got, d); mu.Unlock() }
	})
	e.tenant.SeedHistory(50, time.Hour)
	e.tenant.Deprecate("/v3/sources", simtenant.Deprecation{XDeprecated: "true", Deprecation: "@1798761600", Sunset: "Wed, 01 Sep 2027 00:00:00 GMT"})
	if _, err := e.client.ListSources(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Scan(t.Context(), Cursor{Modified: time.Now().Add(-time.Hour)}, func(Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := Deprecation{Endpoint: "sources", Path: "/v3/sources", XDeprecated: "true", Deprecation: "@1798761600", Sunset: "Wed, 01 Sep 2027 00:00:00 GMT"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("reported %+v, want one %+v", got, want)
	}
}

// Every request the client sends, in every family, and every answer the
// simulated tenant serves are what SailPoint's own OpenAPI documents say:
// paths, query parameters, filters and sorters each operation allows, the
// experimental header, status codes and body schemas.
func TestEveryCallMatchesSailPointsDocuments(t *testing.T) {
	t.Parallel()
	// The tenant uses enum values the documents do not list yet, as ISC
	// may (clients must cope): those fields are allowed any value.
	spec := apispec.LoadWith(t, apispec.Options{AllowUnknownEnums: []string{"operation", "completionStatus", "provisioningStatus"}})
	for _, family := range Families {
		t.Run(string(family), func(t *testing.T) {
			e := newEnv(t, seeded(simtenant.Config{EdgeCases: simtenant.EdgeCases{}}), func(c *Config) {
				c.API = family
				c.HTTPClient = &http.Client{Transport: spec.Transport(t, http.DefaultTransport)}
			})
			e.tenant.SeedHistory(300, time.Hour)
			e.tenant.SeedTaskHistory(3 * time.Hour)
			everyCall(t, e.client)
		})
	}
	if unseen := spec.Unseen(); len(unseen) > 0 {
		t.Fatalf("operations the exporter calls that no request exercised: %v", unseen)
	}
}

// The tenant's error answers are what the documents say too: ISC's
// ErrorResponseDto for 400, 403, 404, 429 and 500 on every operation, and a
// 401 for an expired token, which the client renews.
func TestErrorAnswersMatchSailPointsDocuments(t *testing.T) {
	t.Parallel()
	spec := apispec.LoadWith(t, apispec.Options{AllowUnknownEnums: []string{"operation", "completionStatus", "provisioningStatus"}})
	e := newEnv(t, seeded(simtenant.Config{}), func(c *Config) {
		c.MaxRetries = 1
		c.HTTPClient = &http.Client{Transport: spec.Transport(t, http.DefaultTransport)}
	})
	e.tenant.SeedHistory(50, time.Hour)
	e.tenant.SeedTaskHistory(time.Hour)
	ctx := t.Context()
	scan := func() error {
		return e.client.Scan(ctx, Cursor{Modified: time.Now().Add(-time.Hour)}, func(Page) error { return nil })
	}
	simtest.Faults(e.tenant).FailNext(2, http.StatusInternalServerError) // and its one retry
	if err := scan(); err == nil {
		t.Fatal("500s did not fail the scan")
	}
	simtest.Faults(e.tenant).FailNext(1, http.StatusForbidden)
	if err := scan(); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a 403: %v", err)
	}
	simtest.Faults(e.tenant).RateLimitNext(1, time.Second)
	e.tenant.ExpireTokens()
	if err := scan(); err != nil {
		t.Fatalf("after a 429 and a 401: %v", err)
	}
	if _, err := e.client.Get(ctx, "00000000000000000000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get of an unknown id: %v", err)
	}
	for _, family := range []string{"sources", "managed-clusters", "task-status"} {
		e.tenant.Deny(family, http.StatusForbidden)
	}
	if _, err := e.client.ListSources(ctx); !errors.Is(err, ErrForbidden) {
		t.Fatalf("sources: %v", err)
	}
	if _, err := e.client.ListManagedClusters(ctx); !errors.Is(err, ErrForbidden) {
		t.Fatalf("managed clusters: %v", err)
	}
	if err := e.client.ListTasks(ctx, TaskQuery{Type: "CLOUD_ACCOUNT_AGGREGATION"}, func(TaskPage) (bool, error) { return true, nil }); !errors.Is(err, ErrForbidden) {
		t.Fatalf("task status: %v", err)
	}
	codes := map[int]bool{}
	for _, r := range e.tenant.Requests() {
		codes[r.Status] = true
	}
	for _, c := range []int{401, 403, 404, 429, 500} {
		if !codes[c] {
			t.Errorf("no %d answer was checked", c)
		}
	}
}
