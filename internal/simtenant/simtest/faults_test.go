package simtest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

func postToken(t *testing.T, h *harness, query url.Values, form url.Values, basicID, basicSecret string) (int, map[string]any) {
	t.Helper()
	u := h.base + "/oauth/token"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token body %s: %v", b, err)
	}
	return resp.StatusCode, m
}

func TestFaults(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 11})
	h.tenant.SeedHistory(50, time.Hour)
	h.client = freshClient()
	path := "/v3/account-activities"

	t.Run("fail", func(t *testing.T) {
		h.faults.FailNext(2, 500)
		decodeError(t, h.get(path, nil), 500, "500.0 Internal Fault")
		decodeError(t, h.get(path+"/"+hexN(1), nil), 500, "500.0 Internal Fault")
		h.faults.FailNext(1, 503)
		decodeError(t, h.get(path, nil), 503, "503 Service Unavailable")
		if r := h.get(path, nil); r.status != 200 {
			t.Errorf("after faults: %d", r.status)
		}
	})
	t.Run("reset", func(t *testing.T) {
		h.faults.ResetNext(1)
		if r := h.get(path, nil); r.err == nil {
			t.Errorf("reset: got status %d", r.status)
		}
		if r := h.get(path, nil); r.status != 200 {
			t.Errorf("after reset: %d", r.status)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		h.faults.TruncateNext(1)
		if r := h.get(path, nil); r.err == nil {
			t.Errorf("truncated body read without error")
		}
	})
	t.Run("malform", func(t *testing.T) {
		h.faults.MalformNext(1)
		r := h.get(path, nil)
		var v any
		if r.status != 200 || json.Unmarshal(r.body, &v) == nil {
			t.Errorf("malformed: status %d, body parses: %s", r.status, r.body)
		}
		if _, r := h.list(nil); r.status != 200 {
			t.Errorf("after malform: %d", r.status)
		}
	})
	t.Run("slow", func(t *testing.T) {
		h.faults.SlowNext(1, 2*time.Second)
		impatient := freshClient()
		impatient.Timeout = 100 * time.Millisecond
		resp, err := impatient.Do(newRequest(t, http.MethodGet, h.base+path, h.token))
		closeBody(resp)
		if err == nil {
			t.Errorf("slow request did not time out")
		}
		h.faults.SlowNext(1, 20*time.Millisecond)
		if _, r := h.list(nil); r.status != 200 {
			t.Errorf("short delay should still answer: %d", r.status)
		}
	})
	t.Run("ratelimit", func(t *testing.T) {
		h.faults.RateLimitNext(2, 2500*time.Millisecond)
		for i := 0; i < 2; i++ {
			r := h.get(path, nil)
			if r.status != 429 || r.header.Get("Retry-After") != "3" {
				t.Errorf("429 fault: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
			}
		}
		if r := h.get(path, nil); r.status != 200 {
			t.Errorf("after 429 faults: %d", r.status)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		h.faults.FailNext(1, 502)
		h.faults.RateLimitNext(1, time.Second)
		h.faults.FailNext(1, 500)
		var got []int
		for i := 0; i < 4; i++ {
			got = append(got, h.get(path, nil).status)
		}
		if !slices.Equal(got, []int{502, 429, 500, 200}) {
			t.Errorf("sequence %v", got)
		}
	})
	t.Run("log", func(t *testing.T) {
		log := h.tenant.Requests()
		var faults []string
		for _, r := range log {
			if r.Fault != "" {
				faults = append(faults, r.Fault)
			}
			if r.Endpoint == "list" && r.Fault == "" && r.Status == 200 && r.ClientID != "sim-client-id" {
				t.Errorf("client id %q", r.ClientID)
			}
		}
		want := []string{"fail", "fail", "fail", "reset", "truncate", "malform", "slow", "slow", "ratelimit", "ratelimit", "fail", "ratelimit", "fail"}
		if !slices.Equal(faults, want) {
			t.Errorf("faults in log %v\nwant %v", faults, want)
		}
		if log[0].Endpoint != "token" || log[0].Status != 200 || log[0].ClientID != "sim-client-id" {
			t.Errorf("first entry %+v", log[0])
		}
		for _, r := range log {
			if r.Fault == "reset" && r.Status != 0 {
				t.Errorf("reset logged with status %d", r.Status)
			}
		}
	})
}

func TestTruncate(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1, Seed: 5})
	h.tenant.SeedHistory(30, time.Hour)
	h.client = freshClient()
	h.faults.TruncateNext(1)
	resp, err := h.client.Do(newRequest(t, http.MethodGet, h.base+"/v3/account-activities?limit=20", h.token))
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK || resp.ContentLength < 1000 {
		t.Fatalf("status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read error %v, want unexpected EOF", err)
	}
	if int64(len(b)) >= resp.ContentLength || len(b) == 0 {
		t.Errorf("read %d of %d bytes", len(b), resp.ContentLength)
	}
	if _, r := h.list(nil); r.status != 200 {
		t.Errorf("after truncate: %d", r.status)
	}
}

func TestOnList(t *testing.T) {
	h := newHarness(t, simtenant.Config{RateLimit: -1})
	for i := 1; i <= 5; i++ {
		a := scripted(hexN(i), "appRequest", at(time.Duration(i)*time.Second), simtenant.ExecExecuting)
		h.tenant.Upsert(a)
	}
	var calls []int
	h.faults.OnList(func(n int) {
		calls = append(calls, n)
		if n == 2 {
			// A record on page 1 moves to the end while the client pages.
			h.tenant.Modify(hexN(1), func(a *simtenant.Activity) { a.Type = simtenant.Ptr("Identity Refresh") })
		}
	})
	p1, _ := h.list(q("limit", "2", "sorters", "modified"))
	p2, _ := h.list(q("limit", "2", "offset", "2", "sorters", "modified"))
	h.get("/v3/account-activities", q("limit", "x")) // a 400 does not count
	h.get("/v3/account-activities/"+hexN(1), nil)    // nor does a get
	p3, _ := h.list(q("limit", "2", "offset", "4", "sorters", "modified"))
	if !slices.Equal(calls, []int{1, 2, 3}) {
		t.Errorf("OnList calls %v", calls)
	}
	got := append(append(ids(p1), ids(p2)...), ids(p3)...)
	want := []string{hexN(1), hexN(2), hexN(4), hexN(5), hexN(1)}
	if !slices.Equal(got, want) {
		t.Errorf("paging across a modification: %v, want %v", got, want)
	}
	h.faults.OnList(nil)
	h.list(nil)
	if len(calls) != 3 {
		t.Errorf("cleared hook still called")
	}
}

func TestFailTokenNext(t *testing.T) {
	h := newHarness(t, simtenant.Config{})
	h.faults.FailTokenNext(2, 503)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"sim-client-id"}, "client_secret": {"sim-client-secret"}}
	for i := 0; i < 2; i++ {
		if status, _ := postToken(t, h, nil, form, "", ""); status != 503 {
			t.Errorf("attempt %d: %d, want 503", i, status)
		}
	}
	if status, _ := postToken(t, h, nil, form, "", ""); status != 200 {
		t.Errorf("after faults: %d", status)
	}
	h.faults.FailTokenNext(1, 401)
	if status, m := postToken(t, h, nil, form, "", ""); status != 401 || m["error"] != "invalid_client" {
		t.Errorf("401 fault: %d %v", status, m)
	}
	// Token faults do not touch API requests.
	if r := h.get("/v3/account-activities", nil); r.status != 200 {
		t.Errorf("API after token faults: %d", r.status)
	}
}
