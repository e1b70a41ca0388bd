package activities

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/sailpoint-exporter/sailpoint_exporter/area"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

const testLookback = 24 * time.Hour

// exposition renders what a collector serves, for comparing two of them.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// withoutRefreshStatus drops the series that describe the refreshes (up,
// duration, last success, the lateness they saw), which move on whatever
// the state file holds.
func withoutRefreshStatus(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "sailpoint_up") || strings.Contains(line, "sailpoint_refresh_duration_seconds") || strings.Contains(line, "sailpoint_last_refresh_success") ||
			strings.Contains(line, "sailpoint_refresh_held_back") || strings.Contains(line, "sailpoint_activities_late_seconds") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// gaugeValue is the value of a metric without labels in reg.
func gaugeValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return value(mf.GetMetric()[0])
		}
	}
	t.Fatalf("%s is not served", name)
	return 0
}

func openState(t *testing.T, path string, id state.Identity, reg prometheus.Registerer, logger *slog.Logger) *state.File {
	t.Helper()
	sf, err := state.Open(path, id, reg, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sf.Close() })
	return sf
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A refresher restored from the state file serves what the one that wrote
// it served, and from then on counts exactly as if it had never stopped.
func TestRestoredRefresherContinuesExactly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	id := state.Identity{URL: "https://acme.api.identitynow.com", ClientID: simClientID}
	s := newStack(t, simtenant.Config{Seed: 21, RateLimit: -1}, client.Config{PageSize: 100},
		Options{Lookback: testLookback, Wiring: area.Wiring{State: openState(t, path, id, prometheus.NewRegistry(), nil)}})
	s.tenant.SeedHistory(1500, 20*time.Hour)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		s.tenant.Step()
	}
	s.tenant.BulkRefresh(300)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	written := exposition(t, s.refresher.Collector())
	if !strings.Contains(written, "sailpoint_account_activities_completed_total{") {
		t.Fatal("nothing was counted; the test proves little")
	}

	// A second refresher on the same tenant, restored from a copy of the
	// file (one state file has one writer: the first keeps its own).
	copyPath := filepath.Join(dir, "copy")
	copyFile(t, path, copyPath)
	reg := prometheus.NewRegistry()
	again := NewRefresher(s.refresher.source, Options{Lookback: testLookback, Wiring: area.Wiring{State: openState(t, copyPath, id, reg, nil)}})
	if !again.Ready() || gaugeValue(t, reg, "sailpoint_state_restored") != 1 {
		t.Fatal("a restored refresher should be ready and say it was restored")
	}
	if got := exposition(t, again.Collector()); withoutRefreshStatus(got) != withoutRefreshStatus(written) {
		t.Fatalf("restored refresher serves\n%s\nthe writer served\n%s", got, written)
	}
	if again.cursor != s.refresher.cursor || again.tracker.countFrom != s.refresher.tracker.countFrom || !again.primed ||
		!again.status.LastSuccess.Equal(s.refresher.status.LastSuccess.Truncate(time.Millisecond)) {
		t.Fatalf("restored position %+v from %d primed %v, want %+v from %d primed", again.cursor, again.tracker.countFrom, again.primed, s.refresher.cursor, s.refresher.tracker.countFrom)
	}

	// Both go on from the same position and keep counting alike.
	for range 40 {
		s.tenant.Step()
	}
	for _, r := range []*Refresher{s.refresher, again} {
		if err := r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	a, b := exposition(t, s.refresher.Collector()), exposition(t, again.Collector())
	if withoutRefreshStatus(a) != withoutRefreshStatus(b) {
		t.Fatalf("after one more refresh the restored refresher serves\n%s\nthe original\n%s", b, a)
	}
	if a == written {
		t.Fatal("the last refresh counted nothing new; the test proves little")
	}
}

// A write that fails leaves the counters at what the file holds; the next
// write that works publishes them.
func TestCountersNeverRunAheadOfTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	reg := prometheus.NewRegistry()
	sf := openState(t, path, state.Identity{URL: "https://x", ClientID: simClientID}, reg, nil)
	s := newStack(t, simtenant.Config{Seed: 22, RateLimit: -1}, client.Config{}, Options{Lookback: testLookback, Wiring: area.Wiring{State: sf}})
	s.tenant.SeedHistory(200, time.Hour)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := exposition(t, s.refresher.Collector())

	// A directory where the file should be: the rename over it fails.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.tenant.BulkRefresh(50)
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := exposition(t, s.refresher.Collector()); withoutRefreshStatus(got) != withoutRefreshStatus(before) {
		t.Fatalf("after a failed write the counters moved:\n%s\nbefore:\n%s", got, before)
	}
	failures := 0.0
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "sailpoint_state_writes_total" && m.GetLabel()[0].GetValue() == "failure" {
				failures = m.GetCounter().GetValue()
			}
		}
	}
	if failures != 1 {
		t.Fatalf("failed writes = %v, want 1", failures)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("a failed write left its temporary file: %v", err)
	}

	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := s.refresher.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := exposition(t, s.refresher.Collector())
	if after == before || !strings.Contains(after, `type="Identity Refresh"`) {
		t.Fatalf("once writes work again the bulk refresh should be counted:\n%s", after)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
}

// sectionOf encodes the activities section of r as the state file would.
func sectionOf(t *testing.T, r *Refresher) []byte { return encoded(t, r) }

// lateSectionOf encodes r's SectionLate as the state file would.
func lateSectionOf(t *testing.T, r *Refresher) []byte { return encoded(t, lateSection{r}) }

func encoded(t *testing.T, s state.Section) []byte {
	t.Helper()
	var out []byte
	e := state.NewEncoder(func(b []byte) error { out = append(out, b...); return nil })
	if err := s.EncodeState(e); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fullHistory is a scripted history that gives every field of the tracker
// and of the position a value that is not its zero.
func fullHistory(t *testing.T) *Refresher {
	t.Helper()
	long := strings.Repeat("x", 200) // a type cut to 128 bytes
	r := run(t, testLookback, 3, 8, []step{
		{apply: []client.Activity{
			act("a", "appRequest", "", "EXECUTING", at(0), at(0), never, item("PENDING", "ADD", "s")),
			act("2c9180835d2e5168015d32f890ca1581", "Identity Refresh", "", "PENDING", at(-time.Hour), at(0), never, item("PENDING", "REMOVE", "t")),
		}},
		{advance: time.Minute, apply: []client.Activity{
			act("a", "appRequest", "FAILURE", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FAILED", "ADD", "s")),
			act("b", long, "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute)),
			act("c", "overflows", "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute)),
			act("d", "one too many", "SUCCESS", "COMPLETED", at(0), at(time.Minute), at(time.Minute)),
		}},
	})
	r.tracker.errors[r.tracker.labels.typ.Lookup("appRequest")] = 3
	r.tracker.warnings[r.tracker.labels.typ.Lookup("appRequest")] = 2
	r.tracker.reject(&client.Rejection{Reason: client.RejectMalformed, Key: "sha256:abc"})
	r.cursor = client.Cursor{Modified: at(time.Minute).Add(123456 * time.Nanosecond), Offset: 3, After: true}
	r.readSince, r.primed, r.started = at(30*time.Second), true, true
	r.tailSince, r.sweepSince = at(20*time.Second), at(10*time.Second)
	r.late.observe(at(30*time.Second), 1500*time.Millisecond)
	r.late.observe(at(-time.Hour), 7*time.Second)
	r.status.LastSuccess = at(time.Minute).Truncate(time.Millisecond)
	r.tracker.Sweep()
	r.store()
	return r
}

// notZero fails for each field of v (a struct) that holds its zero value:
// a field added to the model must be given a value by the fixture, and so
// be checked by the round trip.
func notZero(t *testing.T, what string, v reflect.Value, skip ...string) {
	t.Helper()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if !slicesContains(skip, name) && v.Field(i).IsZero() {
			t.Errorf("%s.%s is zero in the fixture: give it a value so that the round trip checks it", what, name)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Every field of the activities' section survives a write and a read:
// the position, every label table, shape, counter, histogram, exemplar,
// rejection and tracked activity. The test fails when a field is added to
// the tracker or the position but not to the file.
func TestStateRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	r := fullHistory(t)
	notZero(t, "tracker", reflect.ValueOf(*r.tracker),
		"scratch", // a buffer reused while applying a page: nothing to keep
	)
	p := r.position()
	notZero(t, "resumable", reflect.ValueOf(p))

	body := sectionOf(t, r)
	got, gp, err := decodeState(body, newTracker(testLookback, 3, 8, r.tracker.now, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeLate(lateSectionOf(t, r), &gp); err != nil {
		t.Fatal(err)
	}
	gp.lastSuccess, p.lastSuccess = gp.lastSuccess.UTC(), p.lastSuccess.UTC() // the same instant
	if !reflect.DeepEqual(gp, p) {
		t.Errorf("position %+v, wrote %+v", gp, p)
	}
	want, gotV := reflect.ValueOf(r.tracker).Elem(), reflect.ValueOf(got).Elem()
	for i := range want.NumField() {
		f := want.Type().Field(i)
		switch f.Name {
		case "now", "scratch", "descs":
			continue // the clock and the series' descriptions are the process's; the buffer is scratch
		case "shapes":
			a, b := *r.tracker.shapes, *got.shapes
			a.key, b.key = nil, nil // scratch
			if !reflect.DeepEqual(a, b) {
				t.Errorf("tracker.shapes differ after the round trip:\n got %#v\nwant %#v", b, a)
			}
			continue
		case "labels":
			for j, l := range r.tracker.labels.all() {
				g := got.labels.all()[j]
				if !reflect.DeepEqual(l.All(), g.All()) || l.Truncated() != g.Truncated() || l.Max() != g.Max() {
					t.Errorf("label table %s: %v (%d cut), wrote %v (%d cut)", labelNames[j], g.All(), g.Truncated(), l.All(), l.Truncated())
				}
			}
			continue
		}
		if g, w := field(gotV, i), field(want, i); !reflect.DeepEqual(g, w) {
			t.Errorf("tracker.%s differs after the round trip:\n got %#v\nwant %#v", f.Name, g, w)
		}
	}
	// And what it serves is the same.
	again := NewRefresher(nil, Options{Lookback: testLookback, MaxTypes: 3, MaxSources: 8, Wiring: area.Wiring{Now: r.opts.Now}})
	got.descs = again.tracker.descs
	again.tracker = got
	again.store()
	if a, b := exposition(t, r.Collector()), exposition(t, again.Collector()); withoutRefreshStatus(a) != withoutRefreshStatus(b) {
		t.Fatalf("served after the round trip:\n%s\nbefore:\n%s", b, a)
	}
}

// field is the value of field i of the addressable struct v, unexported
// or not.
func field(v reflect.Value, i int) any {
	f := v.Field(i)
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
}

// rawSection is a section written as given, to forge files.
type rawSection []byte

func (s rawSection) EncodeState(e *state.Encoder) error { e.Raw(s); return nil }

// fileWith writes a valid state file whose activities section is body.
func fileWith(t *testing.T, id state.Identity, body []byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "forged")
	sf := openState(t, path, id, prometheus.NewRegistry(), nil)
	sf.Attach(state.SectionActivities, rawSection(body))
	if err := sf.Write(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// An activities section that cannot be used (another lookback, a body that
// does not decode although the file's checksum holds) is discarded with one
// line naming the reason; the refresher starts afresh and serves nothing of
// it. The file-level cases are state's own tests.
func TestBadActivitiesSections(t *testing.T) {
	t.Parallel()
	id := state.Identity{URL: "https://acme.api.identitynow.com", ClientID: "client-a"}
	good := sectionOf(t, fullHistory(t))
	tests := []struct {
		name     string
		lookback time.Duration
		body     []byte
		says     string
		sentinel error
	}{
		{"another lookback", 48 * time.Hour, good, `reason="written with --activities.lookback=24h0m0s, this run uses 48h0m0s"`, state.ErrSettings},
		{"corrupt body", testLookback, good[:len(good)-5], `reason="corrupt state: unexpected end at byte `, state.ErrCorrupt},
		{"label index out of range", testLookback, func() []byte {
			b := append([]byte(nil), good...)
			// The last entry's type index is 7 bytes before the end.
			binary.LittleEndian.PutUint16(b[len(b)-7:], 999)
			return b
		}(), `reason="corrupt state: label index out of range at byte `, state.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := decodeState(tt.body, newTracker(tt.lookback, 3, 8, time.Now, nil)); !errors.Is(err, tt.sentinel) {
				t.Fatalf("decodeState: %v, want one matching %v", err, tt.sentinel)
			}
			path := filepath.Join(t.TempDir(), "state")
			if err := os.WriteFile(path, fileWith(t, id, tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			reg := prometheus.NewRegistry()
			r := NewRefresher(nil, Options{Lookback: tt.lookback, MaxTypes: 3, MaxSources: 8, Wiring: area.Wiring{State: openState(t, path, id, reg, logger), Logger: logger}})
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], tt.says) ||
				!strings.Contains(lines[0], "file="+path) || !strings.Contains(lines[0], "section=activities") {
				t.Fatalf("logged %q, want one WARN line with file=%s, section=activities and %s", logs.String(), path, tt.says)
			}
			if r.started || r.Ready() || r.tracker.entries.Len() != 0 || gaugeValue(t, reg, "sailpoint_state_restored") != 0 {
				t.Fatal("a refresher that could not resume must start afresh, not ready before its first refresh")
			}
			if got := exposition(t, r.Collector()); strings.TrimSpace(withoutRefreshStatus(got)) != "" || !strings.Contains(got, "sailpoint_up 0") {
				t.Fatalf("half-loaded state served, or no sailpoint_up 0:\n%s", got)
			}
			if kept, _ := filepath.Glob(path + ".corrupt-*"); len(kept) != 1 || !strings.Contains(lines[0], "kept_as="+kept[0]) {
				t.Fatalf("a copy of the file should be kept aside: %v; %s", kept, lines[0])
			}
		})
	}
}

// A state file written before the file had sections (format 1) resumes
// the activities exactly.
func TestFormatOneFileResumes(t *testing.T) {
	t.Parallel()
	r := fullHistory(t)
	body := sectionOf(t, r)
	// Format 1: the prefix, then url, client id, lookback, written at and
	// the body without its lookback.
	id := state.Identity{URL: "https://acme.api.identitynow.com", ClientID: "client-a"}
	var rest []byte
	e := state.NewEncoder(func(b []byte) error { rest = append(rest, b...); return nil })
	e.Str(id.URL)
	e.Str(id.ClientID)
	e.Raw(body[:8]) // the lookback
	e.I64(time.Now().UnixMilli())
	e.Raw(body[8:])
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(path, formatOne(rest), 0o600); err != nil {
		t.Fatal(err)
	}
	again := NewRefresher(nil, Options{Lookback: testLookback, MaxTypes: 3, MaxSources: 8,
		Wiring: area.Wiring{Now: r.opts.Now, State: openState(t, path, id, prometheus.NewRegistry(), nil)}})
	if !again.Ready() || again.cursor != r.cursor {
		t.Fatalf("not resumed from a format 1 file: ready %v cursor %+v", again.Ready(), again.cursor)
	}
	if a, b := exposition(t, r.Collector()), exposition(t, again.Collector()); withoutRefreshStatus(a) != withoutRefreshStatus(b) {
		t.Fatalf("resumed from format 1:\n%s\nwritten:\n%s", b, a)
	}
}
