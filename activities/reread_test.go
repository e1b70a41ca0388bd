package activities

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// The schedule of what refreshes read again: the tail (twice the largest
// lateness of the last hour, at least minTail, at most the overlap) a
// quarter of the tail after the last re-read, the whole overlap every
// SweepEvery, nothing before the window or after the cursor.
func TestPlanReread(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	window := now.Add(-testLookback)
	cursor := client.Cursor{Modified: now.Add(-time.Second), After: true}
	var late lateness
	late.observe(now.Add(-30*time.Minute), 20*time.Second)
	var old lateness
	old.observe(now.Add(-2*time.Hour), 20*time.Second) // forgotten
	at := func(d time.Duration) time.Time { return now.Add(d) }
	tests := []struct {
		name        string
		p           resumable
		sweepEvery  time.Duration
		from        time.Time
		tail, sweep bool
	}{
		{"not primed: the cursor", resumable{cursor: cursor}, DefaultSweepEvery, cursor.Modified, false, false},
		{"tail not due", resumable{cursor: cursor, primed: true, tailSince: at(-2 * time.Second), sweepSince: at(-time.Minute), late: late}, DefaultSweepEvery, cursor.Modified, false, false},
		{"tail due: 40s before the last re-read", resumable{cursor: cursor, primed: true, tailSince: at(-10 * time.Second), sweepSince: at(-time.Minute), late: late}, DefaultSweepEvery, at(-50 * time.Second), true, false},
		{"lateness forgotten: the least tail", resumable{cursor: cursor, primed: true, tailSince: at(-3 * time.Second), sweepSince: at(-time.Minute), late: old}, DefaultSweepEvery, at(-13 * time.Second), true, false},
		{"sweep due: the whole overlap before the last sweep", resumable{cursor: cursor, primed: true, tailSince: at(-10 * time.Second), sweepSince: at(-5 * time.Minute), late: late}, DefaultSweepEvery, at(-10 * time.Minute), true, true},
		{"sweep at every refresh: as before the tail", resumable{cursor: cursor, primed: true, readSince: at(-time.Second), tailSince: at(-time.Second), sweepSince: at(-time.Second)}, -1, at(-5*time.Minute - time.Second), true, true},
		{"a quiet tenant: the cursor is earlier still", resumable{cursor: client.Cursor{Modified: at(-time.Hour), After: true}, primed: true, tailSince: at(-10 * time.Second), sweepSince: at(-time.Minute), late: late}, DefaultSweepEvery, at(-time.Hour), true, false},
		{"never before the window", resumable{cursor: cursor, primed: true, tailSince: at(-testLookback), sweepSince: at(-testLookback), late: late}, DefaultSweepEvery, window, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := planReread(tt.p, 5*time.Minute, tt.sweepEvery, now, window)
			if !got.from.Modified.Equal(tt.from) || got.tail != tt.tail || got.sweep != tt.sweep {
				t.Fatalf("plan %+v (from %v before now), want from %v before now, tail %v, sweep %v", got, now.Sub(got.from.Modified), now.Sub(tt.from), tt.tail, tt.sweep)
			}
			if got.from.Modified.Equal(tt.p.cursor.Modified) && got.from != tt.p.cursor && !tt.p.cursor.Modified.Before(window) {
				t.Fatalf("reading from the cursor's instant, yet not from the cursor: %+v", got.from)
			}
		})
	}
}

// A record is late against the start of the last scan that covered it: the
// previous scan for one at or after the cursor, the last re-read of the
// tail for one before.
func TestLateBy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ref := lateReference{on: true, cursor: now.Add(-2 * time.Second), readSince: now.Add(-time.Second), tailSince: now.Add(-9 * time.Second)}
	for _, tt := range []struct {
		modified time.Time
		want     time.Duration
	}{
		{now, 0}, // new since the last scan
		{now.Add(-1500 * time.Millisecond), 500 * time.Millisecond}, // after the cursor, before the last scan began
		{now.Add(-30 * time.Second), 21 * time.Second},              // before the cursor: read again
		{time.Time{}, 0},
	} {
		if got := ref.lateBy(tt.modified); got != tt.want {
			t.Errorf("modified %v: late by %v, want %v", tt.modified, got, tt.want)
		}
	}
	if got := (lateReference{}).lateBy(now.Add(-time.Hour)); got != 0 {
		t.Errorf("during the first pass nothing is late, got %v", got)
	}
}

// The buckets of sailpoint_activities_late_seconds go from a second to the
// overlap.
func TestLateBuckets(t *testing.T) {
	t.Parallel()
	for overlap, want := range map[time.Duration][]float64{
		5 * time.Minute:  {1, 2, 5, 10, 20, 30, 60, 120, 300},
		20 * time.Second: {1, 2, 5, 10, 20},
		45 * time.Second: {1, 2, 5, 10, 20, 30, 45},
		0:                {1},
	} {
		if got := lateBuckets(overlap); !equalFloats(got, want) {
			t.Errorf("overlap %v: buckets %v, want %v", overlap, got, want)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A restart does not forget what refreshes read again: the lateness seen
// and when the tail and the overlap were last read again come back from
// the state file, and the next refresh reads what it would have read.
func TestRestartKeepsTheLateness(t *testing.T) {
	race.SkipVolume(t)
	t.Parallel()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	path := filepath.Join(t.TempDir(), "state")
	id := state.Identity{URL: "https://acme.api.identitynow.com", ClientID: simClientID}
	s := newStack(t, simtenant.Config{Seed: 59, RateLimit: -1, Now: clk.Now}, client.Config{HTTPClient: &http.Client{}},
		Options{Lookback: testLookback, Overlap: 5 * time.Minute, Wiring: area.Wiring{Now: clk.Now, State: openState(t, path, id, prometheus.NewRegistry(), nil)}})
	s.tenant.SeedHistory(1000, 6*time.Hour)
	clk.Advance(time.Second)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.tenant.SetLag(0.5, 30*time.Second)
	for range 120 {
		s.tenant.Step()
		clk.Advance(time.Second)
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	r := s.refresher
	if tail := tailOf(&r.late, clk.Now(), 5*time.Minute); tail <= minTail {
		t.Fatalf("tail %v after two minutes of changes up to 30s late: no lateness was seen", tail)
	}

	copyPath := filepath.Join(t.TempDir(), "copy")
	copyFile(t, path, copyPath)
	again := NewRefresher(r.source, Options{Lookback: testLookback, Overlap: 5 * time.Minute, Wiring: area.Wiring{Now: clk.Now, State: openState(t, copyPath, id, prometheus.NewRegistry(), nil)}})
	if again.late != r.late || !again.tailSince.Equal(r.tailSince) || !again.sweepSince.Equal(r.sweepSince) {
		t.Fatalf("restored lateness %+v, tail since %v, sweep since %v; wrote %+v, %v, %v", again.late, again.tailSince, again.sweepSince, r.late, r.tailSince, r.sweepSince)
	}
	window := windowStartOf(clk.Now(), testLookback)
	if a, b := planReread(r.position(), 5*time.Minute, DefaultSweepEvery, clk.Now(), window), planReread(again.position(), 5*time.Minute, DefaultSweepEvery, clk.Now(), window); a != b {
		t.Fatalf("after the restart a refresh would read %+v, without it %+v", b, a)
	}
}

// A state file of an older version has no SectionLate, and one written
// back by an older version has one that no longer goes with its activities
// section: either way the refresher resumes as if the older version's last
// refresh (which read the whole overlap) had been a sweep, and its next
// sweep reads the overlap before it.
func TestStateWithoutUsableLateSection(t *testing.T) {
	t.Parallel()
	r := fullHistory(t)
	body := sectionOf(t, r)
	p := r.position()
	p.readSince = p.readSince.Add(-time.Minute) // the activities section moved on since
	var stale []byte
	e := state.NewEncoder(func(b []byte) error { stale = append(stale, b...); return nil })
	encodeLate(e, p)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for name, late := range map[string][]byte{"no section": nil, "written back by an older version": stale} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, p, err := decodeState(body, newTracker(testLookback, 3, 8, r.tracker.now, nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeLate(late, &p); err != nil {
				t.Fatal(err)
			}
			if !p.tailSince.Equal(r.readSince) || !p.sweepSince.Equal(r.readSince) {
				t.Fatalf("tail since %v, sweep since %v; want both at read since %v", p.tailSince, p.sweepSince, r.readSince)
			}
			now := r.readSince.Add(DefaultSweepEvery)
			plan := planReread(p, 5*time.Minute, DefaultSweepEvery, now, windowStartOf(now, testLookback))
			if !plan.sweep || !plan.from.Modified.Equal(r.readSince.Add(-5*time.Minute)) {
				t.Fatalf("next refresh %+v; want a sweep from the overlap before read since", plan)
			}
		})
	}
}
