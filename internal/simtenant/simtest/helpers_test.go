package simtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

// These helpers mirror the tenant's own test helpers, through its exported
// API only: simtest sees a tenant as every other test does.

const (
	contentTypeJSON = "application/json;charset=utf-8"
	msLayout        = "2006-01-02T15:04:05.000Z"
	taskRetention   = 90 * 24 * time.Hour
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newFakeClock is the tests' clock (token expiry, rate windows, lifecycles
// move without sleeping), at a fixed instant with nanoseconds.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 11, 22, 10, 15, 30, 123456789, time.UTC))
}

type harness struct {
	t      *testing.T
	tenant *simtenant.Tenant
	faults *Injector
	truth  *Recorder
	clock  *fakeclock.Clock
	base   string
	token  string
	client *http.Client
}

// newHarness starts a tenant built by New on loopback with a fake clock;
// cfg.Now is overwritten.
func newHarness(t *testing.T, cfg simtenant.Config) *harness {
	t.Helper()
	clk := newFakeClock()
	cfg.Now = clk.Now
	tn := New(cfg)
	base, err := tn.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tn.Close() })
	h := &harness{t: t, tenant: tn, faults: Faults(tn), truth: Truth(tn), clock: clk, base: base, client: &http.Client{Timeout: 10 * time.Second}}
	h.token = h.fetchToken("sim-client-id", "sim-client-secret")
	return h
}

func (h *harness) fetchToken(id, secret string) string {
	h.t.Helper()
	r := h.postToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if r.err != nil || r.status != http.StatusOK {
		h.t.Fatalf("token: %d %v %s", r.status, r.err, r.body)
	}
	if err := json.Unmarshal(r.body, &tr); err != nil {
		h.t.Fatal(err)
	}
	return tr.AccessToken
}

// doToken asks for a token with the default credentials and returns the
// raw answer.
func (h *harness) doToken() response {
	h.t.Helper()
	return h.postToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {"sim-client-id"}, "client_secret": {"sim-client-secret"}})
}

func (h *harness) postToken(form url.Values) response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.send(req)
}

func (h *harness) send(req *http.Request) response {
	resp, err := h.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer closeBody(resp)
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (h *harness) do(method, path string, query url.Values, token string) response {
	h.t.Helper()
	u := h.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, u, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.send(req)
}

func (h *harness) get(path string, query url.Values) response {
	h.t.Helper()
	return h.do(http.MethodGet, path, query, h.token)
}

// view is what tests read back of an activity from the wire.
type view struct {
	ID               string     `json:"id"`
	Type             *string    `json:"type"`
	Created          time.Time  `json:"created"`
	Modified         *time.Time `json:"modified"`
	Completed        *time.Time `json:"completed"`
	CompletionStatus *string    `json:"completionStatus"`
	ExecutionStatus  string     `json:"executionStatus"`
}

func (v *view) isTerminal() bool {
	return v.Completed != nil || v.ExecutionStatus == simtenant.ExecCompleted || v.ExecutionStatus == simtenant.ExecTerminated
}

// list fetches one page of /v3 account activities and decodes it, failing
// the test on anything but 200.
func (h *harness) list(query url.Values) ([]view, response) {
	h.t.Helper()
	r := h.get("/v3/account-activities", query)
	if r.err != nil || r.status != 200 {
		h.t.Fatalf("list %v: status %d err %v body %s", query, r.status, r.err, r.body)
	}
	var out []view
	if err := json.Unmarshal(r.body, &out); err != nil {
		h.t.Fatalf("decode: %v", err)
	}
	return out, r
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func ids(as []view) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// decodeError checks the ErrorResponseDto shape and returns its message.
func decodeError(t *testing.T, r response, wantStatus int, wantCode string) string {
	t.Helper()
	if r.status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", r.status, wantStatus, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	var e struct {
		DetailCode string `json:"detailCode"`
		TrackingID string `json:"trackingId"`
		Messages   []struct {
			Locale, LocaleOrigin, Text string
		} `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if e.DetailCode != wantCode {
		t.Errorf("detailCode %q, want %q", e.DetailCode, wantCode)
	}
	if len(e.TrackingID) != 32 || strings.Trim(e.TrackingID, "0123456789abcdef") != "" {
		t.Errorf("trackingId %q is not 32 hex", e.TrackingID)
	}
	if len(e.Messages) != 1 || e.Messages[0].Locale != "en-US" || e.Messages[0].LocaleOrigin != "DEFAULT" || e.Messages[0].Text == "" {
		t.Errorf("messages %+v", e.Messages)
	}
	if len(e.Messages) == 0 {
		return ""
	}
	return e.Messages[0].Text
}

// at returns a millisecond timestamp relative to the fixed test epoch.
func at(offset time.Duration) time.Time {
	return time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC).Add(offset)
}

// scripted builds a minimal activity for tests that script histories.
func scripted(id, typ string, created time.Time, exec string) simtenant.Activity {
	a := simtenant.Activity{ID: id, Name: id, Created: created, Modified: simtenant.Ptr(created), ExecutionStatus: exec, Errors: []string{}, Warnings: []string{}}
	if typ != "" {
		a.Type = simtenant.Ptr(typ)
	}
	return a
}

func closeBody(resp *http.Response) {
	if resp != nil {
		_ = resp.Body.Close()
	}
}

// newRequest builds a request with a bearer token, for tests that need
// headers the harness does not set.
func newRequest(t *testing.T, method, url, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// freshClient opens a new connection per request: Go's transport silently
// retries an idempotent request whose reused connection was reset, which
// would hide the fault under test.
func freshClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

func hexN(n int) string { return fmt.Sprintf("%032x", n) }

// hexes names the fixture ids n... in order.
func hexes(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, hexN(n))
	}
	return out
}

// elements splits a JSON array into its elements' raw text.
func elements(t *testing.T, body []byte) []string {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("page does not parse: %v", err)
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		out[i] = string(r)
	}
	return out
}

// snapshot is every activity's newest version, visible or not, by created
// then id.
func snapshot(tn *simtenant.Tenant) []simtenant.Activity {
	var out []simtenant.Activity
	tn.EachActivity(func(a *simtenant.Activity) { out = append(out, a.Clone()) })
	slices.SortFunc(out, func(x, y simtenant.Activity) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

func stored(tn *simtenant.Tenant) int {
	n := 0
	tn.EachActivity(func(*simtenant.Activity) { n++ })
	return n
}

// runSim seeds history and then steps with a fake clock.
func runSim(seed int64, edge simtenant.EdgeCases, steps int) (*simtenant.Tenant, *fakeclock.Clock) {
	clk := newFakeClock()
	tn := New(simtenant.Config{Seed: seed, Now: clk.Now, EdgeCases: edge})
	tn.SeedHistory(2000, 72*time.Hour)
	for range steps {
		clk.Advance(3 * time.Second)
		tn.Step()
	}
	return tn, clk
}

// taskView is what tests read back of a task from the wire.
type taskView struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	UniqueName string `json:"uniqueName"`
	Launcher   string `json:"launcher"`
	Target     *struct {
		ID   string  `json:"id"`
		Type *string `json:"type"`
		Name string  `json:"name"`
	} `json:"target"`
	Created          time.Time      `json:"created"`
	Modified         *time.Time     `json:"modified"`
	Launched         *time.Time     `json:"launched"`
	Completed        *time.Time     `json:"completed"`
	CompletionStatus *string        `json:"completionStatus"`
	Messages         []any          `json:"messages"`
	Attributes       map[string]any `json:"attributes"`
	PercentComplete  int            `json:"percentComplete"`
}

func (v *taskView) source() string {
	if v.Target == nil {
		return "none"
	}
	return v.Target.ID
}

// duration is what a client computes: completed minus launched, or minus
// created for a task never launched.
func (v *taskView) duration() float64 {
	start := v.Created
	if v.Launched != nil {
		start = *v.Launched
	}
	return float64(v.Completed.UnixMilli()-start.UnixMilli()) / 1000
}

func (h *harness) taskPage(path string, query ...string) ([]taskView, response) {
	h.t.Helper()
	r := h.get(path, q(query...))
	var out []taskView
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		h.t.Fatalf("%s %v: %d %.300s", path, query, r.status, r.body)
	}
	return out, r
}

// allTasks pages through a task list with -created and offsets.
func (h *harness) allTasks(path string, query ...string) []taskView {
	h.t.Helper()
	var out []taskView
	for off := 0; ; off += 250 {
		page, _ := h.taskPage(path, append([]string{"sorters", "-created", "limit", "250", "offset", strconv.Itoa(off)}, query...)...)
		out = append(out, page...)
		if len(page) < 250 {
			return out
		}
	}
}

func taskIDs(ts []taskView) []string {
	out := []string{}
	for _, v := range ts {
		out = append(out, v.ID)
	}
	return out
}
