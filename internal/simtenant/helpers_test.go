package simtenant

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
)

// newFakeClock is the tests' clock (token expiry, rate windows, lifecycles
// move without sleeping), at a fixed instant with nanoseconds.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 11, 22, 10, 15, 30, 123456789, time.UTC))
}

type harness struct {
	t      *testing.T
	tenant *Tenant
	hooks  *stubHooks
	clock  *fakeclock.Clock
	base   string
	token  string
	client *http.Client
}

// newHarness starts a tenant on loopback with a fake clock and stubHooks
// attached; cfg.Now and cfg.Observer are overwritten.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clk := newFakeClock()
	cfg.Now = clk.Now
	hooks := newStubHooks()
	cfg.Observer = hooks
	tn := New(cfg)
	tn.Interceptor(func() Interceptor { return hooks })
	base, err := tn.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tn.Close() })
	h := &harness{t: t, tenant: tn, hooks: hooks, clock: clk, base: base, client: &http.Client{Timeout: 10 * time.Second}}
	h.token = h.fetchToken("sim-client-id", "sim-client-secret")
	return h
}

func (h *harness) fetchToken(id, secret string) string {
	h.t.Helper()
	r := h.postToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	var tr tokenResponse
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

// view is what tests read back of an activity from the wire; the package
// itself never decodes its own JSON.
type view struct {
	ID               string     `json:"id"`
	Type             *string    `json:"type"`
	Created          time.Time  `json:"created"`
	Modified         *time.Time `json:"modified"`
	Completed        *time.Time `json:"completed"`
	CompletionStatus *string    `json:"completionStatus"`
	ExecutionStatus  string     `json:"executionStatus"`
}

// list fetches one page of /v3 account activities and decodes it, failing
// the test on anything but 200.
func (h *harness) list(query url.Values) ([]view, response) {
	h.t.Helper()
	return h.listAt("/v3/account-activities", query)
}

func (h *harness) listAt(path string, query url.Values) ([]view, response) {
	h.t.Helper()
	r := h.get(path, query)
	if r.err != nil || r.status != 200 {
		h.t.Fatalf("list %s %v: status %d err %v body %s", path, query, r.status, r.err, r.body)
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
		Causes []any `json:"causes"`
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
	if wantStatus == 400 && (e.Causes == nil || !strings.Contains(string(r.body), `"causes":[]`)) {
		t.Errorf("400 without causes: %s", r.body)
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
func scripted(id, typ string, created time.Time, exec string) Activity {
	a := Activity{ID: id, Name: id, Created: created, Modified: Ptr(created), ExecutionStatus: exec, Errors: []string{}, Warnings: []string{}}
	if typ != "" {
		a.Type = Ptr(typ)
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

func hexN(n int) string { return fmt.Sprintf("%032x", n) }

// hexes names the fixture ids n... in order.
func hexes(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, hexN(n))
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// stubHooks stands in, in the tenant's own tests, for what simtest attaches
// (simtest imports this package, so these tests cannot import it): an
// Interceptor serving queued faults per queue, a function before lists and
// replacement texts, and an Observer keeping what it is told.
type stubHooks struct {
	mu       sync.Mutex
	faults   map[string][]Fault
	before   func(collection string, n int)
	raw      map[string]string // by collection + "/" + id
	finished []string          // "activities/<id>" or "tasks/<id>", in order
}

func newStubHooks() *stubHooks {
	return &stubHooks{faults: map[string][]Fault{}, raw: map[string]string{}}
}

func (s *stubHooks) Fault(queue string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[queue]
	if len(q) == 0 {
		return Fault{}
	}
	s.faults[queue] = q[1:]
	return q[0]
}

func (s *stubHooks) BeforeList(collection string, n int) {
	s.mu.Lock()
	f := s.before
	s.mu.Unlock()
	if f != nil {
		f(collection, n)
	}
}

func (s *stubHooks) Replace(collection, id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.raw[collection+"/"+id]
	return raw, ok
}

func (s *stubHooks) ActivityTerminal(a *Activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = append(s.finished, CollectionActivities+"/"+a.ID)
}

func (s *stubHooks) TaskTerminal(k *Task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = append(s.finished, CollectionTasks+"/"+k.ID)
}

// inject queues one fault for the next request of the queue.
func (s *stubHooks) inject(queue string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[queue] = append(s.faults[queue], f)
}

func (s *stubHooks) onList(f func(collection string, n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = f
}

// replace serves raw for the element; "" stops.
func (s *stubHooks) replace(collection, id, raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if raw == "" {
		delete(s.raw, collection+"/"+id)
		return
	}
	s.raw[collection+"/"+id] = raw
}

// seen is what the observer was told, in order.
func (s *stubHooks) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.finished)
}

func failure(status int) Fault { return Fault{Kind: FaultFail, Status: status} }
