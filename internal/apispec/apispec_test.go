package apispec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/apispec"
)

// Records the harness's tests answer with: valid for every family's schema
// (beta's CancelableAccountActivity, v1's and v2025's TaskStatus…).
var (
	activity = map[string]any{
		"id": "2c9180835d2e5168015d32f890ca1581", "name": "2c9180835d2e5168015d32f890ca1581",
		"created": "2026-12-01T10:00:00.000Z", "modified": "2026-12-01T10:05:00.123456789Z",
		"completed": "2026-12-01T10:05:00Z", "completionStatus": "SUCCESS", "type": "Identity Refresh",
		"requesterIdentitySummary": nil, "targetIdentitySummary": nil, "errors": []any{}, "warnings": nil,
		"items": []any{}, "executionStatus": "COMPLETED", "clientMetadata": nil,
	}
	source = map[string]any{
		"id": "2c9180835d191a86015d28455b4a2329", "name": "Workday", "description": "HR",
		"owner":     map[string]any{"type": "IDENTITY", "id": "2c91808568c529c60168cca6f90c1313", "name": "Jane Doe"},
		"connector": "workday", "type": "Workday", "authoritative": true, "healthy": true,
		"status": "SOURCE_STATE_HEALTHY", "cluster": nil, "managerCorrelationMapping": nil,
		"created": "2022-02-08T14:50:03.827Z", "modified": "2024-01-23T18:08:50.897Z", "since": "2021-09-28T15:48:29.3801666300Z",
	}
	cluster = map[string]any{
		"id": "e1ff7bb24c934240bbf55e1aa39e41c5", "name": "Austin VA", "type": "idn", "clientType": "CCG",
		"ccgVersion": "v01", "operational": true, "status": "NORMAL",
	}
	task = map[string]any{
		"id": "id12345", "type": "QUARTZ", "uniqueName": "Cloud Account Aggregation", "description": "Aggregate from the specified application",
		"parentName": nil, "launcher": "System", "target": nil, "created": "2026-12-01T10:00:00.000Z", "modified": nil,
		"launched": nil, "completed": nil, "completionStatus": nil, "messages": []any{}, "returns": []any{},
		"attributes": map[string]any{}, "progress": nil, "percentComplete": 0,
	}
)

// validAnswer is a 200 body every family's document accepts for the path.
func validAnswer(path string) any {
	switch {
	case strings.Contains(path, "account-activities"):
		if strings.HasSuffix(path, "account-activities") || strings.HasSuffix(path, "account-activities/v1") {
			return []any{activity}
		}
		return activity
	case strings.Contains(path, "sources"):
		return []any{source}
	case strings.Contains(path, "managed-clusters"):
		return []any{cluster}
	case strings.Contains(path, "task-status"):
		return []any{task}
	}
	return nil
}

// tenant is a test server that answers every operation of the table with
// validAnswer, or what answer says.
type tenant struct {
	*httptest.Server
	mu     sync.Mutex
	answer func(w http.ResponseWriter, r *http.Request) bool // true if it answered
}

func newTenant(t *testing.T) *tenant {
	tn := &tenant{}
	tn.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn.mu.Lock()
		answer := tn.answer
		tn.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprint(w, `{"access_token":"t","token_type":"bearer","expires_in":749}`)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		if r.URL.Query().Get("count") == "true" {
			w.Header().Set("X-Total-Count", "1")
		}
		_ = json.NewEncoder(w).Encode(validAnswer(r.URL.Path))
	}))
	t.Cleanup(tn.Close)
	return tn
}

func (tn *tenant) set(answer func(w http.ResponseWriter, r *http.Request) bool) {
	tn.mu.Lock()
	tn.answer = answer
	tn.mu.Unlock()
}

// answerWith answers status and body (JSON) to every request.
func answerWith(status int, body any) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
		return true
	}
}

// recorder collects what the Transport reports instead of failing the test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.errs
	r.errs = nil
	return errs
}

// request builds a GET of the table's kind: bearer token, and the
// experimental header where ISC wants it.
func request(t testing.TB, base, uri string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	if strings.HasPrefix(uri, "/v2026/task-status") {
		req.Header.Set("X-SailPoint-Experimental", "true")
	}
	return req
}

func do(t testing.TB, c *http.Client, req *http.Request) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

// correctURI is a request of the operation name ("v3 GET /sources") with
// the filters and sorters it allows.
func correctURI(name string) string {
	f := strings.Fields(name) // family, method, template
	family, template := f[0], f[2]
	path := strings.ReplaceAll(template, "{id}", "2c9180835d2e5168015d32f890ca1581")
	if family != "v1" {
		path = "/" + family + path
	}
	q := url.Values{}
	switch {
	case strings.Contains(template, "{id}"):
		return path
	case strings.HasPrefix(template, "/account-activities"):
		q.Set("filters", "modified ge 2026-12-01T00:00:00.000Z")
		q.Set("sorters", "modified")
	case strings.HasPrefix(template, "/sources"):
		q.Set("filters", `name sw "Work" and (healthy isnull or not authoritative eq false) and features ca ("PROVISIONING","SEARCH")`)
		q.Set("sorters", "name,-id")
	case strings.HasPrefix(template, "/managed-clusters"):
		q.Set("filters", "operational eq true")
	case strings.HasPrefix(template, "/task-status"):
		q.Set("filters", `type eq "CLOUD_ACCOUNT_AGGREGATION" and completionStatus isnull`)
		q.Set("sorters", "-created")
	}
	q.Set("limit", "250")
	q.Set("offset", "0")
	q.Set("count", "true")
	return path + "?" + q.Encode()
}

// TestAcceptsCorrectTraffic sends a correct request of every operation of
// the table, concurrently, and answers each correctly: nothing to report,
// and Seen counts each once.
func TestAcceptsCorrectTraffic(t *testing.T) {
	spec := apispec.Load(t)
	tn := newTenant(t)
	rec := &recorder{TB: t}
	c := &http.Client{Transport: spec.Transport(rec, http.DefaultTransport)}

	do(t, c, func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, tn.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		return req
	}())
	var wg sync.WaitGroup
	for _, name := range apispec.Operations() {
		req := request(t, tn.URL, correctURI(name))
		wg.Go(func() { do(t, c, req) })
	}
	wg.Wait()
	for _, e := range rec.take() {
		t.Error(e)
	}
	if unseen := spec.Unseen(); len(unseen) > 0 {
		t.Errorf("operations not exercised: %v", unseen)
	}
	if unseen := spec.Unseen("v3"); len(unseen) > 0 {
		t.Errorf("v3 operations not exercised: %v", unseen)
	}
	seen := spec.Seen()
	for _, name := range apispec.Operations() {
		if seen[name] != 1 {
			t.Errorf("Seen[%q] = %d, want 1", name, seen[name])
		}
	}
	if len(seen) != len(apispec.Operations()) {
		t.Errorf("Seen has %d operations, the table %d: %v", len(seen), len(apispec.Operations()), seen)
	}
}

// TestReportsViolations sends one wrong request, or answers one wrong
// answer, per case, and wants the one violation it is, with the operation,
// the field and the value.
func TestReportsViolations(t *testing.T) {
	spec := apispec.Load(t)
	tn := newTenant(t)
	rec := &recorder{TB: t}
	c := &http.Client{Transport: spec.Transport(rec, http.DefaultTransport)}

	without := func(m map[string]any, key string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if k != key {
				out[k] = v
			}
		}
		return out
	}
	with := func(m map[string]any, key string, v any) map[string]any {
		out := without(m, key)
		out[key] = v
		return out
	}
	for _, tc := range []struct {
		name   string
		method string
		uri    string
		header http.Header // added to request's
		answer func(w http.ResponseWriter, r *http.Request) bool
		want   []string // all in the one message
	}{
		{name: "undeclared query parameter", uri: "/v3/sources?limit=250&offset=0&include=all",
			want: []string{"v3 GET /sources: query parameter include = all:", "declares no such parameter"}},
		{name: "filter on a field not allowed", uri: "/v2025/task-status?filters=" + url.QueryEscape(`launcher eq "System"`),
			want: []string{"v2025 GET /task-status: filters field = launcher:", "completionStatus, id, sourceId, type"}},
		{name: "filter operator not allowed", uri: "/v3/account-activities?filters=" + url.QueryEscape(`type co "Refresh"`),
			want: []string{"v3 GET /account-activities: filters operator of type = co:"}},
		{name: "sorter not allowed", uri: "/beta/task-status?sorters=-modified",
			want: []string{"beta GET /task-status (checked against v2025's document): sorters = -modified:", "sorts only on created"}},
		{name: "limit 251", uri: "/v2024/account-activities?limit=251",
			want: []string{"v2024 GET /account-activities: query parameter limit = 251:", "at most 250"}},
		{name: "negative offset", uri: "/account-activities/v1?offset=-1",
			want: []string{"v1 GET /account-activities/v1: query parameter offset = -1:"}},
		{name: "missing experimental header", uri: "/v2026/task-status?limit=250", header: http.Header{"X-Sailpoint-Experimental": nil},
			want: []string{"v2026 GET /task-status (checked against v2025's document): header X-SailPoint-Experimental = (absent):"}},
		{name: "experimental header where not marked", uri: "/v3/managed-clusters", header: http.Header{"X-Sailpoint-Experimental": {"true"}},
			want: []string{"v3 GET /managed-clusters: header X-SailPoint-Experimental = true:", "not experimental"}},
		{name: "answer missing a required field", uri: "/v2025/task-status",
			answer: answerWith(200, []any{without(task, "launcher")}),
			want:   []string{"answer of", "v2025 GET /task-status: body /0/launcher = (absent):", `property "launcher" is missing`}},
		{name: "answer field of a wrong type", uri: "/sources/v1",
			answer: answerWith(200, []any{with(source, "healthy", "yes")}),
			want:   []string{"v1 GET /sources/v1: body /0/healthy = \"yes\":", "boolean"}},
		{name: "undocumented status", uri: "/v3/account-activities/2c9180835d2e5168015d32f890ca1581",
			answer: answerWith(http.StatusTeapot, map[string]any{"message": "no"}),
			want:   []string{"v3 GET /account-activities/{id}: status = 418:", "400, 401, 403, 404, 429, 500"}},
		{name: "unknown path", uri: "/v3/task-status",
			want: []string{"v3 GET /task-status: path = /v3/task-status:"}},
		{name: "unknown method", method: http.MethodDelete, uri: "/v2025/sources",
			want: []string{"v2025 DELETE /sources: method = DELETE:", "only GET"}},
		{name: "filter not in the language", uri: "/v3/account-activities?filters=" + url.QueryEscape(`type EQ "x"`),
			want: []string{"v3 GET /account-activities: query parameter filters = \"type EQ \\\"x\\\"\":", "not lowercase"}},
		{name: "quoted date-time", uri: "/v3/account-activities?filters=" + url.QueryEscape(`modified ge "2026-12-01T00:00:00Z"`),
			want: []string{"v3 GET /account-activities: filters value of modified = \"2026-12-01T00:00:00Z\":", "bare RFC 3339"}},
		{name: "malformed query", uri: "/v3/sources?limit=250;offset=0",
			want: []string{"v3 GET /sources: query = limit=250;offset=0:", "not a well-formed query"}},
		{name: "no bearer token", uri: "/v2025/managed-clusters", header: http.Header{"Authorization": nil},
			want: []string{"v2025 GET /managed-clusters: header Authorization = (absent):"}},
		{name: "unknown enum value", uri: "/v2026/sources",
			answer: answerWith(200, []any{with(source, "status", "SOURCE_STATE_NEW")}),
			want:   []string{"v2026 GET /sources (checked against v2025's document): body /0/status = \"SOURCE_STATE_NEW\":", "allowed values"}},
		{name: "count=true without X-Total-Count", uri: "/v3/managed-clusters?count=true",
			answer: answerWith(200, []any{cluster}),
			want:   []string{"v3 GET /managed-clusters: header X-Total-Count = (absent):"}},
		{name: "answer not JSON", uri: "/v3/managed-clusters",
			answer: func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "text/html")
				_, _ = fmt.Fprint(w, "<html>")
				return true
			},
			want: []string{"v3 GET /managed-clusters: header Content-Type = text/html:", "application/json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn.set(tc.answer)
			req := request(t, tn.URL, tc.uri)
			if tc.method != "" {
				req.Method = tc.method
			}
			for k, v := range tc.header {
				req.Header.Del(k)
				for _, x := range v {
					req.Header.Add(k, x)
				}
			}
			do(t, c, req)
			got := rec.take()
			if len(got) != 1 {
				t.Fatalf("reported %d violations, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			for _, w := range tc.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("reported\n\t%s\nwithout %q", got[0], w)
				}
			}
		})
	}
}

// TestAllowUnknownEnums: an enum value the document does not list is a
// violation unless Options.AllowUnknownEnums names its field.
func TestAllowUnknownEnums(t *testing.T) {
	body := []any{source, map[string]any{"name": "Flat file", "owner": nil, "connector": "delimited-file", "status": "SOURCE_STATE_NEW"}}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req := request(t, "http://127.0.0.1:1", "/v3/sources")
	header := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		allow []string
		ok    bool
	}{
		{nil, false},
		{[]string{"status"}, true},
		{[]string{"/*/status"}, true},
		{[]string{"/1/status"}, true},
		{[]string{"/0/status"}, false},
		{[]string{"/*/owner/type", "name", "/status"}, false},
	} {
		spec := apispec.LoadWith(t, apispec.Options{AllowUnknownEnums: tc.allow})
		err := spec.CheckResponse(req, 200, header, raw)
		if (err == nil) != tc.ok {
			t.Errorf("AllowUnknownEnums %q: CheckResponse = %v, want ok %v", tc.allow, err, tc.ok)
		}
		var vs apispec.Violations
		if err != nil && (!errors.As(err, &vs) || len(vs) != 1 || vs[0].Field != "body /1/status" || vs[0].Value != `"SOURCE_STATE_NEW"`) {
			t.Errorf("AllowUnknownEnums %q: CheckResponse = %#v", tc.allow, err)
		}
	}
}

// TestCheckDirect: CheckRequest and CheckResponse without a transport,
// several violations of one request at once, and token requests unchecked.
func TestCheckDirect(t *testing.T) {
	spec := apispec.Load(t)
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/v3/account-activities?limit=0x10&offset=1&offset=2&sorters=created,,-name&filters="+url.QueryEscape(`(type eq "A" or not created lt 2026-01-01T00:00:00Z) and modified pr`), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	err = spec.CheckRequest(req)
	var vs apispec.Violations
	if !errors.As(err, &vs) {
		t.Fatalf("CheckRequest = %v", err)
	}
	var got []string
	for _, v := range vs {
		if v.Operation != "v3 GET /account-activities" {
			t.Errorf("violation of %q", v.Operation)
		}
		got = append(got, v.Field+" = "+v.Value)
	}
	want := []string{
		"header Authorization = Basic …",
		"query parameter offset = 1, 2",
		"query parameter limit = 0x10",
		"query parameter filters = " + strconv.Quote(`(type eq "A" or not created lt 2026-01-01T00:00:00Z) and modified pr`),
		`sorters = ""`,
		"sorters = -name",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if seen := spec.Seen()["v3 GET /account-activities"]; seen != 1 {
		t.Errorf("Seen = %d", seen)
	}
	if unseen := spec.Unseen("v3"); strings.Join(unseen, ", ") != "v3 GET /account-activities/{id}, v3 GET /sources, v3 GET /managed-clusters" {
		t.Errorf("Unseen(v3) = %v", unseen)
	}

	token, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/oauth/token", nil)
	if err := spec.CheckRequest(token); err != nil {
		t.Errorf("token request: %v", err)
	}
	if err := spec.CheckResponse(token, 401, http.Header{}, []byte("nope")); err != nil {
		t.Errorf("token answer: %v", err)
	}
	if len(spec.Seen()) != 1 {
		t.Errorf("Seen counts the token request: %v", spec.Seen())
	}
}
