package simtenant

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSorters(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	// ids 1..6: two share a type and a modified instant to exercise the id
	// tie-break; 3 has a null type and 4 a null modified.
	mk := func(n int, typ string, created, modified time.Duration, nullMod bool) Activity {
		a := scripted(hexN(n), typ, at(created), ExecCompleted)
		a.Modified = Ptr(at(modified))
		if nullMod {
			a.Modified = nil
		}
		return a
	}
	for _, a := range []Activity{
		mk(6, "appRequest", 5*time.Second, time.Minute, false),
		mk(2, "appRequest", 1*time.Second, time.Minute, false),
		mk(1, "Identity Refresh", 0, 3*time.Minute, false),
		mk(3, "", 2*time.Second, 2*time.Minute, false),
		mk(4, "Certification", 3*time.Second, 0, true),
		mk(5, "Identity Refresh", 4*time.Second, 4*time.Minute, false),
	} {
		h.tenant.Upsert(a)
	}
	cases := []struct {
		sorters string
		want    []int
	}{
		{"", []int{1, 2, 3, 4, 5, 6}},
		{"created", []int{1, 2, 3, 4, 5, 6}},
		{"-created", []int{6, 5, 4, 3, 2, 1}},
		{"type", []int{3, 4, 1, 5, 2, 6}},
		{"-type", []int{2, 6, 1, 5, 4, 3}},
		{"type,-created", []int{3, 4, 5, 1, 6, 2}},
		{"modified", []int{4, 2, 6, 3, 1, 5}},
		{"-modified", []int{5, 1, 3, 2, 6, 4}},
		{"modified,-created", []int{4, 6, 2, 3, 1, 5}},
		{" type , -modified ", []int{3, 4, 5, 1, 2, 6}},
	}
	for _, c := range cases {
		t.Run(c.sorters, func(t *testing.T) {
			got, _ := h.list(q("sorters", c.sorters))
			var want []string
			for _, n := range c.want {
				want = append(want, hexN(n))
			}
			if g := ids(got); !slices.Equal(g, want) {
				t.Errorf("got %v\nwant %v", g, want)
			}
		})
	}
	for _, bad := range []string{"name", "-id", "created,,type", "created,", "--created", "Created"} {
		t.Run("reject "+bad, func(t *testing.T) {
			decodeError(t, h.get("/v3/account-activities", q("sorters", bad)), 400, "400.1 Bad Request Content")
		})
	}
}

func TestPagingAndCount(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 7})
	h.tenant.SeedHistory(600, 48*time.Hour)
	h.tenant.BulkRefresh(300) // a large tie on created and modified

	all := []string{}
	for off := 0; ; off += 100 {
		page, r := h.list(q("limit", "100", "offset", strconv.Itoa(off), "sorters", "modified", "count", "true"))
		if got := r.header.Get("X-Total-Count"); got != "900" {
			t.Fatalf("X-Total-Count %q, want 900", got)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, ids(page)...)
	}
	if len(all) != 900 {
		t.Fatalf("paged %d, want 900", len(all))
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("id %s twice while paging a stable set", id)
		}
		seen[id] = true
	}

	def, r := h.list(nil)
	if len(def) != 250 {
		t.Errorf("default limit gave %d, want 250", len(def))
	}
	if r.header.Get("X-Total-Count") != "" {
		t.Errorf("X-Total-Count without count=true")
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	zero, r := h.list(q("limit", "0", "count", "true"))
	if len(zero) != 0 || r.header.Get("X-Total-Count") != "900" || strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("limit=0: %d items, count %q, body %.20s", len(zero), r.header.Get("X-Total-Count"), r.body)
	}
	past, r := h.list(q("offset", "100000"))
	if len(past) != 0 || string(r.body) != "[]" {
		t.Errorf("offset past end: %s", r.body)
	}
	filtered, r := h.list(q("filters", `type eq "Identity Refresh"`, "count", "true", "limit", "1"))
	if len(filtered) != 1 || r.header.Get("X-Total-Count") == "900" {
		t.Errorf("count should honour filters: %q", r.header.Get("X-Total-Count"))
	}

	for _, bad := range [][]string{
		{"limit", "251"}, {"limit", "-1"}, {"limit", "ten"}, {"limit", "1.5"}, {"limit", ""},
		{"offset", "-1"}, {"offset", "x"}, {"offset", "99999999999999999999"}, {"offset", "2147483648"},
		{"count", "yes"},
		{"regarding-identity", "abc", "requested-for", "def"},
		{"regarding-identity", "abc", "requested-by", "def"},
	} {
		t.Run(strings.Join(bad, "="), func(t *testing.T) {
			decodeError(t, h.get("/v3/account-activities", q(bad...)), 400, "400.1 Bad Request Content")
		})
	}
}

func TestIdentityParameters(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	alice := &IdentitySummary{ID: hexN(0xa1), Name: "Alice", IdentityID: hexN(0xa)}
	bob := &IdentitySummary{ID: hexN(0xb1), Name: "Bob", IdentityID: hexN(0xb)}
	a1 := scripted(hexN(1), "appRequest", at(0), ExecExecuting)
	a1.RequesterIdentitySummary, a1.TargetIdentitySummary = alice, bob
	a2 := scripted(hexN(2), "appRequest", at(time.Second), ExecExecuting)
	a2.RequesterIdentitySummary, a2.TargetIdentitySummary = bob, bob
	a3 := scripted(hexN(3), "Identity Refresh", at(2*time.Second), ExecExecuting)
	a3.TargetIdentitySummary = alice
	for _, a := range []Activity{a1, a2, a3} {
		h.tenant.Upsert(a)
	}
	cases := []struct {
		query []string
		want  []int
	}{
		{[]string{"requested-for", hexN(0xb)}, []int{1, 2}},
		{[]string{"requested-for", hexN(0xa1)}, []int{3}},
		{[]string{"requested-by", hexN(0xa)}, []int{1}},
		{[]string{"requested-by", hexN(0xb), "requested-for", hexN(0xb)}, []int{2}},
		{[]string{"regarding-identity", hexN(0xa)}, []int{1, 3}},
		{[]string{"regarding-identity", "me"}, nil},
	}
	for _, c := range cases {
		got, _ := h.list(q(c.query...))
		var want []string
		for _, n := range c.want {
			want = append(want, hexN(n))
		}
		if g := ids(got); !slices.Equal(g, want) {
			t.Errorf("%v: got %v, want %v", c.query, g, want)
		}
	}
}

func TestPrefixesAndGet(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 3})
	h.tenant.SeedHistory(20, time.Hour)
	first, _ := h.list(q("limit", "1"))
	id := first[0].ID
	for _, p := range []string{"/v3/account-activities", "/v2024/account-activities", "/v2025/account-activities", "/v2026/account-activities", "/beta/account-activities", "/account-activities/v1"} {
		t.Run(p, func(t *testing.T) {
			for _, experimental := range []bool{false, true} {
				req := newRequest(t, http.MethodGet, h.base+p+"?limit=5", h.token)
				if experimental {
					req.Header.Set("X-SailPoint-Experimental", "true")
				}
				resp, err := h.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var page []map[string]any
				err = json.NewDecoder(resp.Body).Decode(&page)
				closeBody(resp)
				if err != nil || resp.StatusCode != http.StatusOK || len(page) != 5 {
					t.Fatalf("status %d err %v len %d", resp.StatusCode, err, len(page))
				}
				_, hasCancelable := page[0]["cancelable"]
				_, hasCancelComment := page[0]["cancelComment"]
				if beta := strings.HasPrefix(p, "/beta"); hasCancelable != beta || hasCancelComment != beta {
					t.Errorf("cancelable present %v, cancelComment present %v", hasCancelable, hasCancelComment)
				}
			}
			r := h.get(p+"/"+id, nil)
			var a Activity
			if r.status != 200 || json.Unmarshal(r.body, &a) != nil || a.ID != id {
				t.Fatalf("get: %d %s", r.status, r.body)
			}
			r = h.get(p+"/"+hexN(0xdead), nil)
			if msg := decodeError(t, r, 404, "404 Not found"); msg != "The server did not find a current representation for the target resource." {
				t.Errorf("404 text %q", msg)
			}
			if r := h.do("GET", p, nil, ""); r.status != 401 {
				t.Errorf("no token: %d", r.status)
			}
		})
	}
	if r := h.get("/v3/nothing-here", nil); r.status != 404 {
		t.Errorf("unknown path %d", r.status)
	}
	if r := h.do("POST", "/v3/account-activities", nil, h.token); r.status != 405 {
		t.Errorf("POST list %d", r.status)
	}
}

func TestBetaTypeParameter(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	filterFixture(h.tenant)
	r := h.get("/beta/account-activities", q("type", "appRequest"))
	var got []Activity
	if err := json.Unmarshal(r.body, &got); err != nil || !slices.Equal(ids(got), []string{hexN(2)}) {
		t.Errorf("beta type=appRequest: %v %v", ids(got), err)
	}
}
