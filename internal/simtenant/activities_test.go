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

// filterFixture is five activities chosen so every documented operator has
// both matches and non-matches, including a null type and a null modified.
func filterFixture(tn *Tenant) {
	a1 := scripted(hexN(1), "Identity Refresh", at(0), ExecCompleted)
	a1.Modified = Ptr(at(time.Hour))
	a2 := scripted(hexN(2), "appRequest", at(time.Second), ExecExecuting)
	a2.Modified = Ptr(at(2 * time.Hour))
	a3 := scripted(hexN(3), "", at(2*time.Second), ExecExecuting)
	a3.Modified = nil
	a4 := scripted(hexN(4), `Identity "Quoted" \ Refresh`, at(3*time.Second), ExecExecuting)
	a4.Modified = Ptr(at(3 * time.Hour))
	a5 := scripted(hexN(5), "Certification", at(4*time.Second), ExecExecuting)
	a5.Modified = Ptr(at(30 * time.Minute))
	for _, a := range []Activity{a5, a3, a1, a4, a2} {
		tn.Upsert(a)
	}
}

func TestFilterMatches(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	filterFixture(h.tenant)
	all := []int{1, 2, 3, 4, 5}
	cases := []struct {
		filter string
		want   []int
	}{
		{``, all},
		{`   `, all},
		{`type eq "Identity Refresh"`, []int{1}},
		{`  type   eq   "appRequest"  `, []int{2}},
		{`type eq "identity refresh"`, nil},
		{`type eq "Identity \"Quoted\" \\ Refresh"`, []int{4}},
		{`type in ("appRequest","Certification")`, []int{2, 5}},
		{`type in ( "appRequest" , "nope" )`, []int{2}},
		{`not type eq "appRequest"`, []int{1, 3, 4, 5}}, // a null type is "not eq"
		{`created gt 2026-01-02T03:04:06.678Z`, []int{3, 4, 5}},
		{`created ge "2026-01-02T03:04:06.678Z"`, []int{2, 3, 4, 5}},
		{`created ge 2026-01-02T03:04:06.678999Z`, []int{2, 3, 4, 5}}, // millisecond precision
		{`created ge 2026-01-02T04:04:06.678+01:00`, []int{2, 3, 4, 5}},
		{`created lt 2026-01-02T03:04:06Z`, []int{1}},
		{`created le 2026-01-02T03:04:06.678Z`, []int{1, 2}},
		{`modified lt 2026-01-02T05:00:00Z`, []int{1, 5}}, // a null modified never compares
		{`modified gt 2018-12-18T23:05:55Z`, []int{1, 2, 4, 5}},
		{`modified ge 2026-01-02T04:04:05.678Z and modified le 2026-01-02T05:04:05.678Z`, []int{1, 2}},
		// precedence: and binds tighter than or, not tighter than and
		{`type eq "Identity Refresh" or type eq "Certification" and created gt 2026-01-02T03:04:07Z`, []int{1, 5}},
		{`(type eq "Identity Refresh" or type eq "Certification") and created gt 2026-01-02T03:04:07Z`, []int{5}},
		{`not type eq "appRequest" and modified lt 2026-01-02T05:00:00Z`, []int{1, 5}},
		{`not (type eq "appRequest" or modified lt 2026-01-02T05:00:00Z)`, []int{3, 4}},
		{`not not type eq "appRequest"`, []int{2}},
		{`(((type eq "appRequest")))`, []int{2}},
		{`type eq "appRequest" or type eq "Certification" or created lt 2026-01-02T03:04:06Z`, []int{1, 2, 5}},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			got, _ := h.list(q("filters", c.filter))
			if g := ids(got); !slices.Equal(g, hexes(c.want...)) {
				t.Errorf("got %v, want %v", g, hexes(c.want...))
			}
		})
	}
}

// TestFilterRejects is what keeps the exporter honest: anything the v3
// spec does not document for account activities is a 400 with the
// ErrorResponseDto, and the message says why.
func TestFilterRejects(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	filterFixture(h.tenant)
	cases := []struct {
		filter  string
		mention string
	}{
		// operators other API versions document, but v3 does not
		{`type ne "appRequest"`, "not supported"},
		{`type sw "Identity"`, "not supported"},
		{`type isnull`, "not supported"},
		{`type ge "Identity"`, "not supported"},
		{`created eq 2026-01-02T03:04:05.678Z`, "supported operators are gt, lt, ge, le"},
		{`created in (2026-01-02T03:04:05.678Z)`, "not supported"},
		{`modified ne 2026-01-02T03:04:05.678Z`, "not supported"},
		{`modified isnull`, "not supported"},
		{`modified sw "2026"`, "not supported"},
		// operators no field supports
		{`type co "Refresh"`, "co"},
		{`type ca ("a","b")`, "ca"},
		{`pr type`, "pr"},
		{`type pr`, "prefix"},
		// fields
		{`name eq "x"`, "supported fields are created, modified, type"},
		{`Type eq "x"`, "Type"},
		{`completed gt 2026-01-02T03:04:05Z`, "completed"},
		// case of operators
		{`type EQ "appRequest"`, "lowercase"},
		{`type eq "appRequest" AND created gt 2026-01-01T00:00:00Z`, "lowercase"},
		{`type eq "appRequest" OR created gt 2026-01-01T00:00:00Z`, "lowercase"},
		{`NOT type eq "a"`, ""},
		{`type xx "a"`, "unknown operator"},
		// values
		{`type eq appRequest`, "double-quoted"},
		{`type in ("a", b)`, "double-quoted"},
		{`created gt 2026-13-40T00:00:00Z`, "date-time"},
		{`created gt 2026-01-02`, "date-time"},
		{`created gt "yesterday"`, "date-time"},
		{`type eq "unterminated`, "unterminated"},
		{`type eq "bad \n escape"`, "escape"},
		{`type eq "trailing \`, "escape"},
		// syntax
		{`type in ()`, ""},
		{`type in ("a" "b")`, ""},
		{`type in "a"`, ""},
		{`type in ("a",)`, ""},
		{`(type eq "a"`, ""},
		{`type eq "a")`, ""},
		{`type eq`, ""},
		{`type`, ""},
		{`and type eq "a"`, ""},
		{`type eq "a" or`, ""},
		{`type eq "a" type eq "b"`, ""},
		{`not`, ""},
		{`()`, ""},
		{`"type" eq "a"`, ""},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			r := h.get("/v3/account-activities", q("filters", c.filter))
			msg := decodeError(t, r, 400, "400.1 Bad Request Content")
			if !strings.HasPrefix(msg, "Invalid filter expression: ") || !strings.Contains(msg, c.mention) {
				t.Errorf("message %q does not mention %q", msg, c.mention)
			}
		})
	}
}

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
			if g := ids(got); !slices.Equal(g, hexes(c.want...)) {
				t.Errorf("got %v\nwant %v", g, hexes(c.want...))
			}
			// A page of a sorted list is the same slice of the whole.
			page, _ := h.list(q("sorters", c.sorters, "offset", "2", "limit", "3"))
			if g := ids(page); !slices.Equal(g, hexes(c.want[2:5]...)) {
				t.Errorf("page got %v, want %v", g, hexes(c.want[2:5]...))
			}
		})
	}
	for _, bad := range []string{"name", "-id", "created,,type", "created,", "--created", "Created", "completed"} {
		t.Run("reject "+bad, func(t *testing.T) {
			msg := decodeError(t, h.get("/v3/account-activities", q("sorters", bad)), 400, "400.1 Bad Request Content")
			if !strings.HasPrefix(msg, "Invalid sorters") {
				t.Errorf("message %q", msg)
			}
		})
	}
}

func TestPagingAndCount(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1, Seed: 7})
	h.tenant.SeedHistory(600, 48*time.Hour)
	h.tenant.BulkRefresh(300) // a large tie on created and modified

	for _, sorters := range []string{"", "modified"} {
		var all []string
		for off := 0; ; off += 100 {
			page, r := h.list(q("limit", "100", "offset", strconv.Itoa(off), "sorters", sorters, "count", "true"))
			if got := r.header.Get("X-Total-Count"); got != "900" {
				t.Fatalf("X-Total-Count %q, want 900", got)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, ids(page)...)
		}
		if len(all) != 900 {
			t.Fatalf("sorters %q: paged %d, want 900", sorters, len(all))
		}
		if c := slices.Compact(slices.Sorted(slices.Values(all))); len(c) != 900 {
			t.Fatalf("sorters %q: %d distinct ids while paging a stable set", sorters, len(c))
		}
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
	if len(zero) != 0 || r.header.Get("X-Total-Count") != "900" || string(r.body) != "[]" {
		t.Errorf("limit=0: %d items, count %q, body %.20s", len(zero), r.header.Get("X-Total-Count"), r.body)
	}
	for _, sorters := range []string{"", "-created"} {
		if _, r := h.list(q("offset", "100000", "sorters", sorters)); string(r.body) != "[]" {
			t.Errorf("offset past the end, sorters %q: %s", sorters, r.body)
		}
	}
	filtered, r := h.list(q("filters", `type eq "Identity Refresh"`, "count", "true", "limit", "1"))
	if n, _ := strconv.Atoi(r.header.Get("X-Total-Count")); len(filtered) != 1 || n < 300 || n >= 900 {
		t.Errorf("count should honour filters: %q", r.header.Get("X-Total-Count"))
	}

	for _, bad := range [][]string{
		{"limit", "251"}, {"limit", "-1"}, {"limit", "ten"}, {"limit", "1.5"}, {"limit", ""},
		{"offset", "-1"}, {"offset", "x"}, {"offset", "99999999999999999999"}, {"offset", "2147483648"},
		{"count", "yes"},
	} {
		t.Run(strings.Join(bad, "="), func(t *testing.T) {
			decodeError(t, h.get("/v3/account-activities", q(bad...)), 400, "400.1 Bad Request Content")
		})
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
			var a view
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
	for _, path := range []string{"/v3/nothing-here", "/v3/account-activities/a/b", "/v4/sources"} {
		if r := h.get(path, nil); r.status != 404 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	if r := h.do("POST", "/v3/account-activities", nil, h.token); r.status != 405 {
		t.Errorf("POST list %d", r.status)
	}
}
