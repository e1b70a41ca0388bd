package area

import (
	"context"
	"testing"
	"time"
)

// clockReader is a reader of ISC that keeps ISC's clock.
type clockReader struct{ at time.Time }

func (c clockReader) Now() time.Time                { return c.at }
func (clockReader) SyncClock(context.Context) error { return nil }

// The defaults every area's Options had before Wiring: ISC's clock is the
// reader's only when neither clock is set; a Now set alone is both clocks.
func TestDefaultWiring(t *testing.T) {
	isc := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	host := isc.Add(time.Hour)
	other := isc.Add(2 * time.Hour)
	hostNow := func() time.Time { return host }
	otherNow := func() time.Time { return other }
	for _, tc := range []struct {
		name        string
		w           Wiring
		reader      any
		now, iscNow time.Time // zero: the host's real clock
	}{
		{name: "reader keeps a clock", reader: clockReader{isc}, iscNow: isc},
		{name: "reader keeps a clock, Now set", w: Wiring{Now: hostNow}, reader: clockReader{isc}, now: host, iscNow: host},
		{name: "ISCNow set", w: Wiring{ISCNow: otherNow}, reader: clockReader{isc}, iscNow: other},
		{name: "both set", w: Wiring{Now: hostNow, ISCNow: otherNow}, reader: clockReader{isc}, now: host, iscNow: other},
		{name: "reader without a clock", reader: struct{}{}},
		{name: "no reader", w: Wiring{Now: hostNow}, now: host, iscNow: host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w
			w.DefaultWiring(tc.reader)
			if w.Logger == nil || w.Now == nil || w.ISCNow == nil {
				t.Fatalf("left unset: %+v", w)
			}
			check := func(what string, got, want time.Time) {
				t.Helper()
				if want.IsZero() {
					if d := time.Since(got); d < 0 || d > time.Minute {
						t.Errorf("%s = %v, want the host's clock", what, got)
					}
				} else if !got.Equal(want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("Now", w.Now(), tc.now)
			check("ISCNow", w.ISCNow(), tc.iscNow)
		})
	}
}
