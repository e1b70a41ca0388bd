package outage

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A streak says its first failure and each change of kind, not repeats;
// its end reports the failures it held and how long it lasted.
func TestStreak(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		fail    string // a failure of this kind; "" recovers
		presaid string // said elsewhere before this step
		say     bool
		count   int // after the step; for a recovery, what it reports
		lasted  time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one outage", []step{{fail: "other", say: true, count: 1}, {fail: "other", count: 2}, {fail: "other", count: 3}, {count: 3, lasted: 3 * time.Minute}}},
		{"a change of kind is said", []step{{fail: "other", say: true, count: 1}, {fail: "forbidden", say: true, count: 2}, {fail: "forbidden", count: 3}, {fail: "other", say: true, count: 4}}},
		{"said elsewhere first", []step{{presaid: "other", fail: "other", count: 1}, {fail: "credentials", say: true, count: 2}}},
		{"said elsewhere, another kind", []step{{presaid: "other", fail: "credentials", say: true, count: 1}}},
		{"a recovery without an outage says nothing", []step{{count: 0}, {fail: "other", say: true, count: 1}}},
		{"after a recovery the same kind is said again", []step{{fail: "other", say: true, count: 1}, {count: 1, lasted: time.Minute}, {fail: "other", say: true, count: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Streak
			now := t0
			for i, st := range tt.steps {
				if st.presaid != "" {
					s.SaidElsewhere(st.presaid)
				}
				if st.fail == "" {
					failures, lasted := s.Recover(now)
					if failures != st.count || lasted != st.lasted || s.Failing() {
						t.Fatalf("step %d: recovery reports %d failures over %v (failing %v), want %d over %v", i, failures, lasted, s.Failing(), st.count, st.lasted)
					}
				} else {
					if say := s.Fail(now, st.fail); say != st.say || s.Count() != st.count || !s.Since().Equal(t0) && i == 0 {
						t.Fatalf("step %d: say %v count %d since %v, want say %v count %d", i, say, s.Count(), s.Since(), st.say, st.count)
					}
				}
				now = now.Add(time.Minute)
			}
		})
	}
}

// FailLogged leaves the first failure of a kind to its caller and logs a
// repeat at debug level, with the error, the retry period, the failures so
// far and the streak's start.
func TestFailLogged(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	var s Streak
	attrs := Attrs(errors.New("ISC answered HTTP 503"), time.Minute)
	for i, want := range []bool{true, false, false} {
		if say := s.FailLogged(logger, t0.Add(time.Duration(i)*time.Minute), "other", "reading failed again", attrs...); say != want {
			t.Fatalf("failure %d: say %v, want %v", i+1, say, want)
		}
	}
	if !s.FailLogged(logger, t0.Add(3*time.Minute), "forbidden", "reading failed again", Attrs(errors.New("HTTP 403"), 0)...) {
		t.Fatal("a new kind should be said by the caller")
	}
	want := `level=DEBUG msg="reading failed again" err="ISC answered HTTP 503" retry_every=1m0s failures=2 since=2026-12-07T10:00:00.000Z
level=DEBUG msg="reading failed again" err="ISC answered HTTP 503" retry_every=1m0s failures=3 since=2026-12-07T10:00:00.000Z
`
	if got := buf.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
	if len(attrs) != 4 || strings.Contains(buf.String(), "forbidden") {
		t.Errorf("the caller's attributes changed (%v), or a failure to say was logged", attrs)
	}
}
