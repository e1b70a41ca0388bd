package simtenant

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The properties of the spec's Source and ManagedCluster, in its order.
var (
	sourceKeys = []string{"id", "name", "description", "owner", "cluster", "accountCorrelationConfig", "accountCorrelationRule",
		"managerCorrelationMapping", "managerCorrelationRule", "beforeProvisioningRule", "schemas", "passwordPolicies", "features",
		"type", "connector", "connectorClass", "connectorAttributes", "deleteThreshold", "authoritative", "managementWorkgroup",
		"healthy", "status", "since", "connectorId", "connectorName", "connectionType", "connectorImplementationId", "created",
		"modified", "credentialProviderEnabled", "category"}
	clusterKeys = []string{"id", "name", "pod", "org", "type", "configuration", "keyPair", "attributes", "description", "redis",
		"clientType", "ccgVersion", "pinnedConfig", "logConfiguration", "operational", "status", "publicKeyCertificate",
		"publicKeyThumbprint", "publicKey", "encryptionConfiguration", "alertKey", "clientIds", "serviceCount", "ccId", "createdAt",
		"updatedAt", "lastReleaseNotifiedAt", "updatePreferences", "currentInstalledReleaseVersion", "updatePackage",
		"isOutOfDateNotifiedAt", "consolidatedHealthIndicatorsStatus"}
	sourceStatuses = []string{"SOURCE_STATE_ERROR_ACCOUNT_FILE_IMPORT", "SOURCE_STATE_ERROR_CLUSTER", "SOURCE_STATE_ERROR_SOURCE",
		"SOURCE_STATE_ERROR_VA", "SOURCE_STATE_FAILURE_CLUSTER", "SOURCE_STATE_FAILURE_SOURCE", "SOURCE_STATE_HEALTHY",
		"SOURCE_STATE_UNCHECKED_CLUSTER", "SOURCE_STATE_UNCHECKED_CLUSTER_NO_SOURCES", "SOURCE_STATE_UNCHECKED_SOURCE",
		"SOURCE_STATE_UNCHECKED_SOURCE_NO_ACCOUNTS"}
	clusterStatuses = []string{"CONFIGURING", "FAILED", "NO_CLIENTS", "NORMAL", "WARNING"}
	connectorName   = regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
)

// keysInOrder returns the keys of a JSON object in the order they appear.
func keysInOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %.60s", raw)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// sourceView is what tests decode of a source.
type sourceView struct {
	ID, Name, Type, Connector, Status string
	Authoritative, Healthy            bool
	Since                             time.Time
	Cluster                           *ref
	Owner                             *ref
}

func (h *harness) sources(query ...string) []sourceView {
	h.t.Helper()
	r := h.get("/v3/sources", q(query...))
	if r.status != 200 {
		h.t.Fatalf("sources %v: %d %s", query, r.status, r.body)
	}
	var out []sourceView
	if err := json.Unmarshal(r.body, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, x := range items {
		out = append(out, name(x))
	}
	return out
}

func sourceName(s sourceView) string { return s.Name }

func TestSourcesFollowSpec(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 2})
	r := h.get("/v3/sources", nil)
	var raw []json.RawMessage
	if r.status != 200 || json.Unmarshal(r.body, &raw) != nil || len(raw) != len(sourcesCatalog) {
		t.Fatalf("sources: %d %.200s", r.status, r.body)
	}
	clusterIDs := map[string]string{}
	for _, c := range h.tenant.Clusters() {
		clusterIDs[c.ID] = c.Name
	}
	var withoutCluster int
	for _, b := range raw {
		if keys := keysInOrder(t, b); !slices.Equal(keys, sourceKeys) {
			t.Errorf("keys %v\nwant %v", keys, sourceKeys)
		}
		var s sourceView
		var m map[string]any
		if err := json.Unmarshal(b, &s); err != nil || json.Unmarshal(b, &m) != nil {
			t.Fatal(err)
		}
		if !hex32.MatchString(s.ID) || s.Name == "" || s.Type == "" || !connectorName.MatchString(s.Connector) {
			t.Errorf("identity fields: %+v", s)
		}
		if !slices.Contains(sourceStatuses, s.Status) || s.Healthy != (s.Status == SourceHealthy) {
			t.Errorf("status %q healthy %v", s.Status, s.Healthy)
		}
		if since, _ := m["since"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$`).MatchString(since) {
			t.Errorf("since %q", since)
		}
		for _, k := range []string{"created", "modified"} {
			if v, _ := m[k].(string); !msStamp.MatchString(v) {
				t.Errorf("%s %q", k, v)
			}
		}
		if s.Owner == nil || s.Owner.Type != "IDENTITY" || !hex32.MatchString(s.Owner.ID) {
			t.Errorf("owner %+v", s.Owner)
		}
		switch {
		case s.Cluster == nil:
			withoutCluster++
		case s.Cluster.Type != "CLUSTER" || clusterIDs[s.Cluster.ID] != s.Cluster.Name:
			t.Errorf("cluster %+v is not one of %v", s.Cluster, clusterIDs)
		}
		if f, _ := m["features"].([]any); len(f) == 0 {
			t.Errorf("no features")
		}
		if a, _ := m["connectorAttributes"].(map[string]any); len(a) < 3 {
			t.Errorf("connectorAttributes %v", a)
		}
		// By id answers the same object.
		if one := h.get("/v3/sources/"+s.ID, nil); one.status != 200 || string(one.body) != string(b) {
			t.Errorf("get %s: %d", s.ID, one.status)
		}
	}
	if withoutCluster != 1 {
		t.Errorf("%d sources without a cluster, want the one SaaS connector", withoutCluster)
	}
	decodeError(t, h.get("/v3/sources/"+hexN(1), nil), 404, "404 Not found")

	// Activities' items name these sources and no others.
	known := map[string]bool{}
	for _, s := range h.tenant.Sources() {
		known[s.ID] = true
	}
	h.tenant.SeedHistory(200, time.Hour)
	for _, a := range snapshot(h.tenant) {
		for _, it := range a.Items {
			if !known[it.SourceID] {
				t.Fatalf("item on unknown source %s", it.SourceID)
			}
		}
	}

	// The ground truth is what the API shows.
	var api []SourceState
	for _, s := range h.sources() {
		st := SourceState{ID: s.ID, Name: s.Name, Type: s.Type, Connector: s.Connector, Authoritative: s.Authoritative,
			Healthy: s.Healthy, Status: s.Status, Since: s.Since}
		if s.Cluster != nil {
			st.ClusterID = s.Cluster.ID
		}
		api = append(api, st)
	}
	if truth := h.tenant.Sources(); !slices.EqualFunc(api, truth, sameSource) {
		t.Errorf("API %+v\ntruth %+v", api, truth)
	}
}

func sameSource(a, b SourceState) bool {
	same := a.Since.Equal(b.Since)
	a.Since, b.Since = time.Time{}, time.Time{}
	return same && a == b
}

func TestSourceFiltersAndSorters(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	byName := map[string]SourceState{}
	for _, s := range h.tenant.Sources() {
		byName[s.Name] = s
	}
	const (
		ad, wd, sn, okta, sap, sf, gw = "Active Directory", "Workday", "ServiceNow", "Okta", "SAP ERP", "Salesforce", "Google Workspace"
	)
	all := []string{ad, wd, sn, okta, sap, sf, gw}
	owner1 := sourceOwners[1].ID
	filters := []struct {
		filter string
		want   []string
	}{
		{`name eq "Okta"`, []string{okta}},
		{`name co "o"`, []string{ad, wd, sn, sf, gw}},
		{`name sw "S"`, []string{sn, sap, sf}},
		{`name in ("Okta", "Workday")`, []string{wd, okta}},
		{`name gt "S"`, []string{wd, sn, sap, sf}},
		{`name ne "Okta"`, []string{ad, wd, sn, sap, sf, gw}},
		{`name isnull`, nil},
		{`id eq "` + byName[okta].ID + `"`, []string{okta}},
		{`id lt "2c918086"`, []string{ad, wd, sf}},
		{`type sw "Active"`, []string{ad}},
		{`owner.id eq "` + owner1 + `"`, []string{wd, okta, sf}},
		{`features co "PASSWORD"`, []string{ad, okta, sap, sf, gw}},
		{`features ca ("PASSWORD", "UNLOCK")`, []string{ad, okta, sap}},
		{`created gt 2023-01-01T00:00:00Z`, []string{okta, sf, gw}},
		{`created sw "2022-0"`, []string{ad, wd, sn, sap}},
		{`created in (2022-02-08T14:50:03.827Z, 2030-01-01T00:00:00Z)`, []string{ad}},
		{`modified ge 2025-10-01T00:00:00Z`, []string{ad, okta, sf, gw}},
		{`managementWorkgroup.id isnull`, []string{wd, sn, okta, sf, gw}},
		{`description sw "Okta"`, []string{okta}},
		{`authoritative eq true`, []string{wd}},
		{`authoritative eq "true"`, []string{wd}},
		{`authoritative ne true`, []string{ad, sn, okta, sap, sf, gw}},
		{`healthy isnull`, nil},
		{`status eq "SOURCE_STATE_HEALTHY"`, all},
		{`connectionType eq "direct"`, all},
		{`connectorName in ("SAP", "Okta")`, []string{okta, sap}},
		{`category co "Credential"`, nil}, // null for all; null never compares
		{`authoritative eq false and (features co "UNLOCK" or name eq "Workday")`, []string{ad, okta, sap}},
	}
	for _, c := range filters {
		t.Run(c.filter, func(t *testing.T) {
			if got := names(h.sources("filters", c.filter), sourceName); !slices.Equal(got, append([]string{}, c.want...)) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	sorters := []struct {
		sorters string
		want    []string
	}{
		{"name", []string{ad, gw, okta, sap, sf, sn, wd}},
		{"-created", []string{gw, sf, okta, sn, sap, ad, wd}},
		{"authoritative,name", []string{ad, gw, okta, sap, sf, sn, wd}},
		{"-authoritative,-name", []string{wd, sn, sf, sap, okta, gw, ad}},
		{"id", []string{ad, wd, sf, sn, okta, gw, sap}},
		{"-managerCorrelationRule.name", []string{ad, wd, sf, sn, okta, gw, sap}}, // nulls last, then id
		{"owner.name,name", []string{ad, gw, sap, sn, okta, sf, wd}},
	}
	for _, c := range sorters {
		t.Run("sorters="+c.sorters, func(t *testing.T) {
			if got := names(h.sources("sorters", c.sorters), sourceName); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			// Paging without skip or repeat, and count.
			var paged []string
			for off := 0; off < 8; off += 3 {
				r := h.get("/v3/sources", q("sorters", c.sorters, "limit", "3", "offset", itoa(off), "count", "true"))
				if r.header.Get("X-Total-Count") != "7" {
					t.Errorf("X-Total-Count %q", r.header.Get("X-Total-Count"))
				}
				var page []sourceView
				_ = json.Unmarshal(r.body, &page)
				paged = append(paged, names(page, sourceName)...)
			}
			if !slices.Equal(paged, c.want) {
				t.Errorf("paged %v", paged)
			}
		})
	}
	if got := h.get("/v3/sources", q("offset", "7")); string(got.body) != "[]" {
		t.Errorf("offset at the end: %s", got.body)
	}
	for _, bad := range [][]string{
		{"filters", `name le "x"`}, {"filters", `type le "x"`}, {"filters", `healthy eq true`},
		{"filters", `description co "x"`}, {"filters", `category isnull`}, {"filters", `features eq "PASSWORD"`},
		{"filters", `connector eq "active-directory"`}, {"filters", `owner.name eq "x"`}, {"filters", `authoritative gt true`},
		{"filters", `authoritative eq yes`}, {"filters", `name eq Okta`}, {"filters", `features co PASSWORD`},
		{"filters", `created gt yesterday`}, {"filters", `pr name`}, {"filters", `name eq "a" AND name eq "b"`},
		{"sorters", "connector"}, {"sorters", "features"}, {"sorters", "category"}, {"sorters", "cluster.id"},
		{"limit", "251"}, {"offset", "-1"}, {"count", "1"},
	} {
		t.Run(strings.Join(bad, "="), func(t *testing.T) {
			decodeError(t, h.get("/v3/sources", q(bad...)), 400, "400.1 Bad Request Content")
		})
	}
}

type clusterView struct {
	ID, Name, Type, Status string
	Operational            bool
}

func TestManagedClusters(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	r := h.get("/v3/managed-clusters", q("count", "true"))
	var raw []json.RawMessage
	if r.status != 200 || json.Unmarshal(r.body, &raw) != nil || len(raw) != 3 || r.header.Get("X-Total-Count") != "3" {
		t.Fatalf("clusters: %d %q %.200s", r.status, r.header.Get("X-Total-Count"), r.body)
	}
	var api []ClusterState
	for _, b := range raw {
		if keys := keysInOrder(t, b); !slices.Equal(keys, clusterKeys) {
			t.Errorf("keys %v\nwant %v", keys, clusterKeys)
		}
		var c clusterView
		_ = json.Unmarshal(b, &c)
		if !hex32.MatchString(c.ID) || c.Name == "" || (c.Type != "idn" && c.Type != "iai") || !slices.Contains(clusterStatuses, c.Status) {
			t.Errorf("cluster %+v", c)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if kp, _ := m["keyPair"].(map[string]any); !strings.HasPrefix(kp["publicKey"].(string), "-----BEGIN PUBLIC KEY-----\n") {
			t.Errorf("keyPair %v", kp)
		}
		api = append(api, ClusterState(c))
		if one := h.get("/v3/managed-clusters/"+c.ID, nil); one.status != 200 || string(one.body) != string(b) {
			t.Errorf("get %s: %d", c.ID, one.status)
		}
	}
	if truth := h.tenant.Clusters(); !slices.Equal(api, truth) {
		t.Errorf("API %+v\ntruth %+v", api, truth)
	}
	// Every secret is really served, so a test that finds none in an
	// exporter's output proves something.
	secrets := h.tenant.ClusterSecrets()
	if len(secrets) < 3*7 {
		t.Errorf("only %d secrets", len(secrets))
	}
	for _, s := range secrets {
		if len(s) < 16 || !strings.Contains(string(r.body), s) {
			t.Errorf("secret %.40q is not served", s)
		}
	}
	decodeError(t, h.get("/v3/managed-clusters/"+hexN(1), nil), 404, "404 Not found")

	names := func(query ...string) []string {
		var page []clusterView
		r := h.get("/v3/managed-clusters", q(query...))
		if r.status != 200 || json.Unmarshal(r.body, &page) != nil {
			t.Fatalf("%v: %d %s", query, r.status, r.body)
		}
		out := []string{}
		for _, c := range page {
			out = append(out, c.Name)
		}
		return out
	}
	const corp, fra, iai = "Corporate VA Cluster", "Frankfurt VA Cluster", "Identity AI Harvester"
	for _, c := range []struct {
		query []string
		want  []string
	}{
		{nil, []string{corp, fra, iai}},
		{[]string{"filters", `type eq "idn"`}, []string{corp, fra}},
		{[]string{"filters", `name eq "Frankfurt VA Cluster"`}, []string{fra}},
		{[]string{"filters", `operational eq true`}, []string{corp, fra, iai}},
		{[]string{"filters", `operational eq false`}, []string{}},
		{[]string{"filters", `status eq "NORMAL" and type eq "iai"`}, []string{iai}},
		{[]string{"limit", "1", "offset", "1"}, []string{fra}},
		{[]string{"limit", "2", "offset", "2"}, []string{iai}},
	} {
		if got := names(c.query...); !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.query, got, c.want)
		}
	}
	for _, bad := range [][]string{
		{"filters", `type in ("idn")`}, {"filters", `name co "VA"`}, {"filters", `id eq "x"`}, {"filters", `operational eq 1`},
		{"sorters", "name"}, {"limit", "300"},
	} {
		decodeError(t, h.get("/v3/managed-clusters", q(bad...)), 400, "400.1 Bad Request Content")
	}
}

// TestDenyAndFaultsPerFamily checks that Deny and the fault queues reach
// exactly one endpoint family, that the new endpoints share the token check
// and the rate limiter, and how they appear in the request log.
func TestDenyAndFaultsPerFamily(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 1})
	h.tenant.SeedHistory(3, time.Hour)
	first, _ := h.list(q("limit", "1"))
	paths := map[string]string{
		"list":             "/v3/account-activities",
		"get":              "/v3/account-activities/" + first[0].ID,
		"sources":          "/v3/sources",
		"source":           "/v3/sources/" + sourcesCatalog[0].id,
		"managed-clusters": "/v3/managed-clusters",
		"managed-cluster":  "/v3/managed-clusters/" + clustersCatalog[0].id,
	}
	family := map[string]string{"list": "list", "get": "get", "sources": "sources", "source": "sources",
		"managed-clusters": "managed-clusters", "managed-cluster": "managed-clusters"}
	statuses := func() map[string]int {
		out := map[string]int{}
		for ep, p := range paths {
			out[ep] = h.get(p, nil).status
		}
		return out
	}
	for _, denied := range []string{"list", "get", "sources", "managed-clusters"} {
		for _, status := range []int{403, 404} {
			h.tenant.Deny(denied, status)
			for ep, p := range paths {
				r := h.get(p, nil)
				switch {
				case family[ep] != denied && r.status != 200:
					t.Errorf("Deny(%s, %d): %s answered %d", denied, status, ep, r.status)
				case family[ep] == denied && status == 403:
					decodeError(t, r, 403, "403 Forbidden")
				case family[ep] == denied:
					decodeError(t, r, 404, "404 Not found")
				}
			}
		}
		h.tenant.Deny(denied, 0)
	}
	if got := statuses(); slices.ContainsFunc(slices.Collect(maps.Values(got)), func(s int) bool { return s != 200 }) {
		t.Errorf("after Deny(_, 0): %v", got)
	}

	// Fault queues are per family: FailNext stays with the activities.
	h.hooks.inject(QueueActivities, failure(500))
	h.hooks.inject(QueueSources, failure(502))
	h.hooks.inject(QueueClusters, failure(503))
	if r := h.get(paths["managed-cluster"], nil); r.status != 503 {
		t.Errorf("cluster fault: %d", r.status)
	}
	if r := h.get(paths["source"], nil); r.status != 502 {
		t.Errorf("source fault: %d", r.status)
	}
	if r := h.get(paths["list"], nil); r.status != 500 {
		t.Errorf("activity fault: %d", r.status)
	}
	if got := statuses(); slices.ContainsFunc(slices.Collect(maps.Values(got)), func(s int) bool { return s != 200 }) {
		t.Errorf("after the faults: %v", got)
	}

	// The same token check, and the log names the endpoints.
	for ep, p := range paths {
		if r := h.do(http.MethodGet, p, nil, ""); r.status != 401 {
			t.Errorf("%s without a token: %d", ep, r.status)
		}
	}
	seen := map[string]bool{}
	for _, req := range h.tenant.Requests() {
		for ep, p := range paths {
			if req.Path == p && req.Endpoint != ep {
				t.Errorf("%s logged as %q, want %q", p, req.Endpoint, ep)
			}
		}
		seen[req.Endpoint] = true
	}
	for ep := range paths {
		if !seen[ep] {
			t.Errorf("no %s in the request log", ep)
		}
	}

	// One rate limiter for every endpoint.
	lim := newHarness(t, Config{RateLimit: 3})
	for _, p := range []string{"/v3/sources", "/v3/managed-clusters", "/v3/account-activities"} {
		if r := lim.get(p, nil); r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}
	if r := lim.get("/v3/sources", nil); r.status != 429 {
		t.Errorf("fourth request across endpoints: %d, want 429", r.status)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Deny of an unknown family did not panic")
		}
	}()
	h.tenant.Deny("source", 403)
}
