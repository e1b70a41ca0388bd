package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
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
// duration, last success), which move on whatever the state file holds.
func withoutRefreshStatus(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "sailpoint_up") || strings.Contains(line, "sailpoint_refresh_duration_seconds") || strings.Contains(line, "sailpoint_last_refresh_success") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// A refresher restored from the state file serves what the one that wrote
// it served, and from then on counts exactly as if it had never stopped.
func TestRestoredRefresherContinuesExactly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	newState := func(reg prometheus.Registerer) *StateFile {
		sf, err := OpenStateFile(path, StateIdentity{URL: "https://acme.api.identitynow.com", ClientID: simClientID, Lookback: testLookback}, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sf
	}
	s := newStack(t, simtenant.Config{Seed: 21, RateLimit: -1}, client.Config{PageSize: 100}, Options{Lookback: testLookback, State: newState(prometheus.NewRegistry())})
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

	// A second refresher on the same tenant, restored from the file.
	reg := prometheus.NewRegistry()
	again := NewRefresher(s.refresher.source, Options{Lookback: testLookback, State: newState(reg)})
	if err := again.Restore(); err != nil {
		t.Fatal(err)
	}
	if !again.Ready() || testutil.ToFloat64(again.opts.State.restored) != 1 {
		t.Fatal("a restored refresher should be ready and say it was restored")
	}
	if got := exposition(t, again.Collector()); withoutRefreshStatus(got) != withoutRefreshStatus(written) {
		t.Fatalf("restored refresher serves\n%s\nthe writer served\n%s", got, written)
	}
	if again.cursor != s.refresher.cursor || again.tracker.countFrom != s.refresher.tracker.countFrom || !again.primed ||
		!again.status.lastSuccess.Equal(s.refresher.status.lastSuccess.Truncate(time.Millisecond)) {
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
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	reg := prometheus.NewRegistry()
	sf, err := OpenStateFile(path, StateIdentity{URL: "https://x", ClientID: simClientID, Lookback: testLookback}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, simtenant.Config{Seed: 22, RateLimit: -1}, client.Config{}, Options{Lookback: testLookback, State: sf})
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
	if n := testutil.ToFloat64(sf.writes.WithLabelValues("failure")); n != 1 {
		t.Fatalf("failed writes = %v, want 1", n)
	}
	if _, err := os.Stat(sf.tmp); !os.IsNotExist(err) {
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

// stateBytes returns a valid state file for id, from a small scripted
// history.
func stateBytes(t *testing.T, id StateIdentity) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state")
	sf, err := OpenStateFile(path, id, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, id.Lookback, 8, 8, []step{
		{apply: []client.Activity{act("a", "appRequest", "", "EXECUTING", at(0), at(0), never, item("PENDING", "ADD", "s"))}},
		{advance: time.Minute, apply: []client.Activity{act("a", "appRequest", "FAILURE", "COMPLETED", at(0), at(time.Minute), at(time.Minute), item("FAILED", "ADD", "s"))}},
	})
	if err := sf.write(r.tracker, r.position()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// resealed returns raw with its body replaced by f(body) and the length and
// checksum made right again: a file that is intact but says something wrong.
func resealed(raw []byte, f func([]byte) []byte) []byte {
	out := append([]byte(nil), raw[:statePrefixLen]...)
	rest := f(append([]byte(nil), raw[statePrefixLen:]...))
	binary.LittleEndian.PutUint64(out[12:], uint64(len(rest)))
	sum := sha256.Sum256(rest)
	copy(out[20:], sum[:])
	return append(out, rest...)
}

func TestBadStateFiles(t *testing.T) {
	id := StateIdentity{URL: "https://acme.api.identitynow.com", ClientID: "client-a", Lookback: testLookback}
	good := stateBytes(t, id)
	tests := []struct {
		name    string
		content []byte // nil: no file
		id      StateIdentity
		level   string
		says    string
	}{
		{"missing", nil, id, "INFO", `msg="no state file yet: counting starts with a first pass over the lookback"`},
		{"empty", []byte{}, id, "WARN", `reason="truncated: 0 bytes, shorter than the header"`},
		{"truncated header", good[:30], id, "WARN", `reason="truncated: 30 bytes, shorter than the header"`},
		{"truncated body", good[:len(good)-7], id, "WARN", "reason=\"truncated: "},
		{"trailing bytes", append(append([]byte(nil), good...), 0), id, "WARN", `reason="corrupt: 1 bytes after the end"`},
		{"flipped byte", func() []byte { b := append([]byte(nil), good...); b[len(b)-3] ^= 0x40; return b }(), id, "WARN", `reason="checksum mismatch: the file is corrupt"`},
		{"another file", []byte("# HELP up\nnot a state file at all, but long enough to have a header\n"), id, "WARN", `reason="not a state file of this exporter"`},
		{"unknown version", func() []byte { b := append([]byte(nil), good...); binary.LittleEndian.PutUint32(b[8:], 99); return b }(), id, "WARN", `reason="format version 99, this exporter reads version 1"`},
		{"another tenant", good, StateIdentity{URL: "https://other.api.identitynow.com", ClientID: "client-a", Lookback: testLookback}, "WARN",
			`reason="written for another tenant (https://acme.api.identitynow.com), not https://other.api.identitynow.com"`},
		{"another client id", good, StateIdentity{URL: id.URL, ClientID: "client-b", Lookback: testLookback}, "WARN",
			`reason="written for another client id (client-a), not client-b"`},
		{"another lookback", good, StateIdentity{URL: id.URL, ClientID: "client-a", Lookback: 48 * time.Hour}, "WARN",
			`reason="written with --activities.lookback=24h0m0s, this run uses 48h0m0s"`},
		{"corrupt body, valid checksum", resealed(good, func(b []byte) []byte { return b[:len(b)-5] }), id, "WARN", `reason="corrupt state: unexpected end at byte `},
		{"label index out of range", resealed(good, func(b []byte) []byte {
			// The last entry's type index is 13 bytes before the end.
			binary.LittleEndian.PutUint16(b[len(b)-7:], 999)
			return b
		}), id, "WARN", `reason="corrupt state: label index out of range at byte `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state")
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			sf, err := OpenStateFile(path, tt.id, prometheus.NewRegistry(), logger)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRefresher(nil, Options{Lookback: tt.id.Lookback, State: sf, Logger: logger})
			if err := r.Restore(); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "level="+tt.level) || !strings.Contains(lines[0], tt.says) || !strings.Contains(lines[0], "file="+path) {
				t.Fatalf("logged %q, want one %s line with file=%s and %s", logs.String(), tt.level, path, tt.says)
			}
			if r.started || r.Ready() || r.tracker.entries.len() != 0 || testutil.ToFloat64(sf.restored) != 0 {
				t.Fatal("a refresher that could not resume must start afresh, not ready before its first refresh")
			}
			if got := exposition(t, r.Collector()); got != "" {
				t.Fatalf("half-loaded state served:\n%s", got)
			}
			kept, _ := filepath.Glob(path + ".corrupt-*")
			if tt.content == nil {
				if len(kept) != 0 {
					t.Fatalf("kept %v of a file that did not exist", kept)
				}
				return
			}
			if len(kept) != 1 || !strings.Contains(lines[0], "kept_as="+kept[0]) {
				t.Fatalf("bad file kept as %v; the line says %s", kept, lines[0])
			}
			if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, tt.content) {
				t.Fatal("the file kept aside is not the bad file")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("the bad file is still in place: %v", err)
			}
		})
	}
}

// A directory that cannot be written refuses the state file at once.
func TestStateDirectoryMustBeWritable(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "missing", "state"),
		"/proc/sailpoint-state", // not writable even by root
	} {
		_, err := OpenStateFile(path, StateIdentity{}, prometheus.NewRegistry(), nil)
		if err == nil || !strings.Contains(err.Error(), "the state file's directory "+filepath.Dir(path)+" cannot be written") {
			t.Errorf("%s: err = %v", path, err)
		}
	}
}
