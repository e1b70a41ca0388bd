package simtenant

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func hexN(n int) string { return fmt.Sprintf("%032x", n) }

// filterFixture is five activities chosen so every operator has both
// matches and non-matches, including a null type and a null modified.
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
		{`type ne "Identity Refresh"`, []int{2, 4, 5}},
		{`type in ("appRequest","Certification")`, []int{2, 5}},
		{`type in ( "appRequest" , "nope" )`, []int{2}},
		{`type sw "Identity"`, []int{1, 4}},
		{`type isnull`, []int{3}},
		{`not type isnull`, []int{1, 2, 4, 5}},
		{`not type eq "appRequest"`, []int{1, 3, 4, 5}},
		{`type ge "Identity"`, []int{1, 2, 4}},
		{`type gt "Identity Refresh"`, []int{2}},
		{`type lt "D"`, []int{5}},
		{`type le "Certification"`, []int{5}},
		{`type eq "identity refresh"`, nil},
		{`type eq "Identity \"Quoted\" \\ Refresh"`, []int{4}},
		{`created gt 2026-01-02T03:04:06.678Z`, []int{3, 4, 5}},
		{`created ge "2026-01-02T03:04:06.678Z"`, []int{2, 3, 4, 5}},
		{`created eq 2026-01-02T03:04:05.678Z`, []int{1}},
		{`created eq 2026-01-02T03:04:05.678999Z`, []int{1}},
		{`created eq 2026-01-02T04:04:05.678+01:00`, []int{1}},
		{`created lt 2026-01-02T03:04:06Z`, []int{1}},
		{`created le 2026-01-02T03:04:06.678Z`, []int{1, 2}},
		{`created ne 2026-01-02T03:04:05.678Z`, []int{2, 3, 4, 5}},
		{`created sw "2026-01-02T03:04:05"`, []int{1}},
		{`created sw 2026-01-02T03:04:0`, all},
		{`created isnull`, nil},
		{`modified isnull`, []int{3}},
		{`modified ne 2026-01-02T04:04:05.678Z`, []int{2, 4, 5}},
		{`modified lt 2026-01-02T05:00:00Z`, []int{1, 5}},
		{`modified in (2026-01-02T04:04:05.678Z, "2026-01-02T05:04:05.678Z")`, []int{1, 2}},
		{`modified gt 2018-12-18T23:05:55Z`, []int{1, 2, 4, 5}},
		// precedence: and binds tighter than or, not tighter than and
		{`type eq "Identity Refresh" or type eq "Certification" and created gt 2026-01-02T03:04:07Z`, []int{1, 5}},
		{`(type eq "Identity Refresh" or type eq "Certification") and created gt 2026-01-02T03:04:07Z`, []int{5}},
		{`not type eq "appRequest" and modified isnull`, []int{3}},
		{`not (type eq "appRequest" or modified isnull)`, []int{1, 4, 5}},
		{`not not type eq "appRequest"`, []int{2}},
		{`(((type eq "appRequest")))`, []int{2}},
		{`type eq "appRequest" or type eq "Certification" or type isnull`, []int{2, 3, 5}},
		{`created ge 2026-01-02T03:04:06Z and created le 2026-01-02T03:04:09Z and not type isnull`, []int{2, 4}},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			got, _ := h.list(q("filters", c.filter))
			var want []string
			for _, n := range c.want {
				want = append(want, hexN(n))
			}
			if g := ids(got); !slices.Equal(g, want) {
				t.Errorf("got %v, want %v", g, want)
			}
		})
	}
}

func TestFilterRejects(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	filterFixture(h.tenant)
	cases := []struct {
		filter  string
		mention string
	}{
		{`type EQ "appRequest"`, "lowercase"},
		{`type Eq "appRequest"`, "lowercase"},
		{`type eq "appRequest" AND created gt 2026-01-01T00:00:00Z`, "lowercase"},
		{`type eq "appRequest" OR type isnull`, "lowercase"},
		{`NOT type isnull`, ""},
		{`name eq "x"`, "name"},
		{`Type eq "x"`, "Type"},
		{`type co "Refresh"`, "co"},
		{`type ca ("a","b")`, "ca"},
		{`pr type`, "pr"},
		{`type pr`, "pr"},
		{`created co "2026"`, "co"},
		{`type xx "a"`, "xx"},
		{`type eq appRequest`, "double-quoted"},
		{`type in ("a", b)`, "double-quoted"},
		{`created gt 2026-13-40T00:00:00Z`, "date-time"},
		{`created gt 2026-01-02`, "date-time"},
		{`created gt "yesterday"`, "date-time"},
		{`modified in (2026-01-02T03:04:05Z, nope)`, "date-time"},
		{`type eq "unterminated`, "unterminated"},
		{`type eq "bad \n escape"`, "escape"},
		{`type eq "trailing \`, "escape"},
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
		{`type isnull "x"`, ""},
		{`modified isnull and`, ""},
		{`not`, ""},
		{`()`, ""},
		{`"type" eq "a"`, ""},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			r := h.get("/v3/account-activities", q("filters", c.filter))
			msg := decodeError(t, r, 400, "400.1 Bad Request Content")
			if c.mention != "" && !strings.Contains(msg, c.mention) {
				t.Errorf("message %q does not mention %q", msg, c.mention)
			}
		})
	}
}

func TestParseFilterTree(t *testing.T) {
	// Precedence is visible in the shape of the tree, independent of data.
	n, err := parseFilter(`not type isnull or type eq "a" and not created isnull`)
	if err != nil {
		t.Fatal(err)
	}
	or, ok := n.(orNode)
	if !ok {
		t.Fatalf("root %T, want orNode", n)
	}
	if _, ok := or.l.(notNode); !ok {
		t.Errorf("left %T, want notNode", or.l)
	}
	and, ok := or.r.(andNode)
	if !ok {
		t.Fatalf("right %T, want andNode", or.r)
	}
	if _, ok := and.r.(notNode); !ok {
		t.Errorf("and.right %T, want notNode", and.r)
	}
}
