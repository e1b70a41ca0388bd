package client

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// latest maps each id to the newest modified delivered for it, and counts
// deliveries.
func latest(got []Activity) (map[string]time.Time, map[string]int) {
	mod, n := map[string]time.Time{}, map[string]int{}
	for _, a := range got {
		n[a.ID]++
		if a.Modified.After(mod[a.ID]) {
			mod[a.ID] = a.Modified
		}
	}
	return mod, n
}

// assertComplete checks that every activity of the tenant was delivered in
// its current version.
func assertComplete(t *testing.T, tenant *simtenant.Tenant, ids []string, got []Activity) {
	t.Helper()
	mod, _ := latest(got)
	for _, id := range ids {
		want, ok := tenant.Activity(id)
		if !ok {
			t.Fatalf("tenant lost %s", id)
		}
		if !mod[id].Equal(*want.Modified) {
			t.Fatalf("activity %s: newest delivered modified %v, tenant has %v (skipped)", id, mod[id], *want.Modified)
		}
	}
}

func TestScanPagesThroughMoreThanAPageSharingOneInstant(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{}, nil)
	ids := e.tenant.BulkRefresh(600)
	// Read at once, the instant is still current: the next scan reads it
	// again, in case a change comes within the same millisecond.
	_, current := e.scanAll(t, Cursor{Modified: clk.Now().Add(-time.Hour)})
	if current.After {
		t.Fatalf("cursor %+v: after an instant ISC's clock has not left", current)
	}
	clk.Advance(2 * time.Second)
	before := count(e.endpoints(), "list 200")
	got, next := e.scanAll(t, Cursor{Modified: clk.Now().Add(-time.Hour)})
	_, n := latest(got)
	if len(got) != 600 || len(n) != 600 {
		t.Fatalf("delivered %d records of %d ids, want 600 of 600", len(got), len(n))
	}
	assertComplete(t, e.tenant, ids, got)
	if lists := count(e.endpoints(), "list 200") - before; lists != 3 {
		t.Fatalf("%d list requests, want 3 (250+250+100): %v", lists, e.endpoints())
	}
	a, _ := e.tenant.Activity(ids[0])
	if !next.Modified.Equal(*a.Modified) || next.Offset != 0 || !next.After {
		t.Fatalf("next cursor = %+v, want after the bulk instant %v", next, *a.Modified)
	}
	// The next scan does not read the instant again.
	before = count(e.endpoints(), "list 200")
	if again, _ := e.scanAll(t, next); len(again) != 0 || count(e.endpoints(), "list 200")-before != 1 {
		t.Fatalf("a scan from after the bulk instant read %d records", len(again))
	}
}

func TestScanMissesNothingModifiedWhilePaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, nil)
	e.tenant.SeedHistory(1000, time.Hour)
	from := Cursor{Modified: time.Now().Add(-2 * time.Hour)}
	first, _ := e.scanAll(t, from)
	var ids []string
	for _, a := range first {
		ids = append(ids, a.ID)
	}
	// While the client is on its second page, records it has read and
	// records it has not yet read both change and move to the end.
	listed := 0
	simtest.Faults(e.tenant).OnList(func(int) {
		listed++
		if listed == 2 {
			for _, i := range []int{3, 100, 240, 260, 500, 900, 999} {
				e.tenant.Modify(ids[i], func(a *simtenant.Activity) {})
			}
		}
	})
	got, _ := e.scanAll(t, from)
	assertComplete(t, e.tenant, ids, got)
}

func TestScanRereadsWhenARecordLeavesAnInstantItPagedWithAnOffset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, nil)
	ids := e.tenant.BulkRefresh(600)
	first := slices.Min(ids) // the tenant orders an instant by id
	listed := 0
	simtest.Faults(e.tenant).OnList(func(int) {
		listed++
		if listed == 2 {
			// Read on page one, it leaves the instant and shifts every
			// record after it under the offset of page two.
			e.tenant.Modify(first, func(a *simtenant.Activity) {})
		}
	})
	got, _ := e.scanAll(t, Cursor{Modified: time.Now().Add(-time.Hour)})
	assertComplete(t, e.tenant, ids, got)
	if !strings.Contains(e.logs.String(), "records changed while paging") {
		t.Fatalf("no rescan was logged:\n%s", e.logs.String())
	}
}

// A steady-state refresh costs ceil(changed / page size) list requests, plus
// at most one: the last page must come back short to prove the end.
func TestSteadyStateRequestCount(t *testing.T) {
	t.Parallel()
	for _, changed := range []int{0, 1, 100, 249, 250, 251, 499, 600} {
		t.Run(fmt.Sprint(changed), func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
			e := newEnvOn(t, clk, simtenant.Config{}, nil)
			e.tenant.SeedHistory(700, time.Hour)
			all, cursor := e.scanAll(t, Cursor{Modified: clk.Now().Add(-2 * time.Hour)})
			seen := map[string]bool{}
			var ids []string
			for _, a := range all {
				if !seen[a.ID] {
					seen[a.ID] = true
					ids = append(ids, a.ID)
				}
			}
			clk.Advance(time.Millisecond) // changes land after the cursor's instant
			for _, id := range ids[:changed] {
				e.tenant.Modify(id, func(a *simtenant.Activity) {})
			}
			before := count(e.endpoints(), "list 200")
			got, _ := e.scanAll(t, cursor)
			requests := count(e.endpoints(), "list 200") - before
			limit := (changed+249)/250 + 1
			if requests > limit || requests < 1 {
				t.Fatalf("%d changed cost %d list requests, want at most %d", changed, requests, limit)
			}
			assertComplete(t, e.tenant, ids[:changed], got)
		})
	}
}

func TestListQuery(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	q := listQuery(Cursor{Modified: at, Offset: 250}, time.Time{}, 250, false)
	want := "limit=250&offset=250&filters=modified%20ge%202026-01-02T03%3A04%3A05.678Z&sorters=modified"
	if q != want {
		t.Fatalf("query = %s\nwant    %s", q, want)
	}
	v, err := url.ParseQuery(q)
	if err != nil || v.Get("filters") != "modified ge 2026-01-02T03:04:05.678Z" {
		t.Fatalf("query decodes to %v (%v)", v, err)
	}
	// A range of ScanRanges: bounded above, its first request counted.
	q = listQuery(Cursor{Modified: at, After: true}, at.Add(time.Hour), 250, true)
	want = "limit=250&offset=0&count=true&filters=modified%20gt%202026-01-02T03%3A04%3A05.678Z%20and%20modified%20lt%202026-01-02T04%3A04%3A05.678Z&sorters=modified"
	if q != want {
		t.Fatalf("query = %s\nwant    %s", q, want)
	}
}

func TestScanStopsWithItsContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simtenant.Config{}, nil)
	e.tenant.SeedHistory(600, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The tenant holds the first list request until the test ends, and the
	// context ends while the client waits for the answer.
	held := make(chan struct{})
	t.Cleanup(func() { close(held) }) // before the tenant closes: cleanups run last first
	simtest.Faults(e.tenant).OnList(func(int) {
		cancel()
		<-held
	})
	err := e.client.Scan(ctx, Cursor{Modified: time.Now().Add(-2 * time.Hour)}, func(Page) error { return nil })
	if err == nil || ctx.Err() == nil {
		t.Fatalf("err = %v, want the context's end", err)
	}
}
