package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// ranged is what one ScanRanges delivered: every page in order of
// delivery, and the Resume of the last.
type ranged struct {
	got  []Activity
	last Cursor
	scan *rangeScan
}

// rangesAll reads everything modified since from with ScanRanges; check,
// when set, is called after each page with its Resume and, by id, the
// newest modified delivered so far.
func (e *env) rangesAll(t *testing.T, from Cursor, until time.Time, workers int, check func(resume Cursor, got map[string]time.Time)) ranged {
	t.Helper()
	var (
		out   ranged
		newer = map[string]time.Time{}
		mu    sync.Mutex // fn is never called concurrently: this proves it
	)
	rs, err := e.client.scanRanges(t.Context(), from, until, workers, func(p Page) error {
		if !mu.TryLock() {
			t.Error("fn called while another call runs")
			return nil
		}
		defer mu.Unlock()
		for _, a := range p.Activities {
			a.Items = append([]Item(nil), a.Items...)
			out.got = append(out.got, a)
			if a.Modified.After(newer[a.ID]) {
				newer[a.ID] = a.Modified
			}
		}
		out.last = p.Resume
		if check != nil {
			check(p.Resume, newer)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ScanRanges: %v", err)
	}
	out.scan = rs
	return out
}

// sized is n records of history, or a quarter as many with -short, the
// loop after each edit and the race detector's run: the ranges are cut and
// read side by side the same way, over fewer pages.
func sized(n int) int {
	if testing.Short() {
		return n / 4
	}
	return n
}

// answerDelay is how long the tenant takes to answer in the tests of
// ranges: ISC's latency, scaled down, so that one walk does not keep up
// with the client's rate limit and ranges are cut.
const answerDelay = 10 * time.Millisecond

// slow makes every answer take answerDelay more, after next (the default
// transport when nil) has answered.
func slow(next http.RoundTripper) *http.Client {
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		time.Sleep(answerDelay)
		return next.RoundTrip(req)
	})}
}

// skewed seeds a tenant whose day is not uniform: a few activities over 20
// hours, most of them in the last half hour, and a bulk refresh of 600
// sharing one instant.
func skewed(e *env, clk *fakeclock.Clock) []string {
	e.tenant.SeedHistory(sized(1500), 20*time.Hour)
	e.tenant.SeedHistory(sized(6000), 30*time.Minute)
	clk.Advance(time.Minute)
	ids := e.tenant.BulkRefresh(600)
	clk.Advance(time.Minute)
	return ids
}

// tenantIDs lists every activity of the tenant, as a scan of it finds them.
func tenantIDs(t *testing.T, e *env, from Cursor) []string {
	t.Helper()
	all, _ := e.scanAll(t, from)
	_, n := latest(all)
	ids := make([]string, 0, len(n))
	for id := range n {
		ids = append(ids, id)
	}
	return ids
}

// Ranges read side by side deliver what one scan delivers, each record in
// its current version, end where it ends, and never say to resume past a
// record not yet delivered; the range holding most of the activities is cut
// again where it has most left.
func TestScanRangesReadsWhatScanReads(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{Seed: 71}, func(c *Config) { c.HTTPClient = slow(nil) })
	skewed(e, clk)
	from := Cursor{Modified: clk.Now().Add(-24 * time.Hour)}
	want, wantEnd := e.scanAll(t, from)
	wantMod, _ := latest(want)

	// Where each activity is, in ISC's order: the records before a Resume.
	type rec struct {
		id  string
		mod time.Time
	}
	var order []rec
	for id, m := range wantMod {
		order = append(order, rec{id, m})
	}
	slices.SortFunc(order, func(a, b rec) int { return a.mod.Compare(b.mod) })

	before := count(e.endpoints(), "list 200")
	r := e.rangesAll(t, from, clk.Now().Add(-10*time.Second), 8, func(resume Cursor, got map[string]time.Time) {
		for _, x := range order {
			if !x.mod.Before(resume.Modified) {
				break
			}
			if !got[x.id].Equal(x.mod) {
				t.Fatalf("Resume %v passes %s (modified %v), not delivered yet", resume.Modified, x.id, x.mod)
			}
		}
	})
	requests := count(e.endpoints(), "list 200") - before

	gotMod, _ := latest(r.got)
	if len(gotMod) != len(wantMod) {
		t.Fatalf("delivered %d activities, a scan %d", len(gotMod), len(wantMod))
	}
	for id, m := range wantMod {
		if !gotMod[id].Equal(m) {
			t.Fatalf("%s: delivered modified %v, a scan %v", id, gotMod[id], m)
		}
	}
	if r.last != wantEnd {
		t.Fatalf("ended at %+v, a scan at %+v", r.last, wantEnd)
	}
	ranges := len(r.scan.spans)
	if ranges < 3 {
		t.Errorf("%d ranges: the one holding most activities was not cut", ranges)
	}
	// Each range costs its pages and one short page at most, a cut one
	// page read twice at most (the page in flight when the range was cut),
	// and the last range reading on once the others are read one more.
	pages := (len(wantMod) + 249) / 250
	if limit := pages + 2*ranges + 1; requests > limit {
		t.Errorf("%d list requests for %d pages in %d ranges; want at most %d", requests, pages, ranges, limit)
	}
	t.Logf("%d activities, %d pages, %d ranges, %d requests", len(wantMod), pages, ranges, requests)
}

// A range cut off past the newest record finds nothing: the scan still
// ends where one scan ends, after that record, not where the cut fell.
func TestScanRangesEndsAfterTheNewestRecord(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{Seed: 76}, func(c *Config) { c.HTTPClient = slow(nil) })
	e.tenant.SeedHistory(sized(5000), time.Hour)
	clk.Advance(39 * time.Hour) // and nothing since
	from := Cursor{Modified: clk.Now().Add(-41 * time.Hour)}
	_, wantEnd := e.scanAll(t, from)
	r := e.rangesAll(t, from, clk.Now().Add(-10*time.Second), 8, nil)
	if len(r.scan.spans) < 2 || r.scan.spans[len(r.scan.spans)-1].read != 0 {
		t.Fatalf("%d ranges; the last read %d records: none was cut off past the newest record", len(r.scan.spans), r.scan.spans[len(r.scan.spans)-1].read)
	}
	if r.last != wantEnd {
		t.Fatalf("ended at %+v, a scan at %+v", r.last, wantEnd)
	}
}

// Records that change while the ranges are read, those already read and
// those not yet read, are all delivered in their newest version.
func TestScanRangesMissesNothingModifiedWhileReading(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{Seed: 72}, func(c *Config) { c.HTTPClient = slow(nil) })
	skewed(e, clk)
	from := Cursor{Modified: clk.Now().Add(-24 * time.Hour)}
	ids := tenantIDs(t, e, from)
	slices.Sort(ids)
	var once sync.Once
	simtest.Faults(e.tenant).OnList(func(n int) {
		if n == 12 {
			once.Do(func() {
				clk.Advance(time.Millisecond)
				for i := 0; i < len(ids); i += 97 {
					e.tenant.Modify(ids[i], func(*simtenant.Activity) {})
				}
			})
		}
	})
	r := e.rangesAll(t, from, clk.Now().Add(-10*time.Second), 8, nil)
	assertComplete(t, e.tenant, ids, r.got)
}

// A range that pages a bulk instant with an offset, while a record it read
// there leaves the instant, reads that instant again: the record after it,
// shifted under the offset, is not skipped.
func TestScanRangesRereadsAnInstantWhenARecordLeavesIt(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	var e *env
	var (
		bulk  []string
		moved sync.Once
		at    string
	)
	e = newEnvOn(t, clk, simtenant.Config{Seed: 73}, func(c *Config) {
		c.HTTPClient = slow(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			q := req.URL.Query()
			if at != "" && q.Get("offset") == "250" && strings.HasPrefix(q.Get("filters"), "modified ge "+at) {
				// Read on the instant's first page, it leaves the instant.
				moved.Do(func() {
					clk.Advance(time.Millisecond)
					e.tenant.Modify(slices.Min(bulk), func(*simtenant.Activity) {})
				})
			}
			return http.DefaultTransport.RoundTrip(req)
		}))
	})
	e.tenant.SeedHistory(sized(2000), 20*time.Hour)
	bulk = e.tenant.BulkRefresh(600) // an instant in the middle of the ranges
	a, _ := e.tenant.Activity(bulk[0])
	at = formatTimestamp(*a.Modified)
	clk.Advance(time.Hour)
	e.tenant.SeedHistory(sized(2000), 50*time.Minute)
	from := Cursor{Modified: clk.Now().Add(-24 * time.Hour)}
	ids := tenantIDs(t, e, from)
	r := e.rangesAll(t, from, clk.Now().Add(-10*time.Second), 8, nil)
	assertComplete(t, e.tenant, ids, r.got)
	if !strings.Contains(e.logs.String(), "records changed while paging") {
		t.Fatalf("no instant was read again:\n%s", e.logs.String())
	}
}

// A range that pages past an instant with an offset, while the record it
// read there leaves the instant, reads again from that instant to its end:
// the shift under the offset skips the record after the instant, at a
// later one, which reading the instant alone would not find. It happens to
// the walks that page past their first page's last instant (every first
// page is full here); under load it also came in the other order: the
// record's new version taken by one walk before another took the old one.
func TestScanRangesRereadsPastAnInstantARecordLeft(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	var e *env
	var (
		mu    sync.Mutex
		last  = map[string]string{} // a page's last instant, formatted: its last record
		moved = map[string]bool{}
	)
	e = newEnvOn(t, clk, simtenant.Config{Seed: 74}, func(c *Config) {
		c.HTTPClient = slow(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			q := req.URL.Query()
			if q.Get("offset") != "" && q.Get("offset") != "0" {
				mu.Lock()
				for at, id := range last {
					if strings.HasPrefix(q.Get("filters"), "modified ge "+at) && !moved[id] {
						// Read at the end of the last page, it leaves the
						// instant before the walk pages past it.
						moved[id] = true
						clk.Advance(time.Millisecond)
						e.tenant.Modify(id, func(*simtenant.Activity) {})
					}
				}
				mu.Unlock()
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(req.URL.Path, "account-activities") {
				return resp, err
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return nil, err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			var page []struct {
				ID       string    `json:"id"`
				Modified time.Time `json:"modified"`
			}
			if json.Unmarshal(body, &page) == nil && len(page) > 0 {
				end := page[len(page)-1]
				mu.Lock()
				last[formatTimestamp(end.Modified)] = end.ID
				mu.Unlock()
			}
			return resp, nil
		}))
	})
	e.tenant.SeedHistory(sized(3000), 20*time.Hour)
	clk.Advance(time.Minute)
	from := Cursor{Modified: clk.Now().Add(-24 * time.Hour)}
	ids := tenantIDs(t, e, from)
	r := e.rangesAll(t, from, clk.Now().Add(-10*time.Second), 8, nil)
	assertComplete(t, e.tenant, ids, r.got)
	mu.Lock()
	defer mu.Unlock()
	if len(moved) < 2 {
		t.Fatalf("%d records left an instant paged with an offset: the test proves little", len(moved))
	}
}

// The other order: the new version of a record delivered by one walk
// before another walk delivers the old one at the instant it pages past
// with an offset. take, which looks for a newer version after the old,
// cannot see it; crossCheck has that instant read again.
func TestScanRangesRereadsAnInstantLeftBeforeItWasRead(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := until.Add(-3 * time.Hour)
	rs := &rangeScan{until: until, offsetRead: map[string]time.Time{}, changed: map[string]time.Time{}}
	// The last range takes the record's new version, modified during the pass.
	rs.crossCheck(Page{Activities: []Activity{{ID: "moved", Modified: until.Add(time.Minute)}, {ID: "other", Modified: until.Add(2 * time.Minute)}}})
	if len(rs.again) != 0 {
		t.Fatalf("instants to read again before any offset: %v", rs.again)
	}
	// Then an earlier range takes the old one as the last of a full page
	// (take notes it in offsetRead), beside one that did not leave.
	rs.offsetRead["moved"], rs.offsetRead["stayed"] = at, at.Add(time.Second)
	rs.crossCheck(Page{Activities: []Activity{{ID: "stayed", Modified: at.Add(time.Second)}, {ID: "moved", Modified: at}}})
	if !slices.Equal(rs.again, []time.Time{at}) {
		t.Fatalf("instants to read again: %v, want [%v]", rs.again, at)
	}
	if _, ok := rs.offsetRead["moved"]; ok {
		t.Error("the record that left is still noted at its old instant")
	}
	if _, ok := rs.offsetRead["stayed"]; !ok {
		t.Error("a record that did not leave its instant is no longer noted")
	}
	if len(rs.changed) != 2 {
		t.Errorf("records changed during the pass: %v, want the two modified after until", rs.changed)
	}
}

// Where one walk keeps up with the rate limit (ISC answers fast), no range
// is cut: ScanRanges sends the very requests Scan sends, but for the count
// its first asks for.
func TestScanRangesCutsNothingWhereOneWalkKeepsUp(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{Seed: 75}, nil)
	// ISC answers within a thousandth of a second, the client's rate.
	e.client.answerTime = func() time.Duration { return time.Millisecond }
	e.tenant.SeedHistory(sized(3000), 20*time.Hour)
	clk.Advance(2 * time.Second)
	from := Cursor{Modified: clk.Now().Add(-24 * time.Hour)}
	queries := func(run func()) []string {
		before := len(e.tenant.Requests())
		run()
		var out []string
		for _, q := range e.tenant.Requests()[before:] {
			if q.Endpoint == "list" {
				out = append(out, strings.Replace(q.RawQuery, "&count=true", "", 1))
			}
		}
		return out
	}
	var r ranged
	want := queries(func() { e.scanAll(t, from) })
	got := queries(func() { r = e.rangesAll(t, from, clk.Now().Add(-10*time.Second), 8, nil) })
	if len(r.scan.spans) != 1 || !slices.Equal(got, want) {
		t.Fatalf("%d ranges; requests\n%v\nScan's\n%v", len(r.scan.spans), got, want)
	}
}

// With one walk, or a stretch too short to cut, ScanRanges is Scan.
func TestScanRangesOfOneIsScan(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	e := newEnvOn(t, clk, simtenant.Config{Seed: 74}, nil)
	e.tenant.SeedHistory(700, time.Hour)
	clk.Advance(2 * time.Second)
	from := Cursor{Modified: clk.Now().Add(-2 * time.Hour)}
	_, wantEnd := e.scanAll(t, from)
	for _, tc := range []struct {
		workers int
		until   time.Time
	}{{1, clk.Now()}, {8, from.Modified.Add(3 * time.Millisecond)}} {
		before := e.tenant.Requests()
		r := e.rangesAll(t, from, tc.until, tc.workers, nil)
		if r.scan != nil || r.last != wantEnd {
			t.Fatalf("workers %d until %v: ranges %v, ended at %+v, want Scan's %+v", tc.workers, tc.until, r.scan != nil, r.last, wantEnd)
		}
		for _, q := range e.tenant.Requests()[len(before):] {
			if v, _ := url.ParseQuery(q.RawQuery); strings.Contains(v.Get("filters"), " lt ") || v.Has("count") {
				t.Fatalf("a request of Scan's asked %s", q.RawQuery)
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
