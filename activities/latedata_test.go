package activities

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// lagRun runs a tenant whose index makes a share of changes visible up to
// 90 s late, refreshing every 5 s (on a fake clock), with the given overlap,
// and returns how the counters differ from ground truth.
var lagShare = 0.4

func lagRun(t *testing.T, overlap time.Duration) (mismatches []string, total int) {
	t.Helper()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	s := newStack(t, simtenant.Config{Seed: 51, RateLimit: -1, Now: clk.Now},
		client.Config{PageSize: 100, HTTPClient: &http.Client{}}, Options{Lookback: testLookback, Overlap: overlap, Wiring: area.Wiring{Now: clk.Now}})
	s.tenant.SeedHistory(1500, 6*time.Hour)
	clk.Advance(time.Second)
	mark := simtest.Truth(s.tenant).Mark()
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.tenant.SetLag(lagShare, 90*time.Second)
	for range 60 {
		for range 3 {
			s.tenant.Step()
		}
		clk.Advance(5 * time.Second)
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	s.tenant.SetLag(0, 0)
	for s.tenant.LagPending() > 0 {
		clk.Advance(5 * time.Second)
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// A change later than the tail is read by the next sweep of the whole
	// overlap, at most DefaultSweepEvery after it shows.
	for end := clk.Now().Add(DefaultSweepEvery); !clk.Now().After(end); clk.Advance(5 * time.Second) {
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return truthMismatches(s.gather(t), simtest.Truth(s.tenant).TruthSince(mark))
}

// Changes that ISC makes visible after their modified time are counted
// exactly with the default overlap; without it they are lost, which is what
// the overlap is for.
func TestLateVisibleChangesNeedTheOverlap(t *testing.T) {
	race.SkipVolume(t)
	t.Parallel()
	mismatches, total := lagRun(t, 5*time.Minute)
	for _, m := range mismatches {
		t.Error(m)
	}
	if total < 200 {
		t.Fatalf("only %d completions; the run proves little", total)
	}
	lost, _ := lagRun(t, 0)
	if len(lost) == 0 {
		t.Fatal("without an overlap the late changes should be missed, yet the counters match: the test proves nothing")
	}
	t.Logf("%d completions exact with a 5m overlap; without it %d series differ, e.g. %s", total, len(lost), lost[0])
}

// The rule runs on ISC's clock, taken from the Date headers of its answers:
// whether the host's clock is two minutes ahead of ISC's or behind it, the
// counters equal ground truth exactly.
func TestCountingFollowsISCsClock(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{2 * time.Minute, -2 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			t.Parallel()
			s := newStack(t, simtenant.Config{Seed: 52, RateLimit: -1, ClockOffset: offset}, client.Config{PageSize: 100}, Options{Lookback: testLookback})
			s.tenant.SeedHistory(1500, time.Hour) // completions up to this instant, on the tenant's clock
			time.Sleep(1100 * time.Millisecond)   // a real second passes: nothing completes in the second before the start
			mark := simtest.Truth(s.tenant).Mark()
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			for range 20 {
				for range 5 {
					s.tenant.Step()
				}
				if err := s.refresher.Refresh(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			mismatches, total := truthMismatches(s.gather(t), simtest.Truth(s.tenant).TruthSince(mark))
			for _, m := range mismatches {
				t.Error(m)
			}
			if total < 30 {
				t.Fatalf("only %d completions; the run proves little", total)
			}
			if off, ok := s.refresher.source.(interface {
				ClockOffset() (time.Duration, bool)
			}).ClockOffset(); !ok || (off-offset).Abs() > 1500*time.Millisecond {
				t.Fatalf("measured offset %v (%v), the tenant's is %v", off, ok, offset)
			}
		})
	}
}

// With the overlap, a steady-state refresh costs ceil((changed since the
// last refresh + modified within the overlap before it) / page size) list
// requests, plus at most one: the last page must come back short.
func TestSteadyStateRequestsWithOverlap(t *testing.T) {
	t.Parallel()
	tests := []struct{ inOverlap, changed int }{{0, 0}, {0, 100}, {200, 0}, {200, 100}, {300, 300}, {600, 1}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("overlap=%d,changed=%d", tt.inOverlap, tt.changed), func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
			s := newStack(t, simtenant.Config{Seed: 53, RateLimit: -1, Now: clk.Now, EdgeCases: simtenant.EdgeCases{Off: true}},
				client.Config{HTTPClient: &http.Client{}}, Options{Lookback: testLookback, Overlap: 5 * time.Minute, Wiring: area.Wiring{Now: clk.Now}})
			ids := s.tenant.BulkRefresh(1000)
			clk.Advance(10 * time.Minute) // the history is out of the overlap
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			touch := func(ids []string) {
				for _, id := range ids {
					s.tenant.Modify(id, func(*simtenant.Activity) {})
					clk.Advance(time.Millisecond)
				}
			}
			touch(ids[:tt.inOverlap])
			clk.Advance(time.Minute)
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			touch(ids[tt.inOverlap : tt.inOverlap+tt.changed])
			clk.Advance(time.Minute)
			before := s.lists()
			if err := s.refresher.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			requests := s.lists() - before
			limit := (tt.inOverlap+tt.changed+249)/250 + 1
			if requests > limit || requests < 1 {
				t.Fatalf("%d list requests, want at most %d", requests, limit)
			}
		})
	}
}

// lists counts the list requests the tenant answered 200.
func (s *stack) lists() int {
	n := 0
	for _, r := range s.tenant.Requests() {
		if r.Endpoint == "list" && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}
