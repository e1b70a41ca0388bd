package client

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// observed records what Config.Observe is told.
type observed struct {
	mu   sync.Mutex
	seen []string
}

func (o *observed) observe(endpoint, code string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, endpoint+" "+code)
}

func (o *observed) count(entry string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return count(o.seen, entry)
}

// requestsTo returns the query strings of the requests to one endpoint.
func (e *env) requestsTo(endpoint string) []string {
	var out []string
	for _, r := range e.tenant.Requests() {
		if r.Endpoint == endpoint {
			out = append(out, r.RawQuery)
		}
	}
	return out
}

func sortedSources(tn *simtenant.Tenant) []simtenant.SourceState {
	want := tn.Sources()
	slices.SortFunc(want, func(a, b simtenant.SourceState) int { return strings.Compare(a.ID, b.ID) })
	return want
}

func TestListSourcesPagesByOffsetSortedByID(t *testing.T) {
	t.Parallel()
	var obs observed
	e := newEnv(t, simtenant.Config{Seed: 1}, func(c *Config) {
		c.PageSize = 3
		c.Observe = obs.observe
	})
	got, err := e.client.ListSources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := sortedSources(e.tenant)
	if len(got) != len(want) || len(want) != 7 {
		t.Fatalf("got %d sources, want the tenant's %d (7)", len(got), len(want))
	}
	withCluster := 0
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.Name != w.Name || g.Type != w.Type || g.Connector != w.Connector || g.Authoritative != w.Authoritative ||
			g.Healthy == nil || *g.Healthy != w.Healthy || g.Status != w.Status || !g.Since.Equal(w.Since) || g.ClusterID != w.ClusterID {
			t.Errorf("source %d:\n got %+v\nwant %+v", i, g, w)
		}
		if g.ClusterID != "" {
			withCluster++
		}
	}
	if withCluster == 0 || withCluster == len(want) {
		t.Errorf("%d of %d sources have a cluster: the test needs both kinds", withCluster, len(want))
	}
	// 7 sources at 3 a page: offsets 0, 3 and 6, the last page short.
	wantQueries := []string{"limit=3&offset=0&sorters=id", "limit=3&offset=3&sorters=id", "limit=3&offset=6&sorters=id"}
	if q := e.requestsTo("sources"); !slices.Equal(q, wantQueries) {
		t.Errorf("requests %v, want %v", q, wantQueries)
	}
	if n := obs.count("sources 200"); n != 3 {
		t.Errorf("Observe saw %v, want 3 × \"sources 200\"", obs.seen)
	}
}

// A full page may be the last: one more request, answered [], says so.
func TestListSourcesFullLastPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{Seed: 2}, func(c *Config) { c.PageSize = 7 })
	got, err := e.client.ListSources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("got %d sources, want 7", len(got))
	}
	if q := e.requestsTo("sources"); !slices.Equal(q, []string{"limit=7&offset=0&sorters=id", "limit=7&offset=7&sorters=id"}) {
		t.Errorf("requests %v", q)
	}
}

func TestListManagedClusters(t *testing.T) {
	t.Parallel()
	var obs observed
	e := newEnv(t, simtenant.Config{Seed: 3}, func(c *Config) { c.Observe = obs.observe })
	got, err := e.client.ListManagedClusters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := e.tenant.Clusters()
	slices.SortFunc(want, func(a, b simtenant.ClusterState) int { return strings.Compare(a.ID, b.ID) })
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("got %d clusters, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.Name != w.Name || g.Type != w.Type || g.Status != w.Status || g.Operational == nil || *g.Operational != w.Operational {
			t.Errorf("cluster %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// The spec documents no sorters for managed clusters: none is sent
	// (the simulated tenant answers 400 to one, as ISC does).
	if q := e.requestsTo("managed-clusters"); !slices.Equal(q, []string{"limit=250&offset=0"}) {
		t.Errorf("requests %v, want one without sorters", q)
	}
	if obs.count("managed-clusters 200") != 1 {
		t.Errorf("Observe saw %v", obs.seen)
	}
	// Nothing of the key pairs, certificates, queue or Redis settings is
	// kept, nor logged.
	kept := fmtAll(got) + e.logs.String()
	for _, secret := range e.tenant.ClusterSecrets() {
		if strings.Contains(kept, secret) {
			t.Fatalf("a cluster secret was kept or logged: %q", secret)
		}
	}
}

func fmtAll(cs []ManagedCluster) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.ID + c.Name + c.Type + c.Status)
	}
	return b.String()
}

// 403 and 404 are answers, not failures to retry: one request, and an
// error the caller can tell apart.
func TestListRefusedIsNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		family   string
		api      Family
		status   int
		is       error
		list     func(*Client) error
		requests int // a 404 on a per-service path is asked again, once, at the year collection's
	}{
		{"sources", FamilyV1, http.StatusForbidden, ErrForbidden, func(c *Client) error { _, err := c.ListSources(t.Context()); return err }, 1},
		{"sources", FamilyV1, http.StatusNotFound, ErrNotFound, func(c *Client) error { _, err := c.ListSources(t.Context()); return err }, 2},
		{"sources", FamilyV3, http.StatusNotFound, ErrNotFound, func(c *Client) error { _, err := c.ListSources(t.Context()); return err }, 1},
		{"managed-clusters", FamilyV1, http.StatusForbidden, ErrForbidden, func(c *Client) error { _, err := c.ListManagedClusters(t.Context()); return err }, 1},
	} {
		t.Run(tc.family+" "+string(tc.api)+" "+strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simtenant.Config{Seed: 4}, func(c *Config) { c.API = tc.api })
			e.tenant.Deny(tc.family, tc.status)
			err := tc.list(e.client)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want one matching %v", err, tc.is)
			}
			if n := len(e.requestsTo(tc.family)); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func TestListRetriesServerErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{Seed: 5}, nil)
	simtest.Faults(e.tenant).FailSourcesNext(2, http.StatusServiceUnavailable)
	simtest.Faults(e.tenant).FailClustersNext(2, http.StatusInternalServerError)
	if got, err := e.client.ListSources(t.Context()); err != nil || len(got) != 7 {
		t.Fatalf("ListSources after two 503s: %d sources, %v", len(got), err)
	}
	if got, err := e.client.ListManagedClusters(t.Context()); err != nil || len(got) != 3 {
		t.Fatalf("ListManagedClusters after two 500s: %d clusters, %v", len(got), err)
	}
	if n := len(e.requestsTo("sources")); n != 3 {
		t.Errorf("%d source requests, want 3", n)
	}

	e = newEnv(t, simtenant.Config{Seed: 5}, func(c *Config) { c.MaxRetries = 2 })
	simtest.Faults(e.tenant).FailSourcesNext(10, http.StatusBadGateway)
	var api *APIError
	if _, err := e.client.ListSources(t.Context()); !errors.As(err, &api) || api.StatusCode != http.StatusBadGateway {
		t.Fatalf("err = %v, want ISC's 502 after the retries", err)
	}
	if n := len(e.requestsTo("sources")); n != 3 {
		t.Errorf("%d source requests, want 1 + 2 retries", n)
	}
}

// rewriting puts a proxy on loopback in front of the tenant that hands the
// body of each 200 answer to an endpoint to rewrite, with the request.
func rewriting(t *testing.T, e *env, path string, rewrite func(n int, r *http.Request, body []byte) []byte) {
	t.Helper()
	streaming(t, e, path, func(n int, r *http.Request, body []byte) (io.Reader, int64) {
		body = rewrite(n, r, body)
		return bytes.NewReader(body), int64(len(body))
	})
}

// streaming is rewriting into an answer of any size, streamed to the client
// as the rewrite's reader yields it, of the length it says (-1: not
// announced).
func streaming(t *testing.T, e *env, path string, rewrite func(n int, r *http.Request, body []byte) (io.Reader, int64)) {
	t.Helper()
	target, err := url.Parse(e.client.cfg.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != path || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		r, length := rewrite(int(n.Add(1)), resp.Request, body)
		resp.Body = io.NopCloser(r)
		resp.ContentLength = length
		if length >= 0 {
			resp.Header.Set("Content-Length", strconv.FormatInt(length, 10))
		} else {
			resp.Header.Del("Content-Length")
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	cfg := e.client.cfg
	cfg.BaseURL, cfg.TokenURL = srv.URL, ""
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.now, c.tokens.now, c.sleep = e.client.now, e.client.tokens.now, e.client.sleep
	e.client = c
}

func TestListMalformedPage(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`[{"id":"2c9180835d2e5168015d32f890ca1581","name":,"healthy":true}]`, // syntax
		`[{"id":"2c9180835d2e5168015d32f890ca1581","healthy":"yes"}]`,        // a field of the wrong type
		`{"id":"2c9180835d2e5168015d32f890ca1581"}`,                          // not an array
		`[{"id":"2c9180835d2e5168015d32f890ca1581"}`,                         // cut short
		`[] []`, // more than one array
	} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simtenant.Config{Seed: 6}, func(c *Config) { c.MaxRetries = 1 })
			rewriting(t, e, "/sources/v1", func(int, *http.Request, []byte) []byte { return []byte(body) })
			_, err := e.client.ListSources(t.Context())
			if err == nil || !strings.Contains(err.Error(), "list sources (/sources/v1) at offset 0") {
				t.Fatalf("err = %v, want a malformed answer", err)
			}
			if n := len(e.requestsTo("sources")); n != 2 {
				t.Errorf("%d requests, want 1 + 1 retry", n)
			}
		})
	}
	// Malformed once, then fine: the retry reads it.
	e := newEnv(t, simtenant.Config{Seed: 6}, nil)
	rewriting(t, e, "/sources/v1", func(n int, _ *http.Request, body []byte) []byte {
		if n == 1 {
			return body[:len(body)/2]
		}
		return body
	})
	if got, err := e.client.ListSources(t.Context()); err != nil || len(got) != 7 {
		t.Fatalf("after one malformed answer: %d sources, %v", len(got), err)
	}
}

// A record delivered on two pages is kept once; a record without an id is
// not kept; the result is sorted by id whatever order ISC used.
func TestListDeduplicatesAndSorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{Seed: 7}, func(c *Config) { c.PageSize = 2 })
	rewriting(t, e, "/managed-clusters/v1", func(_ int, r *http.Request, body []byte) []byte {
		switch r.URL.Query().Get("offset") {
		case "0": // reversed, plus one without an id
			return []byte(`[{"id":"b","name":"B","status":"NORMAL"},{"id":"a","name":"A","status":"WARNING","operational":true}]`)
		case "2": // "a" again, changed, and one more
			return []byte(`[{"id":"a","name":"A","status":"FAILED","operational":false},{"name":"no id"}]`)
		}
		return []byte(`[{"id":"c","name":"C"}]`)
	})
	got, err := e.client.ListManagedClusters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID+"="+c.Status)
	}
	if !slices.Equal(ids, []string{"a=FAILED", "b=NORMAL", "c="}) {
		t.Fatalf("got %v, want a (its later copy), b, c", ids)
	}
	if got[1].Operational != nil || got[0].Operational == nil || *got[0].Operational {
		t.Errorf("operational: %v %v, want false and unknown", deref(got[0].Operational), deref(got[1].Operational))
	}
	if !strings.Contains(e.logs.String(), "without an id") {
		t.Errorf("the record without an id was not logged:\n%s", e.logs.String())
	}
}

// ISC ignoring offset would page forever: the same full page twice stops.
func TestListStopsWhenOffsetIsIgnored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{Seed: 8}, func(c *Config) { c.PageSize = 2 })
	rewriting(t, e, "/sources/v1", func(int, *http.Request, []byte) []byte {
		return []byte(`[{"id":"a"},{"id":"b"}]`)
	})
	_, err := e.client.ListSources(t.Context())
	if err == nil || !strings.Contains(err.Error(), "may ignore offset") {
		t.Fatalf("err = %v", err)
	}
	if n := len(e.requestsTo("sources")); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestSourceSinceForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{Seed: 9}, nil)
	rewriting(t, e, "/sources/v1", func(int, *http.Request, []byte) []byte {
		return []byte(`[
			{"id":"a","since":"2021-09-28T15:48:29.3801666300Z","healthy":false,"status":"SOURCE_STATE_SOMETHING_NEW"},
			{"id":"b","since":"yesterday","healthy":null,"status":null,"cluster":null},
			{"id":"c"}]`)
	})
	got, err := e.client.ListSources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2021, 9, 28, 15, 48, 29, 380166630, time.UTC)
	if !got[0].Since.Equal(want) || got[0].Healthy == nil || *got[0].Healthy || got[0].Status != "SOURCE_STATE_SOMETHING_NEW" {
		t.Errorf("a: %+v", got[0])
	}
	for _, s := range got[1:] {
		if !s.Since.IsZero() || s.Healthy != nil || s.Status != "" || s.ClusterID != "" {
			t.Errorf("%s: %+v, want nothing known", s.ID, s)
		}
	}
}
