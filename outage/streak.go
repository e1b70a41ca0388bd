// Package outage tells an outage once: when it starts, when its kind
// changes, when it ends.
package outage

import (
	"log/slog"
	"slices"
	"time"
)

// Streak is one outage as the logs tell it: its first failure is said, and
// so is each change of its kind (a refused scope after timeouts needs other
// advice); repeats of the same kind are not. Its end is said once, with how
// many failures it held and for how long: an hour of failures at one
// refresh a minute is two log lines, not sixty. Every area's refreshes, the
// state file's writes and ISC's odd answers share it.
//
// The zero value is a streak that has not begun. It is not safe for
// concurrent use: its owner's single refresh holds it.
type Streak struct {
	since time.Time // first failure; zero while none
	count int
	said  string // kind of the last failure said
}

// Fail records a failure of kind at now and reports whether to say it: the
// first of the streak, or the first of another kind than the last said.
func (s *Streak) Fail(now time.Time, kind string) (say bool) {
	if s.count == 0 {
		s.since = now
	}
	s.count++
	if kind == s.said {
		return false
	}
	s.said = kind
	return true
}

// SaidElsewhere records that kind was said before the streak's first
// failure (by a watchdog, say), so that a failure of that kind is not
// said again.
func (s *Streak) SaidElsewhere(kind string) {
	if s.count == 0 {
		s.said = kind
	}
}

// Failing reports whether a streak is under way.
func (s *Streak) Failing() bool { return s.count > 0 }

// Count is how many failures the streak holds so far.
func (s *Streak) Count() int { return s.count }

// Since is when the streak's first failure was recorded.
func (s *Streak) Since() time.Time { return s.since }

// Recover ends the streak and reports how many failures it held (0: there
// was none, nothing to say) and how long it lasted until now.
func (s *Streak) Recover(now time.Time) (failures int, lasted time.Duration) {
	failures, lasted = s.count, now.Sub(s.since)
	*s = Streak{}
	if failures == 0 {
		lasted = 0
	}
	return failures, lasted
}

// FailLogged is Fail for a caller that logs the failure: one not to be
// said (a repeat of the kind said last) is logged here at debug level as
// again, with attrs, the streak's failures so far and its start. It reports
// whether the caller says the failure, with the advice its kind needs.
func (s *Streak) FailLogged(logger *slog.Logger, now time.Time, kind, again string, attrs ...any) (say bool) {
	if s.Fail(now, kind) {
		return true
	}
	logger.Debug(again, slices.Concat(attrs, []any{"failures", s.count, "since", s.since})...)
	return false
}

// Attrs are a failed read's log attributes: its error and, for a read
// that is tried again periodically (retryEvery > 0), how often.
func Attrs(err error, retryEvery time.Duration) []any {
	if retryEvery > 0 {
		return []any{"err", err, "retry_every", retryEvery}
	}
	return []any{"err", err}
}
