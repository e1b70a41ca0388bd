package activities

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
)

// streamRun is a refresher following a busy tenant whose index shows 30% of
// the changes up to 20 s late, on a fake clock: 20 activities a second
// change (a history of terminal activities, each edited once in turn: ISC's
// late edits, comments, refreshes), and some complete (a Step every two
// seconds: a few start, advance and end), a refresh every second, the
// default 5m overlap.
type streamRun struct {
	s         *stack
	requests  []int // list requests of each refresh of the stream
	mismatch  []string
	completed int
}

const (
	streamTick = 50 * time.Millisecond // an edit each tick: 20 a second
	stepEvery  = 40                    // ticks: a Step every 2 s
	refreshAt  = 20                    // ticks: a refresh every second
)

// lateStream runs the stream for the given time with opts, then stops the
// lag, lets the refresher read what the index still held back and one
// sweep period more, and compares what it counted with ground truth.
func lateStream(t testing.TB, opts Options, stream time.Duration) streamRun {
	t.Helper()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	opts.Lookback, opts.Overlap, opts.Now = testLookback, 5*time.Minute, clk.Now
	s := newStack(t, simtenant.Config{Seed: 57, RateLimit: -1, Now: clk.Now},
		client.Config{HTTPClient: &http.Client{}}, opts)
	// Enough terminal activities that an edit each tick never edits one
	// twice within the overlap (5m) and the stream: 8,000 for the 6 minutes
	// of the test, fewer for the minute of -short.
	edits := int(min(stream, 6*time.Minute) / streamTick)
	s.tenant.SeedHistory(min(8000, edits*5/4+300), 6*time.Hour)
	for range 200 { // a tenant in its stride: activities under way
		s.tenant.Step()
		clk.Advance(stepEvery * streamTick)
	}
	// The activities to edit: terminal ones with a completion time, which
	// an edit does not move.
	var edit []string
	if err := s.refresher.source.Scan(t.Context(), client.Cursor{Modified: clk.Now().Add(-testLookback)}, func(p client.Page) error {
		for _, a := range p.Activities {
			if !a.Completed.IsZero() {
				edit = append(edit, a.ID)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(edit) < edits {
		t.Fatalf("%d activities to edit: an edit each tick would edit one twice within the overlap", len(edit))
	}
	clk.Advance(time.Second)
	mark := simtest.Truth(s.tenant).Mark()
	refresh := func() {
		if err := s.refresher.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	refresh()
	s.tenant.SetLag(0.3, 20*time.Second)
	run := streamRun{s: s}
	for tick := 1; tick <= int(stream/streamTick); tick++ {
		clk.Advance(streamTick)
		s.tenant.Modify(edit[tick%len(edit)], func(*simtenant.Activity) {})
		if tick%stepEvery == 0 {
			s.tenant.Step()
		}
		if tick%refreshAt == 0 {
			before := s.lists()
			refresh()
			run.requests = append(run.requests, s.lists()-before)
		}
	}
	s.tenant.SetLag(0, 0)
	for s.tenant.LagPending() > 0 {
		clk.Advance(time.Second)
		refresh()
	}
	// One sweep period more, at a refresh every 10 s: nothing changes now,
	// so a refresh a second would only repeat the same reads.
	for end := clk.Now().Add(DefaultSweepEvery); !clk.Now().After(end); clk.Advance(10 * time.Second) {
		refresh()
	}
	run.mismatch, run.completed = truthMismatches(s.gather(t), simtest.Truth(s.tenant).TruthSince(mark))
	return run
}

func mean(v []int) float64 {
	sum := 0
	for _, x := range v {
		sum += x
	}
	return float64(sum) / float64(len(v))
}

// A refresh a second on a tenant where 20 activities change a second, 30%
// of the changes shown up to 20 s late: the refreshes read again the tail
// the lateness seen needs, the whole overlap every 5 minutes, and send on
// average at most two list requests each, twice the keyset minimum (one
// page of the 20 changes of a second); every completion is counted exactly
// once.
func TestLateChangesAtTwentyASecond(t *testing.T) {
	race.SkipVolume(t)
	t.Parallel()
	// Six minutes hold a sweep of the whole overlap (every 5m); -short, the
	// loop after each edit, streams one, which learns the lateness and reads
	// the tail again many times.
	length, least := 6*time.Minute, 150
	if testing.Short() {
		length, least = time.Minute, 20
	}
	run := lateStream(t, Options{}, length)
	for _, m := range run.mismatch {
		t.Error(m)
	}
	if run.completed < least {
		t.Fatalf("only %d completions; the run proves little", run.completed)
	}
	r := run.s.refresher
	if tail := tailOf(&r.late, r.opts.ISCNow(), 5*time.Minute); tail < 20*time.Second {
		t.Errorf("tail %v: the lateness of up to 20s was not learned", tail)
	}
	if avg := mean(run.requests); avg > 2 {
		t.Errorf("%.2f list requests a refresh on average, want at most 2 (twice the keyset minimum of 1)", avg)
	}
	t.Logf("%d completions exact; %.2f list requests a refresh, at most %d", run.completed, mean(run.requests), slices.Max(run.requests))
}

// BenchmarkLateStream reports the list requests a refresh sends in that
// stream, over 15 minutes: with the tail and a sweep every 5 minutes (the
// default), and with the whole overlap read again at every refresh (as
// before the tail). It fails if a count differs from ground truth.
func BenchmarkLateStream(b *testing.B) {
	slowBenchmark(b)
	for _, tc := range []struct {
		name  string
		sweep time.Duration
	}{{"tail+sweep=5m", 0}, {"overlap-every-refresh", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			var run streamRun
			for b.Loop() {
				run = lateStream(b, Options{SweepEvery: tc.sweep}, 15*time.Minute)
			}
			if len(run.mismatch) > 0 {
				b.Fatalf("%d series differ from ground truth, e.g. %s", len(run.mismatch), run.mismatch[0])
			}
			b.ReportMetric(mean(run.requests), "requests/refresh")
			b.ReportMetric(mean(run.requests[40:60]), "requests/refresh@50s")
			b.ReportMetric(mean(run.requests[len(run.requests)-60:]), "requests/refresh@last-minute")
			b.ReportMetric(float64(slices.Max(run.requests)), "max-requests/refresh")
			b.ReportMetric(float64(run.completed), "completions")
		})
	}
}
