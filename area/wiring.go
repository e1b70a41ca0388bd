package area

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

// Wiring is how an area's Refresher is plugged into its tenant: the state
// file, the shared counter families, the tenant's labels, the logger and the
// two clocks. Every area that counts takes the same six, with the same
// defaults, so they are declared and defaulted here, once; an area's
// Options embeds a Wiring next to the settings of its own.
type Wiring struct {
	// State, when set, persists what the rule counted before each
	// publication; the Refresher resumes from its section at NewRefresher.
	State *state.File
	// Shared, when set, are the counter families the Refresher adds to
	// with the other areas that read records (rejected records, label
	// overflows and truncations); nil: it serves its own in Collector.
	Shared *Shared
	// ConstLabels are carried by every series (the tenant's name).
	ConstLabels prometheus.Labels
	// Logger receives the area's log lines. Default: they are discarded.
	Logger *slog.Logger
	// Now is the host's clock: durations and the last success. Default
	// time.Now.
	Now func() time.Time
	// ISCNow is ISC's clock, for the counting rule. Default: when Now is
	// not set either, the reader's when it keeps one (an ISCClock); else
	// Now, so that a test that sets Now alone runs the rule on that clock.
	ISCNow func() time.Time
}

// ISCClock is a reader of ISC that tells ISC's time from its answers (the
// ISC client). A counting rule compares ISC's timestamps with "now", so its
// now is ISC's: on the host's clock, a host two minutes ahead would skip
// every completion of the first two minutes, and one behind would count
// completions from before the exporter started.
type ISCClock interface {
	Now() time.Time
	// SyncClock makes sure Now has heard from ISC at least once.
	SyncClock(ctx context.Context) error
}

// DefaultWiring sets what w leaves unset to its default (see the fields);
// reader is what the area reads ISC through, whose clock becomes ISCNow when
// it is an ISCClock and neither clock is set.
func (w *Wiring) DefaultWiring(reader any) {
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.ISCNow == nil {
		if c, ok := reader.(ISCClock); ok && w.Now == nil {
			w.ISCNow = c.Now
		}
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.ISCNow == nil {
		w.ISCNow = w.Now
	}
}
