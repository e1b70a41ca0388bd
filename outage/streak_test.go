package outage

import (
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
